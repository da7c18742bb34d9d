"""The audit trail's syslog forwarding: security events as RFC 5424 messages for the SOC.

Every security event is stored in the registry first (the audit module does that); when
`[audit] syslog` names a server, the same event is also sent to it so the province's
information-security monitoring centre sees it live. This module is that last hop:

- `format_rfc5424` is pure: one event in, the bytes of one RFC 5424 message out;
- `SyslogForwarder` is the thin socket adapter: `udp://host[:514]` (RFC 5426, one datagram per
  message) or `tcp://host[:601]` (RFC 6587 s3.4.1 octet counting).

A forwarder never raises a network error into the caller: a dead syslog server must not stop
logins, and the event is already in the registry. Failures are counted (`failures`) and logged.
"""

from __future__ import annotations

import logging
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import TracebackType
from typing import Final, Self

from backend.config import parse_url

log = logging.getLogger("ruong.audit.syslog")

DetailValue = str | int | float | bool

# Facility 10, "security/authorization messages" (RFC 5424 s6.2.1, Table 1), is LOG_AUTHPRIV.
# Not 13 ("log audit"): glibc's <syslog.h> has no name for 13, so a Linux rsyslog/syslog-ng
# selector cannot route it by name, whereas the stock rsyslog config already sends `authpriv.*`
# to the root-only /var/log/auth.log (or /var/log/secure) that a SOC collector reads. authpriv
# rather than auth (4) because these messages carry logins and client addresses, which are for
# the private log.
FACILITY_AUTHPRIV: Final = 10

# Severity by outcome (RFC 5424 s6.2.1, Table 2): a success is a normal but significant
# condition (notice, 5); a refused or throttled attempt is what a SOC watches for (warning, 4).
SEVERITY_BY_OUTCOME: Final[Mapping[str, int]] = {
    "success": 5,
    "failure": 4,
    "throttled": 4,
    "rejected": 4,
    "error": 3,
}
# an outcome we do not know is not a success: report it like a failure
SEVERITY_UNKNOWN_OUTCOME: Final = 4

# The SD-ID's private form is `name@<private enterprise number>` (RFC 5424 s7.2.2). The project
# has no IANA-registered enterprise number, so this uses 32473, the number RFC 5612 reserves
# for documentation and examples; replace it if the project ever registers its own.
ENTERPRISE_NUMBER: Final = 32473
SD_ID: Final = f"ruong@{ENTERPRISE_NUMBER}"

# RFC 5424 s6.1: receivers SHOULD accept 2048 octets; RFC 5426 s3.2 says the same for UDP
# (IPv4 must take 480, should take 2048). Longer messages get the MSG cut, then the optional
# details dropped; the required parameters are never cut for size.
MAX_OCTETS: Final = 2048
# A cap per PARAM-VALUE (UTF-8 octets, before escaping) that is not about the transport: the
# actor of a failed login is whatever someone typed into the form, and must not blow up the
# message. Five required values at twice this size (every octet escaped) plus the longest
# header still fit in MAX_OCTETS.
MAX_VALUE_OCTETS: Final = 128

# Field length limits of the HEADER (RFC 5424 s6)
HOSTNAME_MAX: Final = 255
APP_NAME_MAX: Final = 48
PROCID_MAX: Final = 128
MSGID_MAX: Final = 32
PARAM_NAME_MAX: Final = 32

NILVALUE: Final = "-"
BOM: Final = b"\xef\xbb\xbf"  # RFC 5424 s6.4: a UTF-8 MSG starts with the BOM
ELLIPSIS: Final = "\u2026"

# Details keys that look like a secret are dropped, never forwarded (matched as substrings of
# the lower-cased key, so `new_password`, `api_key`, `node_psk` all go). A token's id belongs in
# `target`, not in details, where `token_id` would be dropped too: erring this way is the point.
SECRET_WORDS: Final = (
    "password",
    "passwd",
    "passphrase",
    "secret",
    "token",
    "key",
    "psk",
    "credential",
    "cookie",
    "authorization",
)

# The required SD-PARAMs, in the order they are written (and `redacted`/`dropped` markers);
# a details key may not reuse one of these names.
REQUIRED_PARAMS: Final = ("actor", "org", "target", "outcome", "client")
RESERVED_PARAMS: Final = frozenset(REQUIRED_PARAMS) | {"redacted", "dropped"}

DEFAULT_PORTS: Final[Mapping[str, int]] = {
    # RFC 5426 s3.3: syslog over UDP is port 514
    "udp": 514,
    # IANA's only TCP syslog port is 601 (syslog-conn); many rsyslog set-ups listen on 514/tcp
    # instead, which `tcp://host:514` says explicitly
    "tcp": 601,
}

_NOT_PRINTUSASCII = re.compile(r"[^\x21-\x7e]")  # RFC 5424 s6: PRINTUSASCII = %d33-126
_NOT_PARAM_NAME = re.compile(r'[^\x21-\x7e]|[="\]]')  # s6.3.3: SD-NAME excludes = SP ] "
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_SD_ESCAPE = re.compile(r'(["\\\]])')  # s6.3.3: ", \ and ] MUST be escaped in a PARAM-VALUE


@dataclass(frozen=True)
class SyslogEvent:
    """One security event, as the audit trail stores it.

    time: when it happened, timezone-aware (written in UTC)
    actor: who did it: a user id or login, `node:<id>`, or `system`
    organisation: the organisation it happened in, if any
    action: what was done, e.g. `login`, `token.create`, `node.provision`
    target: what it was done to (a user, a token's id, a node), if anything
    outcome: `success`, `failure`, `throttled`, ...
    client: the client's address, if the event came over the network
    details: further facts; keys that look like secrets are never forwarded
    """

    time: datetime
    actor: str
    action: str
    outcome: str
    organisation: str | None = None
    target: str | None = None
    client: str | None = None
    details: Mapping[str, DetailValue] | None = None

    @classmethod
    def from_mapping(cls, row: Mapping[str, object]) -> SyslogEvent:
        """An event from a mapping with the field names above (e.g. a registry row).

        Raises KeyError for a missing time/actor/action/outcome, TypeError for a wrong type.
        """

        def text(name: str) -> str | None:
            value = row.get(name)
            return None if value is None else str(value)

        when = row["time"]
        if not isinstance(when, datetime):
            raise TypeError(f"audit event time must be a datetime, not {type(when).__name__}")
        details = row.get("details")
        if details is not None and not isinstance(details, Mapping):
            raise TypeError(f"audit event details must be a mapping, not {type(details).__name__}")
        return cls(
            time=when,
            actor=str(row["actor"]),
            action=str(row["action"]),
            outcome=str(row["outcome"]),
            organisation=text("organisation"),
            target=text("target"),
            client=text("client"),
            details=details,
        )


def severity(outcome: str) -> int:
    """RFC 5424 s6.2.1 severity for an outcome (see SEVERITY_BY_OUTCOME)."""
    return SEVERITY_BY_OUTCOME.get(outcome, SEVERITY_UNKNOWN_OUTCOME)


def format_rfc5424(
    event: SyslogEvent | Mapping[str, object],
    *,
    hostname: str | None,
    app_name: str = "ruong",
    procid: str | None = None,
    max_octets: int | None = MAX_OCTETS,
) -> bytes:
    """One RFC 5424 (s6) message:
    `<PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [ruong@32473 ...] BOM MSG`.

    PRI is facility 10 (authpriv) * 8 + the outcome's severity (s6.2.1); TIMESTAMP is RFC 3339
    in UTC with microseconds (s6.2.3); HOSTNAME, APP-NAME, PROCID and MSGID (the action) are
    PRINTUSASCII cut to 255/48/128/32 characters, `-` when absent (s6.2.4-6.2.7); the one
    SD-ELEMENT carries actor, org, target, outcome, client and then the details (s6.3), values
    escaped per s6.3.3; MSG is a short sentence in UTF-8 after the BOM (s6.4).

    Details keys that look like secrets (SECRET_WORDS) are dropped and named in `redacted`.
    Control characters become U+FFFD; every PARAM-VALUE is cut to 128 UTF-8 octets
    (MAX_VALUE_OCTETS, marked with an ellipsis) whatever the transport. With `max_octets`
    (default 2048, s6.1) a longer message first loses the end of MSG (marked with an
    ellipsis), then its details from the last (counted in `dropped`); the required parameters
    are never dropped for size. `None` = no limit.

    Raises ValueError for a naive `time` or a details key that reuses a reserved name, and
    TypeError for a mapping whose `time` is not a datetime or `details` not a mapping.
    """
    ev = event if isinstance(event, SyslogEvent) else SyslogEvent.from_mapping(event)
    if ev.time.tzinfo is None or ev.time.utcoffset() is None:
        raise ValueError("audit event time must be timezone-aware")
    pri = FACILITY_AUTHPRIV * 8 + severity(ev.outcome)
    timestamp = ev.time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    header = " ".join(
        (
            f"<{pri}>1",
            timestamp,
            _header_field(hostname, HOSTNAME_MAX),
            _header_field(app_name, APP_NAME_MAX),
            _header_field(procid, PROCID_MAX),
            _header_field(ev.action, MSGID_MAX),
        )
    ).encode("ascii")

    required = [
        ("actor", ev.actor),
        ("org", ev.organisation),
        ("target", ev.target),
        ("outcome", ev.outcome),
        ("client", ev.client),
    ]
    # an absent value is written as "-", like a NILVALUE: every message has the same params
    required_sd = [_sd_param(name, NILVALUE if v is None else v) for name, v in required]
    details, redacted = _details(ev.details)
    marker = [_sd_param("redacted", ",".join(redacted))] if redacted else []
    detail_sd = [_sd_param(name, value) for name, value in details]
    msg = _sentence(ev)

    def build(detail_params: list[bytes], dropped: int, text: str) -> bytes:
        params = required_sd + marker + detail_params
        if dropped:
            params.append(_sd_param("dropped", str(dropped)))
        sd = b"[" + SD_ID.encode("ascii") + b"".join(b" " + p for p in params) + b"]"
        body = b" " + BOM + text.encode("utf-8") if text else b""
        return header + b" " + sd + body

    message = build(detail_sd, 0, msg)
    if max_octets is None or len(message) <= max_octets:
        return message
    # cut the MSG first: it only repeats the structured data for a human
    without_msg = len(build(detail_sd, 0, ""))
    room = max_octets - without_msg - len(b" " + BOM)
    if room > len(ELLIPSIS.encode("utf-8")):
        return build(detail_sd, 0, _cut_utf8(msg, room))
    # then the details, from the last one; the required params stay whole
    kept = list(detail_sd)
    while kept:
        kept.pop()
        message = build(kept, len(detail_sd) - len(kept), "")
        if len(message) <= max_octets:
            return message
    # over the limit on required params alone: sent anyway (a receiver may cut it), because an
    # audit event must not vanish for being long
    return message


def _header_field(value: str | None, limit: int) -> str:
    """A HEADER field: PRINTUSASCII only (others become `_`), at most `limit` chars, else `-`."""
    if not value:
        return NILVALUE
    return _NOT_PRINTUSASCII.sub("_", value)[:limit]


def _clean_text(value: str) -> str:
    # A control character (a newline in a typed login) could forge a second line in a receiver
    # that splits on newlines, or a terminal escape in someone's log viewer: U+FFFD shows it was
    # there without letting it act.
    return _CONTROL.sub("\ufffd", value)


def _cut_utf8(text: str, limit: int) -> str:
    """`text` in at most `limit` UTF-8 octets, cut at a character and marked with an ellipsis."""
    if len(text.encode("utf-8")) <= limit:
        return text
    room = limit - len(ELLIPSIS.encode("utf-8"))
    cut = text.encode("utf-8")[: max(room, 0)].decode("utf-8", errors="ignore")
    return cut + ELLIPSIS


def _sd_param(name: str, value: str) -> bytes:
    """`name="value"` with the value's `"`, `\\` and `]` escaped (RFC 5424 s6.3.3)."""
    value = _cut_utf8(_clean_text(value), MAX_VALUE_OCTETS)
    return name.encode("ascii") + b'="' + _SD_ESCAPE.sub(r"\\\1", value).encode("utf-8") + b'"'


def _param_name(key: str) -> str:
    """A PARAM-NAME (RFC 5424 s6.3.3): 1-32 PRINTUSASCII except `=`, SP, `]`, `"`."""
    return _NOT_PARAM_NAME.sub("_", key)[:PARAM_NAME_MAX]


def _looks_secret(key: str) -> bool:
    lowered = key.lower()
    return any(word in lowered for word in SECRET_WORDS)


def _details(
    details: Mapping[str, DetailValue] | None,
) -> tuple[list[tuple[str, str]], list[str]]:
    """(name, value) pairs to forward, and the names of the keys dropped as secrets."""
    kept: list[tuple[str, str]] = []
    redacted: list[str] = []
    for key, value in (details or {}).items():
        name = _param_name(key)
        if _looks_secret(key) or _looks_secret(name):
            redacted.append(name)
            continue
        if not name or name in RESERVED_PARAMS:
            raise ValueError(f"audit details key {key!r} is empty or reuses a reserved name")
        kept.append((name, _value_text(value)))
    return kept, redacted


def _value_text(value: DetailValue) -> str:
    if isinstance(value, bool):  # before int: bool is an int
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)  # the shortest text that reads back as the same float
    return str(value)


def _sentence(ev: SyslogEvent) -> str:
    """The MSG: what a person reads in a log viewer, e.g. `login failure for X from Y`."""
    parts = [f"{ev.action} {ev.outcome} for {ev.actor}"]
    if ev.target:
        parts.append(f"on {ev.target}")
    if ev.organisation:
        parts.append(f"in {ev.organisation}")
    if ev.client:
        parts.append(f"from {ev.client}")
    return _clean_text(" ".join(parts))


def octet_frame(message: bytes) -> bytes:
    """RFC 6587 s3.4.1 octet counting: `MSG-LEN SP SYSLOG-MSG`, MSG-LEN in octets."""
    return str(len(message)).encode("ascii") + b" " + message


class SyslogForwarder:
    """Sends audit events to one syslog server: `udp://host[:514]` or `tcp://host[:601]`.

    UDP (RFC 5426): one datagram per message, the address resolved once. TCP (RFC 6587):
    octet-counted frames on one connection, opened on the first send; a connection the server
    has closed is noticed before writing and replaced, and a write that fails on an open
    connection is retried once on a new one. Every socket operation has `timeout_s`.

    `send` never raises a network error: it returns False, adds one to `failures` and logs a
    warning with the reason. After a failure the server is not tried again for `retry_after_s`
    (sends in that window fail at once), so a black-holed server costs a login at most one
    timeout per window, not one per event. One lock serialises sends, because the dashboard's
    WSGI threads share the forwarder and two frames must not interleave on the stream.
    """

    def __init__(
        self,
        url: str,
        hostname: str | None = None,
        *,
        app_name: str = "ruong",
        timeout_s: float = 2.0,
        retry_after_s: float = 10.0,
        max_octets: int | None = MAX_OCTETS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """url: `udp://host[:port]` or `tcp://host[:port]`; anything else raises ValueError
        (ConfigError) naming both. hostname: the HOSTNAME field (default: this machine's name;
        not the FQDN, whose DNS lookup could stall start-up). timeout_s, retry_after_s: seconds.
        """
        self.endpoint = parse_url(url, "audit.syslog", DEFAULT_PORTS)
        if self.endpoint.path or self.endpoint.username or self.endpoint.password:
            raise ValueError(f"audit.syslog: {url!r} must be only scheme://host[:port]")
        self.hostname = hostname if hostname is not None else socket.gethostname()
        self.app_name = app_name
        self.procid = str(os.getpid())
        self.timeout_s = timeout_s
        self.retry_after_s = retry_after_s
        self.max_octets = max_octets
        self.failures = 0
        self.sent = 0
        self._clock = clock
        self._lock = threading.Lock()
        self._sock: socket.socket | None = None
        self._udp_addr: tuple[object, ...] | None = None
        self._down_until: float | None = None

    @property
    def transport(self) -> str:
        return self.endpoint.scheme

    def format(self, event: SyslogEvent | Mapping[str, object]) -> bytes:
        """The message `send` would send for `event` (without the TCP frame)."""
        return format_rfc5424(
            event,
            hostname=self.hostname,
            app_name=self.app_name,
            procid=self.procid,
            max_octets=self.max_octets,
        )

    def send(self, event: SyslogEvent | Mapping[str, object]) -> bool:
        """Forward one event; True when it was handed to the network.

        Network errors are counted and logged, not raised (see the class docstring); a
        malformed event (naive time, reserved details key) still raises ValueError.
        """
        message = self.format(event)
        with self._lock:
            if self._down_until is not None and self._clock() < self._down_until:
                return self._failed(event, "server unreachable recently, not retried yet")
            try:
                if self.transport == "udp":
                    self._send_udp(message)
                else:
                    self._send_tcp(octet_frame(message))
            except OSError as exc:
                self._close_socket()
                self._down_until = self._clock() + self.retry_after_s
                return self._failed(event, _reason(exc))
            self._down_until = None
            self.sent += 1
            return True

    def close(self) -> None:
        with self._lock:
            self._close_socket()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _failed(self, event: SyslogEvent | Mapping[str, object], reason: str) -> bool:
        self.failures += 1
        action = event.action if isinstance(event, SyslogEvent) else event.get("action")
        log.warning(
            "audit event %s not forwarded to syslog %s: %s (it stays in the registry)",
            action,
            self.endpoint.url,
            reason,
            extra={"reason": reason, "syslog": self.endpoint.url, "failures": self.failures},
        )
        return False

    def _send_udp(self, message: bytes) -> None:
        if self._sock is None or self._udp_addr is None:
            family, kind, proto, _, addr = socket.getaddrinfo(
                self.endpoint.host, self.endpoint.port, type=socket.SOCK_DGRAM
            )[0]
            sock = socket.socket(family, kind, proto)
            sock.settimeout(self.timeout_s)
            self._sock, self._udp_addr = sock, tuple(addr)
        # not connect(): a connected UDP socket reports an ICMP "port unreachable" on the next
        # send, which would blame the wrong event; RFC 5426 delivery is best effort anyway
        self._sock.sendto(message, self._udp_addr)

    def _send_tcp(self, frame: bytes) -> None:
        sock = self._sock
        was_open = sock is not None and _peer_is_open(sock)
        if sock is None or not was_open:
            sock = self._connect_tcp()
        try:
            sock.sendall(frame)
        except OSError:
            if not was_open:
                raise  # a fresh connection that fails at once: no second try
            # the server went away since our last look: once more on a new connection
            self._connect_tcp().sendall(frame)

    def _connect_tcp(self) -> socket.socket:
        self._close_socket()
        self._sock = socket.create_connection(
            (self.endpoint.host, self.endpoint.port), timeout=self.timeout_s
        )
        return self._sock

    def _close_socket(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock, self._udp_addr = None, None


def _peer_is_open(sock: socket.socket) -> bool:
    """False when the server has closed this connection (or it broke).

    A write to a connection the server has closed still succeeds locally and the message is
    lost, so look first. A syslog server never sends anything, so anything to read means
    end-of-file or an error (rsyslog's omfwd checks its connections the same way). A
    non-blocking peek rather than select(): select fails on descriptors above FD_SETSIZE.
    """
    timeout = sock.gettimeout()
    try:
        sock.setblocking(False)
        return sock.recv(1, socket.MSG_PEEK) != b""
    except BlockingIOError:
        return True  # nothing to read: still open
    except OSError:
        return False
    finally:
        sock.settimeout(timeout)


def _reason(exc: OSError) -> str:
    """A short reason for the log, e.g. `ConnectionRefusedError: [Errno 111] ...`."""
    return f"{type(exc).__name__}: {exc}"
