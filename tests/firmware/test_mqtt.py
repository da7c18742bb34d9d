"""The firmware's MQTT client (on MicroPython) against a real Mosquitto broker with
authentication on: QoS 1 uplinks on ruong/<node>/up, retained "online" status, the "offline"
last will, and the credentials in CONNECT."""

from __future__ import annotations

import queue
import socket
import subprocess
import time
from collections.abc import Iterator

import paho.mqtt.client as paho
import pytest
from firmware_helpers import (
    FIRMWARE_DIR,
    HEAP,
    KEY,
    NODE_ID,
    FakeBroker,
    lookup_for,
    node_info,
    publish_topic_and_id,
    reports,
    write_config,
)

from backend.mqtt_auth import ca_der, node_password
from gateway.uplink import decode_uplink
from ruong.services import MosquittoServer

pytestmark = [pytest.mark.micropython, pytest.mark.services]


PASSWORD = node_password(KEY)  # the node's broker password, derived from its key


class Subscriber:
    """A paho-mqtt client, logged in as the gateway (which may read every node's uplinks and
    status), collecting (topic, payload, qos, retain) from ruong/<node>/#."""

    def __init__(self, broker: MosquittoServer, topic: str) -> None:
        self.messages: queue.Queue[tuple[str, bytes, int, bool]] = queue.Queue()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2)
        self.client.username_pw_set(broker.gateway_user, broker.gateway_password)
        self.client.on_message = lambda c, u, m: self.messages.put(
            (m.topic, m.payload, m.qos, bool(m.retain))
        )
        subscribed = queue.Queue()
        self.client.on_subscribe = lambda *args: subscribed.put(True)
        self.client.connect("127.0.0.1", broker.port)
        self.client.loop_start()
        self.client.subscribe(topic, qos=1)
        subscribed.get(timeout=5)

    def next(self, topic: str, timeout: float = 10, live: bool = False) -> tuple[bytes, int, bool]:
        """Next message on `topic`; with `live`, skip retained ones left by earlier tests."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.messages.get(timeout=max(0.01, deadline - time.monotonic()))
            if got[0] == topic and not (live and got[3]):
                return got[1], got[2], got[3]

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


@pytest.fixture
def subscriber(mosquitto: MosquittoServer) -> Iterator[Subscriber]:
    mosquitto.allow([node_info()])  # the node's account
    sub = Subscriber(mosquitto, f"ruong/{NODE_ID}/#")
    yield sub
    sub.close()


def uplink_script(
    port: int,
    sends: int = 1,
    then: str = "c.close()\n",
    password: str | None = PASSWORD,
    options: str = "",
) -> str:
    """Publish `sends` uplinks logged in as the node (username = node id), print each result
    and the uplink's hex; `options` are more MQTTClient keywords (", tls_ca='...'")."""
    login = f"user={NODE_ID!r}, password={password!r}" if password else "user=None"
    return (
        "import mqtt, cose, senml, hal, sim_field\n"
        "f = sim_field.Field('ruong-1', 1)\n"
        f"c = mqtt.MQTTClient({NODE_ID!r}, '127.0.0.1', {port}, keepalive_s=30, {login}"
        f"{options})\n"
        f"for ctr in range(1, {sends + 1}):\n"
        f"    pack = senml.encode({NODE_ID!r}, hal.unix_time_s(), f.sample(hal.unix_time_s()))\n"
        f"    msg = cose.mac0(bytes(range(32)), {NODE_ID!r}, ctr, pack)\n"
        "    print(c.send(msg), msg.hex())\n" + then
    )


def test_uplinks_arrive_qos1_with_retained_online_status(mp, mosquitto, subscriber) -> None:
    out = mp.run(uplink_script(mosquitto.port, sends=2)).stdout.splitlines()
    assert [line.split()[0] for line in out] == ["puback", "puback"]
    assert subscriber.next(f"ruong/{NODE_ID}/status", live=True) == (b"online", 1, False)
    for ctr, line in enumerate(out, start=1):
        payload, qos, _retain = subscriber.next(f"ruong/{NODE_ID}/up")
        assert payload == bytes.fromhex(line.split()[1])
        assert qos == 1
        assert decode_uplink(payload, lookup_for(node_info()), time.time()).counter == ctr


def test_a_node_that_stops_says_offline_itself_and_no_will_follows(
    mp, mosquitto, subscriber
) -> None:
    """close() (the node stops, or a board goes to deep sleep) publishes the retained
    "offline" at QoS 0 and DISCONNECTs, so the broker drops the will (QoS 1): a dashboard
    joining later sees "offline", and no will comes after."""
    out = mp.run(uplink_script(mosquitto.port)).stdout.split()
    assert out[0] == "puback"
    topic = f"ruong/{NODE_ID}/status"
    assert subscriber.next(topic, live=True) == (b"online", 1, False)
    assert subscriber.next(topic, live=True) == (b"offline", 0, False)  # said by the node
    with pytest.raises(queue.Empty):
        subscriber.next(topic, timeout=1.5, live=True)  # and no will (QoS 1) after it
    late = Subscriber(mosquitto, topic)  # a dashboard joining later
    try:
        assert late.next(topic) == (b"offline", 0, True)
    finally:
        late.close()


@pytest.mark.parametrize(("resets", "order"), [(True, ["close", "sleep"]), (False, ["sleep"])])
def test_a_board_closes_its_transport_before_a_deep_sleep(mp, resets: bool, order: list) -> None:
    """app.sleep: a deep sleep ends in a reset (no `finally` runs), so the board closes the
    transport first; the host, whose sleep returns, keeps its connection between cycles."""
    script = (
        "import app\n"
        "done = []\n"
        "class Board:\n"
        f"    sleep_resets = {resets}\n"
        "    def sleep_s(self, s):\n"
        "        done.append('sleep')\n"
        "class Transport:\n"
        "    def close(self):\n"
        "        done.append('close')\n"
        "app.sleep(Board(), Transport(), 900)\n"
        "print(' '.join(done))\n"
    )
    assert mp.run(script).stdout.split() == order


def test_last_will_says_offline_when_the_node_dies(micropython, mosquitto, subscriber) -> None:
    script = uplink_script(mosquitto.port, then="import time\ntime.sleep(60)\n")
    prologue = f"import sys\nsys.path.insert(0, {str(FIRMWARE_DIR)!r})\n"
    proc = subprocess.Popen(
        [micropython, "-X", f"heapsize={HEAP}", "-c", prologue + script],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().startswith("puback")
        assert subscriber.next(f"ruong/{NODE_ID}/status", live=True)[0] == b"online"
        proc.kill()  # power cut: no DISCONNECT, so the broker publishes the will
        proc.wait(5)
        assert subscriber.next(f"ruong/{NODE_ID}/status", live=True) == (b"offline", 1, False)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)


def test_broker_down_is_a_result_not_a_crash(mp) -> None:
    from ruong.services import free_port

    out = mp.run(uplink_script(free_port())).stdout.split()
    assert out[0] == "error:111"  # ECONNREFUSED, reported per cycle


@pytest.mark.micropython
def test_publish_is_resent_with_dup_until_puback(mp) -> None:
    def respond(conn: socket.socket, first: int, body: bytes) -> None:
        if first & 0xF6 == 0x32:  # QoS 1 PUBLISH
            publishes = [f for f, _ in broker.seen if f & 0xF6 == 0x32]
            # PUBACK "online" at once; the uplink only on its second (DUP) send
            if len(publishes) != 2:
                conn.sendall(b"\x40\x02" + publish_topic_and_id(body)[1])

    broker = FakeBroker(respond)
    script = uplink_script(broker.port, password=None, options=", ack_timeout_s=0.3")
    out = mp.run(script).stdout.split()
    broker.close()
    assert out[0] == "puback"
    connect, online, first_up, dup_up, offline, disconnect = broker.seen
    assert connect[0] == 0x10 and connect[1][:7] == b"\x00\x04MQTT\x04"
    assert connect[1][7] == 0x2E  # clean session, will flag, will QoS 1, will retain
    assert online[0] == 0x33  # PUBLISH QoS 1 retained
    assert first_up[0] == 0x32 and dup_up[0] == 0x3A  # QoS 1, then QoS 1 + DUP
    assert first_up[1] == dup_up[1]  # same packet id and payload
    status = f"ruong/{NODE_ID}/status".encode()
    assert offline == (0x31, len(status).to_bytes(2, "big") + status + b"offline")  # QoS 0
    assert disconnect == (0xE0, b"")


def mqtt_string(text: str) -> bytes:
    """An MQTT UTF-8 string (s1.5.3): two-byte length, then the bytes."""
    data = text.encode()
    return len(data).to_bytes(2, "big") + data


@pytest.mark.parametrize("password", [PASSWORD, None], ids=["user+password", "user only"])
def test_connect_carries_the_username_and_password(mp, password: str | None) -> None:
    """MQTT 3.1.1 s3.1.2.8/9: User Name flag 0x80, Password flag 0x40 (only with a user
    name); s3.1.3: the payload is client id, will topic, will message, user name, password,
    in that order. The expected bytes are written out here, not taken from the firmware."""

    def respond(conn: socket.socket, first: int, body: bytes) -> None:
        if first & 0xF6 == 0x32:
            conn.sendall(b"\x40\x02" + publish_topic_and_id(body)[1])

    broker = FakeBroker(respond)
    login = f"user={NODE_ID!r}, password={password!r}"
    script = uplink_script(broker.port, password=None).replace("user=None", login)
    assert mp.run(script).stdout.split()[0] == "puback"
    broker.close()
    first, body = broker.seen[0]
    flags = 0x80 | (0x40 if password else 0) | 0x2E  # + clean, will, will QoS 1, will retain
    expected = (
        mqtt_string("MQTT")
        + bytes([4, flags])
        + (30).to_bytes(2, "big")  # keepalive_s
        + mqtt_string(NODE_ID)
        + mqtt_string(f"ruong/{NODE_ID}/status")
        + mqtt_string("offline")
        + mqtt_string(NODE_ID)
        + (mqtt_string(password) if password else b"")
    )
    assert (first, body) == (0x10, expected)


@pytest.mark.services
@pytest.mark.parametrize(
    ("password", "result"),
    [(PASSWORD, "puback"), ("not-the-password", "refused:5"), (None, "refused:5")],
    ids=["derived password", "wrong password", "anonymous"],
)
def test_mosquitto_takes_the_derived_password_only(
    mp, mosquitto: MosquittoServer, password: str | None, result: str
) -> None:
    """The node's result per cycle: CONNACK return code 5 (not authorised) is
    "refused:5", reported like any other failed send, not a crash."""
    mosquitto.allow([node_info()])
    out = mp.run(uplink_script(mosquitto.port, password=password)).stdout.split()
    assert out[0] == result


# MQTT over TLS needs more heap on the unix port: 68-70k (FieldHAL, 20 cycles, README "RAM")
# against 60-63k over TCP, which stays held to HEAP
TLS_HEAP = "80k"


@pytest.mark.services
def test_a_long_authenticated_mqtt_run_fits_a_board_sized_heap(
    mp, mosquitto: MosquittoServer, tmp_path
) -> None:
    """main.py logged in with its account, 40 cycles over plain TCP at HEAP."""
    mosquitto.allow([node_info()])
    config = write_config(
        tmp_path, transport="mqtt", gateway=mosquitto.url, cycles=40, interval_s=0,
        mqtt_user=NODE_ID, mqtt_password=PASSWORD,
    )  # fmt: skip
    proc = mp.main(config, timeout=120)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    assert {r["result"] for r in reports(proc.stdout)} == {"puback"}


@pytest.mark.services
def test_main_over_tls_fits_the_tls_heap(mp, mosquitto: MosquittoServer, pki, tmp_path) -> None:
    """main.py over mqtts:// (the broker verified against the DER CA in `mqtt_ca`), 20
    cycles at TLS_HEAP: the uplinks are PUBACKed and reach a subscriber intact."""
    mosquitto.allow([node_info()])
    der = tmp_path / "ca.der"
    der.write_bytes(ca_der(pki.ca))
    config = write_config(
        tmp_path, transport="mqtt", gateway=mosquitto.tls_url, cycles=20, interval_s=0,
        mqtt_user=NODE_ID, mqtt_password=PASSWORD, mqtt_ca=str(der),
    )  # fmt: skip
    proc = mp.main(config, timeout=120, heap=TLS_HEAP)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr
    assert {r["result"] for r in reports(proc.stdout)} == {"puback"}


@pytest.mark.parametrize(
    ("change", "bad_key"),
    [
        ({"gateway": "mqtts://127.0.0.1"}, "mqtt_ca"),  # TLS without a CA to verify with
        ({"mqtt_ca": "ca.der"}, "mqtt_ca"),  # a CA over plain TCP
        ({"gateway": "mqtts://127.0.0.1", "mqtt_ca": "/no/such/ca.der"}, "mqtt_ca"),
        ({"mqtt_password": "x"}, "mqtt_password"),  # a password needs a user name
        ({"mqtt_user": 7}, "mqtt_user"),
    ],
)
def test_bad_mqtt_keys_exit_2_naming_the_key(mp, tmp_path, change: dict, bad_key: str) -> None:
    config = write_config(
        tmp_path, **{"transport": "mqtt", "gateway": "mqtt://127.0.0.1", **change}
    )
    proc = mp.main(config)
    assert proc.returncode == 2
    assert f"'{bad_key}'" in proc.stderr
