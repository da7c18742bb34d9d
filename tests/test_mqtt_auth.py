"""The broker lets in only the accounts the registry gives out, each to its own topics, over
TCP or TLS (docs/mqtt-broker.md): real Mosquitto 2, real sockets, the real gateway and the
firmware on MicroPython, the test CA made by trustme."""

from __future__ import annotations

import json
import queue
import re
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from backend.config import ConfigError, load_settings
from backend.mqtt_auth import (
    PASSWORD_LABEL,
    acl_file,
    broker_accounts,
    check_password,
    hash_password,
    node_password,
)
from backend.registry import NodeInfo, Registry
from backend.store import open_store
from ruong.services import MosquittoServer, require_binary, start_mosquitto
from ruong.sim import start_node
from tests.conftest import MqttTestClient, Pki, make_pki, start_gateway, wait_until, write_config
from tests.test_cli import ruong

pytestmark = pytest.mark.services


def mqtt_string(data: str | bytes) -> bytes:
    raw = data.encode() if isinstance(data, str) else data
    return len(raw).to_bytes(2, "big") + raw


def connack_code(
    port: int, user: str | None = None, password: str | None = None, ca: Path | None = None
) -> int:
    """The return code of the broker's CONNACK (MQTT 3.1.1 s3.2.2.3: 0 accepted, 5 not
    authorised) to a CONNECT written out here byte by byte; `ca` speaks TLS."""
    flags = 0x02 | (0x80 if user is not None else 0) | (0x40 if password is not None else 0)
    payload = mqtt_string(f"probe-{time.time_ns()}")
    payload += mqtt_string(user) if user is not None else b""
    payload += mqtt_string(password) if password is not None else b""
    body = mqtt_string("MQTT") + bytes([4, flags, 0, 10]) + payload
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        sock = raw
        if ca is not None:
            context = ssl.create_default_context(cafile=str(ca))
            sock = context.wrap_socket(raw, server_hostname="127.0.0.1")
        sock.sendall(bytes([0x10, len(body)]) + body)
        reply = b""
        while len(reply) < 4:
            chunk = sock.recv(4 - len(reply))
            assert chunk, f"broker closed the connection after {reply!r}"
            reply += chunk
    assert reply[:2] == b"\x20\x02", reply
    return reply[3]


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory, pki: Pki) -> Iterator[MosquittoServer]:
    """This module's own Mosquitto (its accounts are the tests' business), with a TCP and a
    TLS listener."""
    server = start_mosquitto(tmp_path_factory.mktemp("auth-broker"), tls=(pki.cert, pki.key))
    yield server
    server.stop()


@pytest.fixture
def nodes(broker: MosquittoServer) -> list[NodeInfo]:
    """Two provisioned nodes the broker knows."""
    registry = Registry("sqlite://")
    infos = [registry.provision("auth-farm", f"f-{i}", "mqtt") for i in (1, 2)]
    registry.close()
    broker.allow(infos)
    return infos


def as_node(broker: MosquittoServer, node: NodeInfo) -> MqttTestClient:
    client = MqttTestClient(broker.port, node.node, node_password(node.key), node.node)
    assert client.connack == 0
    return client


def as_gateway(broker: MosquittoServer, client_id: str = "test-gateway") -> MqttTestClient:
    client = MqttTestClient(broker.port, broker.gateway_user, broker.gateway_password, client_id)
    assert client.connack == 0
    return client


# -- pure -------------------------------------------------------------------------------------
def test_a_nodes_password_is_hmac_of_its_key_and_reveals_nothing_else() -> None:
    import base64
    import hashlib
    import hmac

    key = bytes(range(32))
    password = node_password(key)
    digest = hmac.new(key, b"ruong mqtt password v1", hashlib.sha256).digest()
    assert PASSWORD_LABEL == b"ruong mqtt password v1"
    assert base64.urlsafe_b64decode(password + "=") == digest  # 256 bits, base64url
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", password)
    assert node_password(key) == password  # derived, so regenerated at any time
    assert node_password(bytes(32)) != password
    assert key.hex() not in password


def test_revoked_nodes_get_no_account_and_no_node_takes_the_gateways_name() -> None:
    registry = Registry("sqlite://")
    live = registry.provision("f", "a", "mqtt")
    gone = registry.provision("f", "b", "coap")
    registry.revoke(gone.node)
    accounts = broker_accounts(registry.nodes(), "ruong-gateway", "s3cret")
    assert accounts == {"ruong-gateway": "s3cret", live.node: node_password(live.key)}
    with pytest.raises(ValueError, match="gateway's username"):
        broker_accounts(registry.nodes(), live.node, "s3cret")
    registry.close()
    assert "pattern write ruong/%u/up" in acl_file("ruong-gateway")


def test_the_hash_is_mosquitto_passwds_format_and_checks_its_hashes(tmp_path: Path) -> None:
    """backend/mqtt_auth.py and Debian's mosquitto_passwd write the same `$7$` lines: each
    checks the other's (mosquitto_passwd's own by our check_password, ours by Mosquitto in
    test_the_written_password_file_lets_the_node_in)."""
    passwd = tmp_path / "passwd"
    subprocess.run(
        [require_binary("mosquitto_passwd"), "-c", "-b", str(passwd), "n0a1b2c3d", "s3cret"],
        check=True,
        capture_output=True,
    )
    theirs = passwd.read_text().strip().split(":", 1)[1]
    ours = hash_password("s3cret")
    shape = r"\$7\$101\$[A-Za-z0-9+/]{16}\$[A-Za-z0-9+/]{86}=="  # 12-byte salt, 64-byte hash
    assert re.fullmatch(shape, theirs) and re.fullmatch(shape, ours)
    assert check_password("s3cret", theirs) and check_password("s3cret", ours)
    assert not check_password("s3cret!", theirs)
    assert hash_password("s3cret") != ours  # salted afresh each time


def test_mqtts_urls_and_the_ca_file_are_checked_at_start(tmp_path: Path, pki: Pki) -> None:
    config = write_config(
        tmp_path / "ruong.toml",
        mqtt_url="mqtts://ruong-gateway:p%40ss@broker.example",
        mqtt_ca_file=str(pki.ca),
    )
    broker = load_settings(config, env={}).mqtt
    assert broker is not None
    assert (broker.scheme, broker.port, broker.ca_file) == ("mqtts", 8883, str(pki.ca))
    assert (broker.username, broker.password) == ("ruong-gateway", "p@ss")
    assert broker.redacted == "mqtts://ruong-gateway:***@broker.example"
    assert "p@ss" not in repr(broker)
    with pytest.raises(ConfigError, match="mqtt.ca_file .*mqtts:// .*only"):
        load_settings(config, env={"RUONG_MQTT_URL": "mqtt://broker.example"})
    with pytest.raises(ConfigError, match="RUONG_MQTT_CA_FILE.*not a file"):
        load_settings(config, env={"RUONG_MQTT_CA_FILE": str(tmp_path / "missing.pem")})
    with pytest.raises(ConfigError, match="mqtt.url"):
        load_settings(config, env={"RUONG_MQTT_URL": "mqtt+tls://broker.example"})


def test_the_config_a_flash_writes_carries_the_account_and_over_tls_the_ca(
    tmp_path: Path, pki: Pki
) -> None:
    from ruong.technician.flash import NODE_CA_FILE, node_ca, node_config, node_gateway

    config = write_config(
        tmp_path / "ruong.toml",
        mqtt_url="mqtts://ruong-gateway:x@192.168.4.2",
        mqtt_ca_file=str(pki.ca),
    )
    settings = load_settings(config, env={})
    registry = Registry("sqlite://")
    info = registry.provision("f", "x", "mqtt")
    registry.close()
    url = node_gateway(settings, info, "esp32", None)
    assert url == "mqtts://192.168.4.2:8883"  # no gateway credentials in a node's config
    written = node_config(info, url, "esp32", 900.0, None)
    assert written["mqtt_user"] == info.node
    assert written["mqtt_password"] == node_password(info.key)
    assert written["mqtt_ca"] == NODE_CA_FILE
    assert node_ca(settings) == ssl.PEM_cert_to_DER_cert(pki.ca.read_text())
    plain = node_config(info, "mqtt://192.168.4.2:1883", "esp32", 900.0, None)
    assert "mqtt_ca" not in plain and plain["mqtt_user"] == info.node


# -- who may log in ---------------------------------------------------------------------------
def test_an_anonymous_client_is_refused(broker: MosquittoServer) -> None:
    assert connack_code(broker.port) == 5  # not authorised


def test_a_wrong_password_is_refused(broker: MosquittoServer, nodes: list[NodeInfo]) -> None:
    node = nodes[0]
    assert connack_code(broker.port, node.node, "not-its-password") == 5
    assert connack_code(broker.port, node.node, node_password(nodes[1].key)) == 5  # another's
    assert connack_code(broker.port, broker.gateway_user, "guess") == 5
    assert connack_code(broker.port, node.node) == 5  # no password at all


def test_the_written_password_file_lets_the_node_in(
    broker: MosquittoServer, nodes: list[NodeInfo]
) -> None:
    """The `$7$` lines backend/mqtt_auth.py wrote are what real Mosquitto checks logins with."""
    lines = dict(line.split(":", 1) for line in broker.passwd_path.read_text().splitlines())
    for node in nodes:
        assert check_password(node_password(node.key), lines[node.node])
        assert connack_code(broker.port, node.node, node_password(node.key)) == 0
    assert connack_code(broker.port, broker.gateway_user, broker.gateway_password) == 0


def test_a_revoked_node_cannot_connect_after_sync(tmp_path: Path) -> None:
    """`ruong node revoke`, `ruong mqtt sync`, reload: the revoked node's login fails, the
    others still work; provisioning one more and syncing lets it in."""
    server = start_mosquitto(tmp_path / "mosquitto")
    try:
        config = write_config(
            tmp_path / "ruong.toml",
            site_farm="auth-farm",
            mqtt_url=server.gateway_url,
            registry_url=f"sqlite:///{tmp_path / 'registry.db'}",
        )
        argv = ["--config", str(config)]
        sync = [*argv, "mqtt", "sync", "--passwd", str(server.passwd_path)]
        sync += ["--acl", str(server.acl_path)]
        with Registry(f"sqlite:///{tmp_path / 'registry.db'}") as registry:
            kept, revoked = (registry.provision("auth-farm", f"f-{i}", "mqtt") for i in (1, 2))
        done = ruong(*sync, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "2 node accounts" in done.stdout
        server.reload()
        for node in (kept, revoked):
            assert connack_code(server.port, node.node, node_password(node.key)) == 0

        assert ruong(*argv, "node", "revoke", revoked.node, cwd=tmp_path).returncode == 0
        assert connack_code(server.port, revoked.node, node_password(revoked.key)) == 0  # yet
        connected = MqttTestClient(
            server.port, revoked.node, node_password(revoked.key), revoked.node
        )
        assert connected.connack == 0
        done = ruong(*sync, cwd=tmp_path)
        assert done.returncode == 0, done.stderr
        assert "1 node accounts" in done.stdout and "1 revoked nodes left out" in done.stdout
        server.reload()
        assert connack_code(server.port, revoked.node, node_password(revoked.key)) == 5
        # and the reload disconnected it (paho's reconnects are refused from then on)
        wait_until(lambda: not connected.client.is_connected(), 10, "revoked node still on")
        connected.close()
        assert connack_code(server.port, kept.node, node_password(kept.key)) == 0
        assert connack_code(server.port, server.gateway_user, server.gateway_password) == 0

        provision = [*argv, "node", "provision", "--field", "f-3", "--transport", "mqtt"]
        new = ruong(*provision, "--json", cwd=tmp_path)
        assert new.returncode == 0, new.stderr
        info = json.loads(new.stdout)
        assert info["mqtt_user"] == info["node"]
        assert connack_code(server.port, info["mqtt_user"], info["mqtt_password"]) == 5  # yet
        assert ruong(*sync, cwd=tmp_path).returncode == 0
        server.reload()
        assert connack_code(server.port, info["mqtt_user"], info["mqtt_password"]) == 0
    finally:
        server.stop()


def test_sync_needs_the_gateways_account_in_the_mqtt_url(tmp_path: Path) -> None:
    config = write_config(
        tmp_path / "ruong.toml",
        mqtt_url="mqtt://127.0.0.1:1883",
        registry_url=f"sqlite:///{tmp_path / 'registry.db'}",
    )
    done = ruong(
        "--config", str(config), "mqtt", "sync",
        "--passwd", str(tmp_path / "passwd"), "--acl", str(tmp_path / "acl"), cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2
    assert "gateway's account" in done.stderr
    assert not (tmp_path / "passwd").exists()


# -- what each account may do -------------------------------------------------------------------
def test_a_node_cannot_publish_on_another_nodes_topics(
    broker: MosquittoServer, nodes: list[NodeInfo]
) -> None:
    """The broker PUBACKs the forgery (MQTT 3.1.1 has no way to say no) and drops it: the
    gateway, subscribed to every node's uplinks and status, gets only the node's own."""
    a, b = nodes
    gateway = as_gateway(broker)
    node = as_node(broker, a)
    try:
        assert gateway.subscribe("ruong/+/up") == [1]
        assert gateway.subscribe("ruong/+/status") == [1]
        node.publish(f"ruong/{b.node}/up", b"forged uplink")
        node.publish(f"ruong/{b.node}/status", b"offline", retain=True)
        node.publish(f"ruong/{b.node}/config", b"forged config", retain=True)
        node.publish(f"ruong/{a.node}/up", b"own uplink")  # sent last, so it arrives last
        assert gateway.next(f"ruong/{a.node}/up") == (b"own uplink", 1, False)
        with pytest.raises(queue.Empty):
            gateway.messages.get(timeout=0.5)
    finally:
        node.close()
        gateway.close()
    late = as_node(broker, b)  # nothing of the forgeries was retained for b either
    try:
        assert late.subscribe(f"ruong/{b.node}/config") == [1]
        with pytest.raises(queue.Empty):
            late.messages.get(timeout=0.5)
    finally:
        late.close()


def test_a_node_reads_only_its_own_config(broker: MosquittoServer, nodes: list[NodeInfo]) -> None:
    """Subscribing to `ruong/#` or another node's config delivers nothing of theirs (Mosquitto
    2.0 grants such a SUBACK and filters each message on delivery, or answers 0x80)."""
    a, b = nodes
    gateway = as_gateway(broker, "test-gateway-config")
    node = as_node(broker, a)
    try:
        for topic in ("ruong/#", f"ruong/{b.node}/config", f"ruong/{a.node}/config"):
            assert node.subscribe(topic)[0] in (1, 0x80)
        other = as_node(broker, b)
        try:
            other.publish(f"ruong/{b.node}/up", b"b's uplink")
            other.publish(f"ruong/{b.node}/status", b"online", retain=True)
        finally:
            other.close()
        gateway.publish(f"ruong/{b.node}/config", b"b's config", retain=True)
        gateway.publish(f"ruong/{a.node}/config", b"a's config", retain=True)
        assert node.next(f"ruong/{a.node}/config")[0] == b"a's config"
        with pytest.raises(queue.Empty):
            node.messages.get(timeout=0.5)  # nothing of b's: neither uplink, status nor config
    finally:
        gateway.publish(f"ruong/{b.node}/config", b"", retain=True)
        gateway.publish(f"ruong/{a.node}/config", b"", retain=True)
        node.close()
        gateway.close()


def test_the_gateway_cannot_pose_as_a_node(broker: MosquittoServer, nodes: list[NodeInfo]) -> None:
    """Its account reads uplinks and writes configs; an uplink or status it publishes is
    dropped."""
    a, _ = nodes
    gateway = as_gateway(broker, "test-gateway-writer")
    reader = as_gateway(broker, "test-gateway-reader")
    try:
        assert reader.subscribe("ruong/+/up") == [1]
        gateway.publish(f"ruong/{a.node}/up", b"from the gateway")
        node = as_node(broker, a)
        try:
            node.publish(f"ruong/{a.node}/up", b"from the node")
        finally:
            node.close()
        assert reader.next(f"ruong/{a.node}/up")[0] == b"from the node"
        with pytest.raises(queue.Empty):
            reader.messages.get(timeout=0.5)
    finally:
        gateway.close()
        reader.close()


# -- TLS -----------------------------------------------------------------------------------
def test_tls_listener_takes_the_same_accounts(
    broker: MosquittoServer, nodes: list[NodeInfo], pki: Pki, tmp_path: Path
) -> None:
    port = broker.tls_port
    assert port is not None
    node = nodes[0]
    assert connack_code(port, ca=pki.ca) == 5
    assert connack_code(port, node.node, node_password(node.key), ca=pki.ca) == 0
    stranger = make_pki(tmp_path / "stranger")
    with pytest.raises(ssl.SSLCertVerificationError):
        connack_code(port, node.node, node_password(node.key), ca=stranger.ca)


@pytest.mark.micropython
def test_a_node_over_tls_reaches_the_gateway_over_tls(
    broker: MosquittoServer, pki: Pki, tmp_path: Path
) -> None:
    """mqtts:// end to end: the firmware on MicroPython (DER CA from `[mqtt] ca_file`, its
    derived password) -> Mosquitto's TLS listener -> the gateway, logged in over TLS too
    (`[mqtt] url = mqtts://ruong-gateway:...`, the same CA) -> the store."""
    gateway = start_gateway(
        tmp_path / "gw",
        f"sqlite:///{tmp_path / 'readings.db'}",
        broker.gateway_tls_url,
        mqtt_ca_file=str(pki.ca),
    )
    try:
        gateway.process.wait_for_log("MQTT subscribed to ruong/+/up on mqtts://", 20)
        assert broker.gateway_password not in gateway.log()  # the URL is logged redacted
        with gateway.registry() as registry:
            info = registry.provision("test-farm", "tls-1", "mqtt")
        broker.allow([info])
        node = start_node(
            info, gateway.settings, tmp_path / "nodes", cycles=2, interval_s=1.0, seed=1
        )
        out, err = node.proc.communicate(timeout=120)
        assert node.proc.returncode == 0, out + err
        reports = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        assert [r["result"] for r in reports] == ["puback", "puback"]
        config = json.loads(node.config_path.read_text())
        assert config["gateway"] == f"mqtts://127.0.0.1:{broker.tls_port}"
        assert config["mqtt_user"] == info.node
        store = open_store(gateway.settings.store)
        try:
            wait_until(
                lambda: len(store.rows("readings", {"node": info.node}, since_ms=0)) == 2,
                20,
                "the TLS node's readings did not reach the store",
            )
        finally:
            store.close()
    finally:
        gateway.process.stop()


@pytest.mark.micropython
def test_tls_with_a_ca_that_did_not_sign_the_broker_fails_on_both_sides(
    broker: MosquittoServer, pki: Pki, tmp_path: Path
) -> None:
    """A node or a gateway given another CA refuses the broker: the node's cycle reports
    "error:tls" (the sample stays in its outbox), the gateway logs and retries."""
    stranger = make_pki(tmp_path / "stranger")
    gateway = start_gateway(
        tmp_path / "gw",
        f"sqlite:///{tmp_path / 'readings.db'}",
        broker.gateway_tls_url,
        mqtt_ca_file=str(stranger.ca),
    )
    try:
        gateway.process.wait_for_log("TLS connect failed", 20)
        assert "certificate verify failed" in gateway.log()
        assert "MQTT subscribed" not in gateway.log()
        with gateway.registry() as registry:
            info = registry.provision("test-farm", "tls-2", "mqtt")
        broker.allow([info])
        node = start_node(
            info, gateway.settings, tmp_path / "nodes", cycles=1, interval_s=0.5, seed=1
        )
        out, err = node.proc.communicate(timeout=120)
        assert node.proc.returncode == 3, out + err  # not acknowledged
        (report,) = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        assert report["result"] == "error:tls" and report["queued"] >= 1
    finally:
        gateway.process.stop()
