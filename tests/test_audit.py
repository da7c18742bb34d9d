"""The audit trail (backend/audit.py): events stored in the registry and forwarded as RFC 5424
syslog to a real listener socket; a dead syslog server costs nothing but the forwarding; the
gateway's refused uplinks arrive summarised per node."""

from __future__ import annotations

import json
import re
import socket
import time
from pathlib import Path

import pytest

from backend import db
from backend.audit import Audit
from ruong.services import free_port
from tests.conftest import GatewayProcess, run_ruong, start_gateway, wait_until, write_config
from tests.test_gateway_coap import coap_post
from tests.uplinks import uplink


def udp_listener() -> tuple[socket.socket, int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(10)
    return sock, sock.getsockname()[1]


def test_an_event_is_stored_then_forwarded_as_rfc5424(tmp_path: Path) -> None:
    listener, port = udp_listener()
    engine = db.open_engine(f"sqlite:///{tmp_path / 'registry.db'}")
    audit = Audit(engine, f"udp://127.0.0.1:{port}")
    audit.record(
        "+84912345678",
        "login",
        "failure",
        organisation="HTX Yên Khánh",
        client="192.0.2.7",
        details={"reason": "password"},
    )
    message = listener.recv(4096)
    listener.close()
    audit.close()
    assert message.startswith(b"<")
    assert re.match(rb"<\d{1,3}>1 ", message)  # PRI, then RFC 5424 VERSION 1
    assert b"login" in message and "HTX Yên Khánh".encode() in message
    assert b'client="192.0.2.7"' in message
    (event,) = audit.events()
    assert (event.actor, event.action, event.outcome, event.client) == (
        "+84912345678",
        "login",
        "failure",
        "192.0.2.7",
    )
    assert event.details == {"reason": "password"}


def test_a_dead_syslog_server_loses_no_event(tmp_path: Path) -> None:
    engine = db.open_engine(f"sqlite:///{tmp_path / 'registry.db'}")
    audit = Audit(engine, f"tcp://127.0.0.1:{free_port()}")  # nothing listens there
    audit.record("cli:root", "token.create", "success", target="token:1")
    audit.close()
    assert [e.action for e in audit.events()] == ["token.create"]
    assert audit.forwarder is not None and audit.forwarder.failures == 1


def test_unknown_outcomes_are_refused(tmp_path: Path) -> None:
    audit = Audit(db.open_engine(f"sqlite:///{tmp_path / 'registry.db'}"))
    with pytest.raises(ValueError, match="outcome"):
        audit.record("x", "login", "maybe")


@pytest.mark.services
def test_refused_uplinks_reach_the_audit_trail_per_node(
    tmp_path: Path, influxdb: object, mosquitto: object
) -> None:
    listener, port = udp_listener()
    gateway: GatewayProcess = start_gateway(
        tmp_path / "gateway",
        f"{influxdb.url}_audit",  # type: ignore[attr-defined]
        audit_syslog=f"udp://127.0.0.1:{port}",
    )
    try:
        registry = gateway.registry()
        node = registry.provision("test-farm", "ruong-9", "coap")
        registry.close()
        forged = tmp_path / "forged.bin"
        forged.write_bytes(uplink(bytes(32), node.node, 1, time.time(), {"soil_vwc": 33.5}))
        garbage = tmp_path / "garbage.bin"
        garbage.write_bytes(b"\x9f\xff not cbor")
        for payload in (forged, forged, garbage):
            assert "4.0" in coap_post(gateway, payload)
        wait_until(lambda: "reason=malformed_cbor" in gateway.log(), 10, "no refusal logged")
    finally:
        gateway.process.stop()  # the summary of the last partial hour is written at stop
    done = run_ruong(
        "--config", str(gateway.config), "audit", "list", "--action", "uplink", "--json"
    )
    assert done.returncode == 0, done.stderr
    events = {e["actor"]: e for e in json.loads(done.stdout)}
    assert events[f"node:{node.node}"]["details"] == {"bad_mac": 2}
    assert events[f"node:{node.node}"]["target"] == node.node
    (unknown,) = [e for a, e in events.items() if a.startswith("peer:")]
    assert unknown["details"] == {"malformed_cbor": 1} and unknown["client"]
    forwarded = [listener.recv(4096) for _ in range(2)]
    listener.close()
    assert all(b"uplink.rejected" in m for m in forwarded)


def test_audit_list_filters_by_time_and_action(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "ruong.toml", registry_url=f"sqlite:///{tmp_path / 'registry.db'}"
    )
    audit = Audit(db.open_engine(f"sqlite:///{tmp_path / 'registry.db'}"))
    audit.record("a", "login", "success")
    audit.record("b", "node.revoke", "success", target="n1")

    def listed(*args: str) -> list[str]:
        done = run_ruong("--config", str(config), "audit", "list", *args)
        assert done.returncode == 0, done.stderr
        return [e["action"] for e in json.loads(done.stdout)]

    assert listed("--json") == ["login", "node.revoke"]
    assert listed("--json", "--action", "node.") == ["node.revoke"]
    assert listed("--json", "--since", "2999-01-01T00:00") == []
