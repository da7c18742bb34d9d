"""MQTT ingest on aiomqtt: subscribes QoS 1 to `ruong/+/up` in a persistent session.

PUBACK only after the store has the uplink: paho's manual-ack mode is switched on through
aiomqtt's one seam to paho (`Client._client`), since aiomqtt 2.x has no public ack call. A
rejected uplink is acknowledged and dropped (retrying it could never succeed) with its reason
counted; a store failure is retried with backoff and nothing is acknowledged meanwhile.
"""

from __future__ import annotations

import asyncio
import logging

import aiomqtt

from backend.config import Endpoint
from backend.store import StoreError
from gateway.ingest import Ingest
from gateway.uplink import UplinkRejected

log = logging.getLogger("ruong.gateway.mqtt")

UPLINK_FILTER = "ruong/+/up"


def _acknowledge(client: aiomqtt.Client, message: aiomqtt.Message) -> None:
    if message.qos > 0:
        client._client.ack(message.mid, message.qos)


async def _store_until_durable(ingest: Ingest, message: aiomqtt.Message) -> None:
    delay = 0.5
    while True:
        try:
            topic = str(message.topic)
            claimed = topic.split("/")[1] if topic.count("/") == 2 else ""
            payload = bytes(message.payload)  # type: ignore[arg-type]
            await ingest.accept(payload, "mqtt", topic, claimed_node=claimed)
            return
        except StoreError as exc:
            log.error("store unavailable, holding PUBACK, retry in %.1f s: %s", delay, exc)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)


async def run_mqtt(ingest: Ingest, broker: Endpoint, client_id: str = "ruong-gateway") -> None:
    """Consume uplinks forever, reconnecting with backoff when the broker goes away."""
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
        try:
            async with client:
                await client.subscribe(UPLINK_FILTER, qos=1)
                log.info("MQTT subscribed to %s on %s", UPLINK_FILTER, broker.url)
                delay = 0.5
                async for message in client.messages:
                    if not isinstance(message.payload, bytes | bytearray):
                        ingest.counts["rejected:not_bytes"] += 1
                        _acknowledge(client, message)
                        continue
                    try:
                        await _store_until_durable(ingest, message)
                    except UplinkRejected as exc:
                        # Counted and logged by Ingest; acknowledged below so it is never redelivered.
                        log.debug("dropping rejected uplink on %s: %s", message.topic, exc.reason)
                    _acknowledge(client, message)
        except aiomqtt.MqttError as exc:
            log.warning(
                "MQTT connection to %s lost (%s), reconnecting in %.1f s", broker.url, exc, delay
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
