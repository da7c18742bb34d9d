"""A site's weather forecast from an Open-Meteo-compatible source, cached on disk.

Place in the data path: the forecast job asks :meth:`WeatherFeed.outlook` for each site's
forecast before it computes the irrigation outlook and the soil-moisture forecast; the feed
calls `GET {[weather] url}/v1/forecast` (the Open-Meteo forecast API,
https://open-meteo.com/en/docs; `ruong.openmeteo_local` serves the same contract from the
weather generator for the demo and the tests) and `forecasting.weather_forecast` reads the
answer.

Per site (latitude and longitude rounded to 0.01°, about 1 km, finer than any forecast model's
grid) the raw JSON answer is kept in `[weather] cache_dir` (written to a temporary file and
renamed, so a reader never sees half a file) with the site time it was fetched at:

- a cache younger than `refresh_h` is used without asking the source;
- older, the source is asked; when it fails (connection refused, timeout, an HTTP error, an
  answer that is not JSON or not a forecast) the failure is logged with its reason and
  counted in :attr:`WeatherFeed.failures`, and a cache younger than `max_stale_h` (24 h) is
  used instead; without one the outlook carries the error and no hours, and the caller
  falls back to the no-rain outlook and says so;
- after a failure the site's source is not asked again for `retry_min` minutes of site time,
  so a dead source costs one timeout, not one per field.

Times are the site's clock (`now_ms`, Unix ms): the demo runs on a simulated clock
(`backend.clock`), and a cache "from the future" (a clock set back) counts as stale. The
source URL may carry a query (a commercial key, `?apikey=...`); it is sent, but logs and
errors name only the host.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Self
from urllib.parse import parse_qsl, urlsplit

import httpx

from forecasting.weather_forecast import (
    HOURLY_VARIABLES,
    WeatherError,
    WeatherOutlook,
    empty_hourly,
    parse_open_meteo,
)

if TYPE_CHECKING:
    from backend.config import Settings

log = logging.getLogger(__name__)

FORECAST_DAYS = 4  # today and the next three days: the irrigation outlook's horizon
CACHE_FORMAT = 1


class _RedactQuery(logging.Filter):
    """Strips the query from httpx's "HTTP Request: GET <url>" lines to one endpoint, whose
    query carries a key (`logging.getLogger("httpx")` logs the whole URL at INFO)."""

    def __init__(self, endpoint: str) -> None:
        super().__init__()
        self.endpoint = endpoint

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                f"{self.endpoint}?***"
                if isinstance(a, httpx.URL) and str(a).startswith(self.endpoint + "?")
                else a
                for a in record.args
            )
        return True


def _redact_httpx_log(endpoint: str) -> None:
    httpx_log = logging.getLogger("httpx")
    if not any(isinstance(f, _RedactQuery) and f.endpoint == endpoint for f in httpx_log.filters):
        httpx_log.addFilter(_RedactQuery(endpoint))


class _FetchError(Exception):
    """The source did not give a usable answer; `reason` is the failure counter's key."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def site_key(latitude: float, longitude: float) -> str:
    """The cache file's name for a site: its coordinates rounded to 0.01 degree."""
    return f"{latitude:+08.2f}_{longitude:+09.2f}"


class WeatherFeed:
    """Forecasts of an Open-Meteo-compatible source, per site, cached in `cache_dir`.

    url: the source's base URL, e.g. "https://api.open-meteo.com" (the client adds
    `/v1/forecast`); cache_dir: where the answers are kept; refresh_h: hours (site time)
    before a site's forecast is fetched again; timeout_s: seconds (real time) one request may
    take; max_stale_h: how old a cached forecast may be and still stand in for a failed
    fetch; retry_min: site minutes to wait after a failure before asking again.
    :attr:`failures` counts failed fetches by reason (refused, timeout, transport,
    http_<status>, bad_json, and the `WeatherError` reasons); :attr:`requests` counts the
    requests sent.
    """

    def __init__(
        self,
        url: str,
        cache_dir: str | Path,
        refresh_h: float = 3.0,
        timeout_s: float = 10.0,
        max_stale_h: float = 24.0,
        retry_min: float = 10.0,
        forecast_days: int = FORECAST_DAYS,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"weather.url: {url!r} must be an http(s):// URL")
        if refresh_h <= 0 or timeout_s <= 0:
            raise ValueError("weather refresh_h and timeout_s must be more than 0")
        self._endpoint = f"{parts.scheme}://{parts.netloc}{parts.path.rstrip('/')}/v1/forecast"
        self._url_params = parse_qsl(parts.query, keep_blank_values=True)
        if self._url_params:
            _redact_httpx_log(self._endpoint)
        # the host (and port) names the source in logs and in the advice; never the query
        self.source = parts.hostname + (f":{parts.port}" if parts.port else "")
        self.cache_dir = Path(cache_dir)
        self.refresh_ms = int(refresh_h * 3_600_000)
        self.max_stale_ms = int(max_stale_h * 3_600_000)
        self.retry_ms = int(retry_min * 60_000)
        self.forecast_days = forecast_days
        self.failures: dict[str, int] = {}
        self.requests = 0
        self._retry_at: dict[str, tuple[int, str]] = {}  # site -> (site ms, last error)
        self._lock = threading.Lock()
        self._http = httpx.Client(
            timeout=timeout_s, follow_redirects=False, headers={"User-Agent": "ruong-weather"}
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> WeatherFeed | None:
        """The feed of the `[weather]` settings, or None when no source is configured."""
        if not settings.weather_url:
            return None
        return cls(
            settings.weather_url,
            settings.weather_cache_dir,
            refresh_h=settings.weather_refresh_h,
            timeout_s=settings.weather_timeout_s,
        )

    def outlook(
        self, latitude: float, longitude: float, timezone: str, now_ms: int
    ) -> WeatherOutlook:
        """The site's forecast at site time `now_ms` (Unix ms), from the cache or the source.

        latitude, longitude: decimal degrees, north and east positive; timezone: the site's
        IANA zone (the forecast starts at 00:00 local today and its days are local days).
        Returns the outlook (`forecasting.weather_forecast.WeatherOutlook`): `hourly` the
        forecast's hours from 00:00 today for `forecast_days` days, `fetched_ms` the site
        time it was fetched; or, when neither the source nor a cache younger than
        `max_stale_h` can give one, no hours and `error` saying why. Never raises for a
        failure of the source.
        """
        key = site_key(latitude, longitude)
        with self._lock:
            cached = self._read_cache(key, timezone)
            if cached is not None and 0 <= now_ms - cached[0] < self.refresh_ms:
                return cached[1]
            waiting = self._retry_at.get(key)
            if waiting is not None and 0 < waiting[0] - now_ms <= self.retry_ms:
                return self._fallback(cached, waiting[1], now_ms, timezone)
            try:
                payload = self._fetch(round(latitude, 2), round(longitude, 2), timezone)
                hourly = parse_open_meteo(payload, timezone)
            except (_FetchError, WeatherError) as exc:
                message = f"weather source {self.source}: {exc}"
                self.failures[exc.reason] = self.failures.get(exc.reason, 0) + 1
                self._retry_at[key] = (now_ms + self.retry_ms, message)
                log.warning("%s (site %s, %s)", message, key, exc.reason)
                return self._fallback(cached, message, now_ms, timezone)
            self._retry_at.pop(key, None)
            self._write_cache(key, timezone, now_ms, payload)
            return WeatherOutlook(hourly, self.source, now_ms)

    def _fallback(
        self,
        cached: tuple[int, WeatherOutlook] | None,
        error: str,
        now_ms: int,
        timezone: str,
    ) -> WeatherOutlook:
        """A cache young enough to stand in for the failed fetch, else the error."""
        if cached is not None and 0 <= now_ms - cached[0] < self.max_stale_ms:
            log.info(
                "weather: using the forecast of %s fetched %d min ago",
                self.source,
                (now_ms - cached[0]) // 60_000,
            )
            return cached[1]
        return WeatherOutlook(empty_hourly(timezone), self.source, now_ms, error)

    def _fetch(self, latitude: float, longitude: float, timezone: str) -> dict[str, object]:
        """One GET of the forecast (documented parameters); the decoded JSON or _FetchError."""
        params: list[tuple[str, str | int | float | bool | None]] = [
            *self._url_params,
            ("latitude", f"{latitude:.2f}"),
            ("longitude", f"{longitude:.2f}"),
            ("hourly", ",".join(HOURLY_VARIABLES)),
            ("wind_speed_unit", "ms"),
            ("timezone", timezone),
            ("timeformat", "unixtime"),
            ("forecast_days", str(self.forecast_days)),
            ("past_days", "0"),
        ]
        self.requests += 1
        # httpx's own messages carry no URL for these; ours name only the host (the query
        # may hold a key)
        try:
            response = self._http.get(self._endpoint, params=params)
        except httpx.TimeoutException as exc:
            raise _FetchError("timeout", f"no answer in time ({type(exc).__name__})") from None
        except httpx.ConnectError as exc:
            raise _FetchError("refused", f"cannot connect ({exc})") from None
        except httpx.HTTPError as exc:  # reset, protocol error, TLS
            raise _FetchError("transport", f"{type(exc).__name__}: {exc}") from None
        try:
            document = response.json()
        except ValueError:  # json.JSONDecodeError and UnicodeDecodeError
            document = None
        status = response.status_code
        if status != 200:
            # Open-Meteo answers a request it refuses with 400 and {"error": true, "reason"}
            said = document.get("reason") if isinstance(document, dict) else None
            refused = status < 500 and isinstance(document, dict) and document.get("error")
            raise _FetchError(
                "source_error" if refused else f"http_{status}",
                f"HTTP {status} {response.reason_phrase}" + (f": {said}" if said else ""),
            )
        if not isinstance(document, dict):
            raise _FetchError("bad_json", "the answer is not a JSON object")
        return document

    def _path(self, key: str) -> Path:
        return self.cache_dir / f"{key}.json"

    def _read_cache(self, key: str, timezone: str) -> tuple[int, WeatherOutlook] | None:
        """The site's cached forecast (fetch time, outlook) if it is this source's and zone's."""
        path = self._path(key)
        try:
            entry = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            log.warning("weather cache %s unreadable, ignored: %s", path, exc)
            return None
        if not (
            isinstance(entry, dict)
            and entry.get("format") == CACHE_FORMAT
            and entry.get("source") == self._endpoint
            and entry.get("timezone") == timezone
            and isinstance(entry.get("fetched_ms"), int)
            and isinstance(entry.get("payload"), dict)
        ):
            return None
        try:
            hourly = parse_open_meteo(entry["payload"], timezone)
        except WeatherError as exc:
            log.warning("weather cache %s is not a forecast, ignored: %s", path, exc)
            return None
        fetched_ms = int(entry["fetched_ms"])
        return fetched_ms, WeatherOutlook(hourly, self.source, fetched_ms)

    def _write_cache(self, key: str, timezone: str, now_ms: int, payload: object) -> None:
        """Keep the raw answer, atomically (a temporary file in the same folder, renamed)."""
        entry = {
            "format": CACHE_FORMAT,
            "source": self._endpoint,  # scheme, host, path: never the query's key
            "timezone": timezone,
            "fetched_ms": now_ms,
            "payload": payload,
        }
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{key}.", suffix=".tmp", dir=self.cache_dir)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as out:
                    json.dump(entry, out, separators=(",", ":"))
                os.replace(tmp, self._path(key))
            except BaseException:
                os.unlink(tmp)
                raise
        except OSError as exc:  # a full or read-only disk: the forecast is still used
            self.failures["cache_write"] = self.failures.get("cache_write", 0) + 1
            log.warning("weather cache %s not written: %s", self._path(key), exc)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
