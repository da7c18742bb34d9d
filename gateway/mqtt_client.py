"""MQTT ingest (MQTT 5, aiomqtt over paho): shared subscription, QoS 1, persistent session.

With `[gateway] mqtt_share_group` set, the gateway subscribes QoS 1 to
`$share/<group>/ruong/+/up`, so several gateway processes in one group split the stream, each
message going to one of them; by default ("") it subscribes to plain `ruong/+/up`, since
Mosquitto 2.0 forgets shared subscriptions over a broker restart (docs/protocol.md). It connects with Clean Start off and a
Session Expiry that never ends, under a client id that names its session
(`[gateway] mqtt_client_id`, default `ruong-gw-<hostname>`; give each process its own). The
broker keeps the session, with unacknowledged and queued uplinks, while the gateway is away.

PUBACK only after the spool has the uplink, in the order the messages arrived (MQTT 5 s4.6):
paho's manual-ack mode is switched on through aiomqtt's one seam to paho (`Client._client`),
since aiomqtt 2.x has no public ack call. Messages go from paho's callback straight into an
inbox, which is spooled in batches (`Ingest.accept_batch`), so many messages share one spool
transaction and there is no task or future per message. A rejected uplink is acknowledged and
dropped (retrying it could never succeed) with its reason counted. When the spool cannot take
an uplink (over its bound, or failing) it and everything after it stay unacknowledged and are
retried; Receive Maximum (`in_flight`) then stops the broker from sending more: MQTT's flow
control.

paho's two largest per-packet costs are removed by `gateway.paho_tuning` (MQTT 5 property
tables built once; socket reads of 64 KiB drained in one event-loop wake-up): together they
were ~60% of the gateway's CPU per uplink under bench/ingest.py.

A broker that does not answer an MQTT 5 CONNECT within 3 s, or refuses its protocol version
(the demo's embedded amqtt speaks 3.1.1 only), gets MQTT 3.1.1 with clean session 0 from then
on, logged as a warning; the broker's own in-flight limit then replaces Receive Maximum.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Any

import aiomqtt
import paho.mqtt.client as paho
from aiomqtt.exceptions import MqttConnectError
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from backend.config import Endpoint
from gateway.ingest import Ingest, NotDurable, Received
from gateway.paho_tuning import buffer_reads, share_property_tables

log = logging.getLogger("ruong.gateway.mqtt")

UPLINK_FILTER = "ruong/+/up"
SESSION_NEVER_EXPIRES = 0xFFFFFFFF  # MQTT 5 s3.1.2.11.2: the session holds acknowledged uplinks
IN_FLIGHT = 2000  # Receive Maximum: unacknowledged QoS 1 messages the broker may send us
BATCH = 1000  # messages per spool transaction at most


def uplink_filter(share_group: str) -> str:
    """`$share/<group>/ruong/+/up`, or the plain filter when `share_group` is ""."""
    return f"$share/{share_group}/{UPLINK_FILTER}" if share_group else UPLINK_FILTER


def default_client_id() -> str:
    """`ruong-gw-<hostname>`: stable across restarts, so the session is found again."""
    return f"ruong-gw-{socket.gethostname()}"


class _Inbox:
    """Where paho's on_message puts messages (on the event loop's thread) until spooled."""

    def __init__(self) -> None:
        self.messages: list[paho.MQTTMessage] = []
        self.arrived = asyncio.Event()

    def on_message(self, _client: paho.Client, _userdata: Any, message: paho.MQTTMessage) -> None:
        self.messages.append(message)
        self.arrived.set()


def _received(message: paho.MQTTMessage) -> Received:
    topic = message.topic
    parts = topic.split("/")
    claimed = parts[1] if len(parts) == 3 else ""
    return Received(message.payload, "mqtt", topic, claimed)


async def _consume(ingest: Ingest, client: aiomqtt.Client, inbox: _Inbox) -> None:
    """Forever: spool what arrived in batches; PUBACK each durable or rejected uplink in order."""
    delay = 0.5
    while True:
        await inbox.arrived.wait()
        inbox.arrived.clear()
        while inbox.messages:
            batch = inbox.messages[:BATCH]
            del inbox.messages[:BATCH]
            outcomes = await ingest.accept_batch([_received(m) for m in batch])
            held = next((i for i, o in enumerate(outcomes) if isinstance(o, NotDurable)), None)
            for message in batch if held is None else batch[:held]:
                if message.qos > 0:
                    client._client.ack(message.mid, message.qos)
            if held is None:
                delay = 0.5
                continue
            inbox.messages[:0] = batch[held:]  # keep the arrival order for the acks
            log.warning(
                "holding PUBACK of %d uplinks, retry in %.1f s: %s",
                len(inbox.messages),
                delay,
                outcomes[held],
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


async def _watch(client: aiomqtt.Client) -> None:
    """Return never; raise MqttError when the connection is lost.

    Messages go to the inbox, so aiomqtt's iterator yields nothing; it still raises on
    disconnect, which is all it is used for.
    """
    async for _ in client.messages:
        pass


V5_PROBE_TIMEOUT_S = 3.0  # a broker that only speaks 3.1.1 may ignore an MQTT 5 CONNECT
UNSUPPORTED_PROTOCOL = (1, 0x84)  # CONNACK: 3.1.1 "unacceptable protocol version", MQTT 5 0x84


def _refuses_v5(exc: aiomqtt.MqttError) -> bool:
    """Whether a failed CONNECT looks like a broker without MQTT 5 (e.g. the demo's amqtt)."""
    if isinstance(exc, MqttConnectError):
        rc = exc.rc.value if isinstance(exc.rc, ReasonCode) else exc.rc
        return rc in UNSUPPORTED_PROTOCOL
    return str(exc) == "Operation timed out"  # aiomqtt's message when no CONNACK came


def _client(
    broker: Endpoint,
    client_id: str,
    protocol: aiomqtt.ProtocolVersion,
    in_flight: int,
    v5_answered: bool,
) -> aiomqtt.Client:
    """An unconnected client for a persistent session: MQTT 5 (Clean Start 0, Session Expiry
    never, Receive Maximum `in_flight`) or 3.1.1 (clean session 0)."""
    common: dict[str, Any] = {
        "identifier": client_id,
        "protocol": protocol,
        "username": broker.username,
        "password": broker.password,
    }
    if protocol is aiomqtt.ProtocolVersion.V5:
        properties = Properties(PacketTypes.CONNECT)
        properties.SessionExpiryInterval = SESSION_NEVER_EXPIRES
        properties.ReceiveMaximum = in_flight
        return aiomqtt.Client(
            broker.host,
            broker.port,
            clean_start=False,
            properties=properties,
            timeout=None if v5_answered else V5_PROBE_TIMEOUT_S,
            **common,
        )
    return aiomqtt.Client(broker.host, broker.port, clean_session=False, **common)


async def run_mqtt(
    ingest: Ingest,
    broker: Endpoint,
    client_id: str = "",
    share_group: str = "",
    in_flight: int = IN_FLIGHT,
) -> None:
    """Consume uplinks forever, reconnecting with backoff when the broker goes away.

    `client_id` "" means `default_client_id()`. Up to `in_flight` messages are unacknowledged
    at a time (MQTT 5 Receive Maximum).
    """
    client_id = client_id or default_client_id()
    subscription = uplink_filter(share_group)
    protocol = aiomqtt.ProtocolVersion.V5
    v5_answered = False  # until a broker answers an MQTT 5 CONNECT, wait for it only briefly
    delay = 0.5
    share_property_tables()
    while True:
        connected = False
        client = _client(broker, client_id, protocol, in_flight, v5_answered)
        buffer_reads(client._client)
        inbox = _Inbox()
        client._client.manual_ack_set(True)
        client._client.on_message = inbox.on_message  # before CONNECT: a session may resume
        tasks: list[asyncio.Task[None]] = []
        try:
            async with client:
                connected = True
                v5_answered = v5_answered or protocol is aiomqtt.ProtocolVersion.V5
                await client.subscribe(subscription, qos=1)
                if share_group:  # a session from before shared subscriptions would get both
                    await client.unsubscribe(UPLINK_FILTER)
                log.info("MQTT subscribed to %s on %s as %s", subscription, broker.url, client_id)
                delay = 0.5
                tasks = [
                    asyncio.create_task(_consume(ingest, client, inbox)),
                    asyncio.create_task(_watch(client)),
                ]
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()  # raise what stopped it
        except aiomqtt.MqttError as exc:
            v5 = protocol is aiomqtt.ProtocolVersion.V5
            if v5 and not connected and not v5_answered and _refuses_v5(exc):
                log.warning(
                    "MQTT broker %s does not take an MQTT 5 CONNECT (%s): using MQTT 3.1.1, "
                    "without Receive Maximum (the broker's in-flight limit applies)",
                    broker.url,
                    exc,
                )
                protocol = aiomqtt.ProtocolVersion.V311
                continue
            log.warning(
                "MQTT connection to %s lost (%s), reconnecting in %.1f s", broker.url, exc, delay
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
        finally:
            # Unacknowledged messages are redelivered by the broker to this session; the ones
            # already spooled come back as duplicates and are stored once.
            for task in tasks:
                task.cancel()
