"""The firmware's MQTT client (on MicroPython) against a real Mosquitto broker: QoS 1
uplinks on ruong/<node>/up, retained "online" status, and the "offline" last will."""

from __future__ import annotations

import queue
import subprocess
import time
from collections.abc import Iterator

import paho.mqtt.client as paho
import pytest
from firmware_helpers import (
    FIRMWARE_DIR,
    HEAP,
    NODE_ID,
    FakeBroker,
    lookup_for,
    node_info,
    publish_topic_and_id,
)

from gateway.uplink import decode_uplink

pytestmark = [pytest.mark.micropython, pytest.mark.services]


class Subscriber:
    """A paho-mqtt client collecting (topic, payload, qos, retain) from ruong/<node>/#."""

    def __init__(self, port: int, topic: str) -> None:
        self.messages: queue.Queue[tuple[str, bytes, int, bool]] = queue.Queue()
        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2)
        self.client.on_message = lambda c, u, m: self.messages.put(
            (m.topic, m.payload, m.qos, bool(m.retain))
        )
        subscribed = queue.Queue()
        self.client.on_subscribe = lambda *args: subscribed.put(True)
        self.client.connect("127.0.0.1", port)
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
def subscriber(mosquitto) -> Iterator[Subscriber]:
    sub = Subscriber(mosquitto.port, f"ruong/{NODE_ID}/#")
    yield sub
    sub.close()


def uplink_script(port: int, sends: int = 1, then: str = "c.close()\n") -> str:
    return (
        "import mqtt, cose, senml, hal, sim_field\n"
        "f = sim_field.Field('ruong-1', 1)\n"
        f"c = mqtt.MQTTClient({NODE_ID!r}, '127.0.0.1', {port}, keepalive_s=30)\n"
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
    late = Subscriber(mosquitto.port, topic)  # a dashboard joining later
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
    import socket

    def respond(conn: socket.socket, first: int, body: bytes) -> None:
        if first & 0xF6 == 0x32:  # QoS 1 PUBLISH
            publishes = [f for f, _ in broker.seen if f & 0xF6 == 0x32]
            # PUBACK "online" at once; the uplink only on its second (DUP) send
            if len(publishes) != 2:
                conn.sendall(b"\x40\x02" + publish_topic_and_id(body)[1])

    broker = FakeBroker(respond)
    script = uplink_script(broker.port).replace(
        "keepalive_s=30", "keepalive_s=30, ack_timeout_s=0.3"
    )
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
