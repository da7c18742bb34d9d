"""MQTT ingest on aiomqtt: subscribes QoS 1 to `ruong/+/up` in a persistent session.

PUBACK only after the spool has the uplink: paho's manual-ack mode is switched on through
aiomqtt's one seam to paho (`Client._client`), since aiomqtt 2.x has no public ack call. A
rejected uplink is acknowledged and dropped (retrying it could never succeed) with its reason
counted. When the spool cannot take it (over its bound) the message is held unacknowledged and
retried; the broker's in-flight window then stops sending, which is MQTT's flow control.
"""

from __future__ import annotations

import asyncio
import logging

import aiomqtt

from backend.config import Endpoint
from gateway.ingest import Ingest, NotDurable
from gateway.uplink import UplinkRejected

log = logging.getLogger("ruong.gateway.mqtt")

UPLINK_FILTER = "ruong/+/up"


def _acknowledge(client: aiomqtt.Client, message: aiomqtt.Message) -> None:
    if message.qos > 0:
        client._client.ack(message.mid, message.qos)


async def _handle(ingest: Ingest, message: aiomqtt.Message) -> None:
    """Spool one message, retrying while the spool cannot take it; rejected ones just return."""
    topic = str(message.topic)
    claimed = topic.split("/")[1] if topic.count("/") == 2 else ""
    if not isinstance(message.payload, bytes | bytearray):  # aiomqtt's type allows str/int
        ingest.reject(UplinkRejected("not_bytes", "payload is not bytes"), "mqtt", topic)
        return
    delay = 0.5
    while True:
        try:
            await ingest.accept(bytes(message.payload), "mqtt", topic, claimed_node=claimed)
            return
        except UplinkRejected:
            return  # counted and logged by Ingest; acknowledged so it is never redelivered
        except NotDurable as exc:
            log.warning("holding PUBACK, retry in %.1f s: %s", delay, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


async def _acknowledge_in_order(
    client: aiomqtt.Client, pending: asyncio.Queue[tuple[aiomqtt.Message, asyncio.Task[None]]]
) -> None:
    """PUBACK each message once durable, in the order received (MQTT 3.1.1 s4.6)."""
    while True:
        message, task = await pending.get()
        await task
        _acknowledge(client, message)


async def run_mqtt(
    ingest: Ingest,
    broker: Endpoint,
    client_id: str = "ruong-gateway",
    in_flight: int = 1000,
) -> None:
    """Consume uplinks forever, reconnecting with backoff when the broker goes away.

    Up to `in_flight` messages are verified and spooled concurrently (so they share spool
    commits); when that many wait, reading from the broker pauses.
    """
    delay = 0.5
    while True:
        client = aiomqtt.Client(
            broker.host,
            broker.port,
            identifier=client_id,
            clean_session=False,
            username=broker.username,
            password=broker.password,
        )
        client._client.manual_ack_set(True)
        pending: asyncio.Queue[tuple[aiomqtt.Message, asyncio.Task[None]]] = asyncio.Queue(
            in_flight
        )
        acker: asyncio.Task[None] | None = None
        try:
            async with client:
                await client.subscribe(UPLINK_FILTER, qos=1)
                log.info("MQTT subscribed to %s on %s", UPLINK_FILTER, broker.url)
                delay = 0.5
                acker = asyncio.create_task(_acknowledge_in_order(client, pending))
                async for message in client.messages:
                    await pending.put((message, asyncio.create_task(_handle(ingest, message))))
                    if acker.done():
                        acker.result()  # raise what stopped it
        except aiomqtt.MqttError as exc:
            log.warning(
                "MQTT connection to %s lost (%s), reconnecting in %.1f s", broker.url, exc, delay
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
        finally:
            # Unacknowledged messages are redelivered by the broker (persistent session); the
            # ones already spooled come back as duplicates and are stored once.
            if acker is not None:
                acker.cancel()
            while not pending.empty():
                pending.get_nowait()[1].cancel()
