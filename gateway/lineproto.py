"""Read InfluxDB line protocol back into points: the inverse of `backend.store.base.line_protocol`.

The spool keeps each uplink as the line protocol the store will receive, so the writer only
joins text for InfluxDB. A store that takes `Point`s instead (the embedded SQLite store, test
doubles) gets them from `parse_lines`. Grammar (InfluxDB 1.x reference, as `line_protocol`
writes it): `measurement[,tag=value...] field=value[,field=value...] time`, with `\\` escaping
`,` and ` ` in the measurement, and `,` `=` ` ` `\\` in keys and tag values; field values are
floats, `<int>i`, `true`/`false` or a double-quoted string with `\\"` and `\\\\` escaped.
"""

from __future__ import annotations

from backend.store.base import FieldValue, Point, StoreError

_KEY_ESCAPES = ",= \\"
_MEASUREMENT_ESCAPES = ", "


def _until(line: str, i: int, stops: str, escapes: str = _KEY_ESCAPES) -> tuple[str, int]:
    """Unescaped text from `i` up to the first unescaped char in `stops` (or the end)."""
    out: list[str] = []
    n = len(line)
    while i < n:
        c = line[i]
        if c == "\\" and i + 1 < n and line[i + 1] in escapes:
            out.append(line[i + 1])
            i += 2
            continue
        if c in stops:
            break
        out.append(c)
        i += 1
    return "".join(out), i


def _value(line: str, i: int) -> tuple[FieldValue, int]:
    """One field value starting at `i`; returns it and the index after it."""
    if line.startswith('"', i):
        out: list[str] = []
        i += 1
        while i < len(line) and line[i] != '"':
            if line[i] == "\\" and i + 1 < len(line):
                i += 1
            out.append(line[i])
            i += 1
        if i >= len(line):
            raise StoreError(f"unterminated string field in {line!r}")
        return "".join(out), i + 1
    end = i
    while end < len(line) and line[end] not in ", ":
        end += 1
    text = line[i:end]
    if text in ("true", "false"):
        return text == "true", end
    try:
        if text.endswith("i"):
            return int(text[:-1]), end
        return float(text), end
    except ValueError:
        raise StoreError(f"bad field value {text!r} in {line!r}") from None


def parse_line(line: str) -> Point:
    """One line of line protocol (ms timestamps) as a Point; StoreError if malformed."""
    measurement, i = _until(line, 0, ", ", _MEASUREMENT_ESCAPES)
    tags: dict[str, str] = {}
    while i < len(line) and line[i] == ",":
        key, i = _until(line, i + 1, "=, ")
        if i >= len(line) or line[i] != "=":
            raise StoreError(f"tag without value in {line!r}")
        tags[key], i = _until(line, i + 1, ", ")
    if i >= len(line) or line[i] != " ":
        raise StoreError(f"no fields in {line!r}")
    fields: dict[str, FieldValue] = {}
    sep = " "
    while sep in (" ", ",") and i < len(line) and line[i] == sep:
        key, i = _until(line, i + 1, "= ")
        if i >= len(line) or line[i] != "=":
            raise StoreError(f"field without value in {line!r}")
        fields[key], i = _value(line, i + 1)
        sep = ","
    if i >= len(line) or line[i] != " ":
        raise StoreError(f"no timestamp in {line!r}")
    try:
        time_ms = int(line[i + 1 :])
    except ValueError:
        raise StoreError(f"bad timestamp in {line!r}") from None
    return Point(measurement, tags, fields, time_ms)


def parse_lines(text: str) -> list[Point]:
    """Every non-empty line of `text` as a Point (string fields must not hold a newline)."""
    return [parse_line(line) for line in text.split("\n") if line]
