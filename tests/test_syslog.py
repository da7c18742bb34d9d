"""The audit trail reaches the SOC's syslog server as RFC 5424, over real UDP and TCP sockets.

Every message is read back with a strict RFC 5424 (s6) grammar written here, not with the
module's own code, so a formatter bug cannot hide behind its own parser.
"""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone

import pytest

from backend.syslog import (
    BOM,
    MAX_OCTETS,
    SyslogEvent,
    SyslogForwarder,
    format_rfc5424,
    octet_frame,
)
from ruong.services import free_port

# --- RFC 5424 s6 ABNF as regular expressions over the message's bytes -----------------------
# SD-NAME: 1*32 PRINTUSASCII except '=', SP, ']', '"'
SD_NAME = rb"[\x21\x23-\x3c\x3e-\x5c\x5e-\x7e]{1,32}"
# PARAM-VALUE, strictly: '"', '\' and ']' appear only escaped (s6.3.3)
PARAM_VALUE = rb'(?:[^"\\\]]|\\["\\\]])*'
SD_PARAM = SD_NAME + rb'="' + PARAM_VALUE + rb'"'
SD_ELEMENT = rb"\[" + SD_NAME + rb"(?: " + SD_PARAM + rb")*\]"
SYSLOG_MSG = re.compile(
    rb"<(?P<pri>0|[1-9][0-9]{0,2})>(?P<version>[1-9][0-9]{0,2}) "
    rb"(?P<timestamp>-|[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}"
    rb"(?:\.[0-9]{1,6})?(?:Z|[+-][0-9]{2}:[0-9]{2})) "
    rb"(?P<hostname>[\x21-\x7e]{1,255}) "
    rb"(?P<app>[\x21-\x7e]{1,48}) "
    rb"(?P<procid>[\x21-\x7e]{1,128}) "
    rb"(?P<msgid>[\x21-\x7e]{1,32}) "
    rb"(?P<sd>-|(?:" + SD_ELEMENT + rb")+)"
    rb"(?: (?P<msg>.*))?\Z",
    re.DOTALL,
)
SD_PARAMS = re.compile(rb" (" + SD_NAME + rb')="(' + PARAM_VALUE + rb')"')
UNESCAPE = re.compile(rb'\\(["\\\]])')


@dataclass
class Parsed:
    pri: int
    version: int
    timestamp: str
    hostname: str
    app: str
    procid: str
    msgid: str
    sd_id: str
    params: list[tuple[str, str]]
    msg_raw: bytes | None

    @property
    def param(self) -> dict[str, str]:
        return dict(self.params)

    @property
    def msg(self) -> str:
        assert self.msg_raw is not None and self.msg_raw.startswith(BOM), self.msg_raw
        return self.msg_raw[len(BOM) :].decode("utf-8")  # strict: invalid UTF-8 fails


def parse(message: bytes) -> Parsed:
    """Parse one message with the grammar above; fail the test if it is not RFC 5424."""
    m = SYSLOG_MSG.match(message)
    assert m, f"not RFC 5424: {message!r}"
    sd = m["sd"]
    assert sd.count(b"[") >= 1 and sd.startswith(b"["), sd
    sd_id = re.match(rb"\[(" + SD_NAME + rb")", sd)
    assert sd_id
    params = [
        (name.decode("ascii"), UNESCAPE.sub(rb"\1", value).decode("utf-8"))
        for name, value in SD_PARAMS.findall(sd)
    ]
    pri = int(m["pri"])
    assert 0 <= pri <= 191  # s6.2.1: facility 0-23, severity 0-7
    return Parsed(
        pri=pri,
        version=int(m["version"]),
        timestamp=m["timestamp"].decode("ascii"),
        hostname=m["hostname"].decode("ascii"),
        app=m["app"].decode("ascii"),
        procid=m["procid"].decode("ascii"),
        msgid=m["msgid"].decode("ascii"),
        sd_id=sd_id[1].decode("ascii"),
        params=params,
        msg_raw=m["msg"],
    )


WHEN = datetime(2025, 3, 14, 7, 30, 5, 123456, tzinfo=UTC)
TRICKY = 'nhóm "Lúa \\ mới" [vụ 1]'  # ", \ and ] with Vietnamese around them


def event(**overrides: object) -> SyslogEvent:
    values: dict[str, object] = {
        "time": WHEN,
        "actor": "Nguyễn Văn A",
        "organisation": "HTX Yên Khánh",
        "action": "login",
        "target": TRICKY,
        "outcome": "failure",
        "client": "203.0.113.7",
        "details": {"attempts": 3, "mfa": False, "score": 0.25, "via": "dashboard"},
    }
    values.update(overrides)
    return SyslogEvent.from_mapping(values)


# --- the formatter ---------------------------------------------------------------------------


def test_a_failed_login_is_a_strict_rfc5424_message_with_vietnamese_intact() -> None:
    out = parse(format_rfc5424(event(), hostname="gw-ninhbinh", procid="4242"))
    assert out.pri == 10 * 8 + 4  # authpriv, warning
    assert out.version == 1
    assert out.timestamp == "2025-03-14T07:30:05.123456Z"
    assert (out.hostname, out.app, out.procid, out.msgid) == (
        "gw-ninhbinh",
        "ruong",
        "4242",
        "login",
    )
    assert out.sd_id == "ruong@32473"
    assert out.params == [
        ("actor", "Nguyễn Văn A"),
        ("org", "HTX Yên Khánh"),
        ("target", TRICKY),  # the escaping round-trips
        ("outcome", "failure"),
        ("client", "203.0.113.7"),
        ("attempts", "3"),
        ("mfa", "false"),
        ("score", "0.25"),
        ("via", "dashboard"),
    ]
    assert (
        out.msg == f"login failure for Nguyễn Văn A on {TRICKY} in HTX Yên Khánh from 203.0.113.7"
    )


@pytest.mark.parametrize(
    ("outcome", "severity"),
    [("success", 5), ("failure", 4), ("throttled", 4), ("something-new", 4)],
)
def test_severity_follows_the_outcome(outcome: str, severity: int) -> None:
    out = parse(format_rfc5424(event(outcome=outcome), hostname="h"))
    assert (out.pri // 8, out.pri % 8) == (10, severity)


def test_the_timestamp_is_utc_and_a_naive_time_is_refused() -> None:
    hanoi = timezone(timedelta(hours=7))
    out = parse(
        format_rfc5424(event(time=datetime(2025, 3, 14, 14, 30, tzinfo=hanoi)), hostname="h")
    )
    assert out.timestamp == "2025-03-14T07:30:00.000000Z"
    with pytest.raises(ValueError, match="timezone-aware"):
        format_rfc5424(event(time=datetime(2025, 3, 14, 14, 30)), hostname="h")


def test_header_fields_are_printusascii_within_their_limits_or_nil() -> None:
    out = parse(
        format_rfc5424(
            event(action="đăng nhập " + "x" * 40, organisation=None, target=None, client=None),
            hostname="h" * 300,
            app_name="a" * 60,
            procid="p" * 200,
        )
    )
    assert (len(out.hostname), len(out.app), len(out.procid), len(out.msgid)) == (255, 48, 128, 32)
    assert out.msgid.startswith("__ng_nh_p_xxx")  # each non-ASCII character became "_"
    assert (out.param["org"], out.param["target"], out.param["client"]) == ("-", "-", "-")
    bare = parse(format_rfc5424(event(), hostname=None))
    assert (bare.hostname, bare.procid) == ("-", "-")


def test_param_names_are_made_valid_and_may_not_reuse_a_required_one() -> None:
    out = parse(format_rfc5424(event(details={'a b="c]': "x", "n" * 40: 1}), hostname="h"))
    assert ("a_b__c_", "x") in out.params
    assert ("n" * 32, "1") in out.params
    with pytest.raises(ValueError, match="reserved"):
        format_rfc5424(event(details={"actor": "someone else"}), hostname="h")


def test_secrets_in_details_are_dropped_and_marked_redacted() -> None:
    details = {
        "password": "hunter2",
        "new_Password": "mật-khẩu-mới",
        "api_key": "k-123",
        "token": "rt_abcdef",
        "client_secret": "s3cr3t",
        "role": "agronomist",
    }
    message = format_rfc5424(event(action="password.change", details=details), hostname="h")
    for secret in ("hunter2", "mật-khẩu-mới", "k-123", "rt_abcdef", "s3cr3t"):
        assert secret.encode("utf-8") not in message
    out = parse(message)
    assert out.param["redacted"] == "password,new_Password,api_key,token,client_secret"
    assert out.param["role"] == "agronomist"


def test_control_characters_cannot_forge_a_second_log_line() -> None:
    message = format_rfc5424(event(actor="eve\nlogin success for admin\r"), hostname="h")
    assert b"\n" not in message and b"\r" not in message
    assert parse(message).param["actor"] == "eve\ufffdlogin success for admin\ufffd"


def test_a_huge_login_cuts_the_msg_and_the_value_but_fits_2048_octets() -> None:
    message = format_rfc5424(event(actor="Nguyễn" * 800), hostname="h")
    assert len(message) <= MAX_OCTETS
    out = parse(message)
    actor = out.param["actor"]
    assert actor.endswith("\u2026") and len(actor.encode("utf-8")) <= 128
    assert out.msg.endswith("\u2026") and out.msg.startswith("login failure for Nguyễn")
    assert [name for name, _ in out.params][:5] == ["actor", "org", "target", "outcome", "client"]


def test_too_many_details_are_dropped_from_the_end_never_the_required_params() -> None:
    details = {f"x{i:02d}": "v" * 100 for i in range(30)}
    message = format_rfc5424(event(details=details), hostname="h")
    assert len(message) <= MAX_OCTETS
    out = parse(message)
    assert out.msg_raw is None  # the MSG went first
    assert out.param["target"] == TRICKY and out.param["client"] == "203.0.113.7"
    kept = [name for name, _ in out.params if name.startswith("x")]
    assert kept == [f"x{i:02d}" for i in range(len(kept))]
    assert int(out.param["dropped"]) == 30 - len(kept) > 0
    unlimited = format_rfc5424(event(details=details), hostname="h", max_octets=None)
    assert len(parse(unlimited).params) == 5 + 30


def test_a_mapping_and_the_dataclass_give_the_same_bytes() -> None:
    row = {
        "time": WHEN,
        "actor": "node:n0a1b2c3d",
        "organisation": None,
        "action": "node.revoke",
        "target": "n0a1b2c3d",
        "outcome": "success",
        "client": None,
        "details": None,
    }
    as_row = format_rfc5424(row, hostname="h")
    assert as_row == format_rfc5424(SyslogEvent.from_mapping(row), hostname="h")
    assert parse(as_row).msgid == "node.revoke"


def test_octet_counting_counts_octets_not_characters() -> None:
    assert octet_frame("Văn".encode()) == b"4 V\xc4\x83n"


# --- the forwarder over real sockets ---------------------------------------------------------


def test_udp_sends_one_datagram_byte_exact() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as listener:
        listener.bind(("127.0.0.1", 0))
        listener.settimeout(5)
        port = listener.getsockname()[1]
        with SyslogForwarder(f"udp://127.0.0.1:{port}", hostname="gw-ninhbinh") as fwd:
            secret = event(action="token.create", details={"token": "rt_live_123", "scope": "read"})
            assert fwd.send(secret) is True
            datagram, _ = listener.recvfrom(65535)
            assert datagram == fwd.format(secret)
            assert b"rt_live_123" not in datagram  # secrets are not forwarded
            out = parse(datagram)
            assert out.param["redacted"] == "token" and out.param["scope"] == "read"
            assert (fwd.sent, fwd.failures) == (1, 0)


def test_udp_port_defaults_to_514() -> None:
    with SyslogForwarder("udp://127.0.0.1") as fwd:
        assert fwd.endpoint.port == 514
    with SyslogForwarder("tcp://127.0.0.1:514") as fwd:
        assert (fwd.transport, fwd.endpoint.port) == ("tcp", 514)


@dataclass
class TcpSyslogServer:
    """A syslog receiver on 127.0.0.1 (`port`, or a free one): accepts connections one after
    another and splits their octet-counted frames (RFC 6587 s3.4.1); with `close_after`, hangs
    up on each connection after that many frames."""

    close_after: int | None = None
    port: int = 0  # 0: any free port
    connections: list[list[bytes]] = field(default_factory=list)
    hung_up: threading.Event = field(default_factory=threading.Event)
    received: threading.Condition = field(default_factory=threading.Condition)

    def __post_init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", self.port))
        self.sock.settimeout(10)
        self.port = self.sock.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            while True:
                conn, _ = self.sock.accept()
                with conn:
                    self._read(conn)
        except OSError:
            return  # the listening socket was closed (or the test is over)

    def _read(self, conn: socket.socket) -> None:
        frames: list[bytes] = []
        with self.received:
            self.connections.append(frames)
        buf = b""
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                return
            buf += chunk
            while (m := re.match(rb"([1-9][0-9]*) ", buf)) and len(buf) >= m.end() + int(m[1]):
                end = m.end() + int(m[1])
                with self.received:
                    frames.append(buf[m.end() : end])
                    self.received.notify_all()
                buf = buf[end:]
            assert not buf or re.match(rb"[1-9][0-9]*( |$)", buf), f"bad framing: {buf!r}"
            if self.close_after is not None and len(frames) >= self.close_after:
                conn.close()
                self.hung_up.set()
                return

    def wait_frames(self, count: int) -> list[bytes]:
        with self.received:
            assert self.received.wait_for(
                lambda: sum(map(len, self.connections)) >= count, timeout=5
            ), self.connections
            return [f for frames in self.connections for f in frames]

    def close(self) -> None:
        # shutdown, not only close: on Linux close() does not wake a thread blocked in
        # accept(); macOS refuses shutdown on a listening socket, where the timeout ends it
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
        self.thread.join(5)


def test_tcp_sends_two_octet_counted_frames_on_one_connection() -> None:
    server = TcpSyslogServer()
    try:
        with SyslogForwarder(f"tcp://127.0.0.1:{server.port}", hostname="gw") as fwd:
            first, second = event(), event(action="logout", outcome="success", details=None)
            assert fwd.send(first) and fwd.send(second)
            assert server.wait_frames(2) == [fwd.format(first), fwd.format(second)]
        assert len(server.connections) == 1
        assert [parse(f).msgid for f in server.connections[0]] == ["login", "logout"]
    finally:
        server.close()


def test_tcp_reconnects_when_the_server_hung_up_between_two_sends() -> None:
    server = TcpSyslogServer(close_after=1)
    try:
        with SyslogForwarder(f"tcp://127.0.0.1:{server.port}", hostname="gw") as fwd:
            first = event(action="role.change", outcome="success")
            second = event(action="token.revoke", outcome="success")
            assert fwd.send(first)
            assert server.hung_up.wait(5)
            assert fwd.send(second)
            assert server.wait_frames(2) == [fwd.format(first), fwd.format(second)]
            assert len(server.connections) == 2  # the second went on a new connection
            assert (fwd.sent, fwd.failures) == (2, 0)
    finally:
        server.close()


def test_a_dead_server_never_raises_into_the_login_and_is_counted_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    port = free_port()  # nothing listens there: the connection is refused
    now = [100.0]
    with SyslogForwarder(
        f"tcp://127.0.0.1:{port}", hostname="gw", retry_after_s=10, clock=lambda: now[0]
    ) as fwd:
        with caplog.at_level(logging.WARNING, logger="ruong.audit.syslog"):
            assert fwd.send(event()) is False
        assert fwd.failures == 1 and fwd.sent == 0
        [record] = caplog.records
        assert "ConnectionRefusedError" in record.getMessage()
        assert "login" in record.getMessage() and "registry" in record.getMessage()
        assert record.reason.startswith("ConnectionRefusedError")  # type: ignore[attr-defined]

        # within the retry window a send fails at once, without waiting on the network
        now[0] += 5
        assert fwd.send(event()) is False
        assert fwd.failures == 2

        # after it, the server (back on its port) gets the next event
        server = TcpSyslogServer(port=port)
        try:
            now[0] += 10
            back = event(outcome="success")
            assert fwd.send(back) is True
            assert server.wait_frames(1) == [fwd.format(back)]
            assert fwd.failures == 2
        finally:
            fwd.close()
            server.close()


def test_an_unknown_scheme_is_refused_naming_the_allowed_ones() -> None:
    with pytest.raises(ValueError, match=r"udp://, tcp://"):
        SyslogForwarder("syslog://siem.example:514")
    with pytest.raises(ValueError, match="only scheme://host"):
        SyslogForwarder("tcp://user:pw@siem.example:601/x")
