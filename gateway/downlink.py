"""Config downlink: the registry's newest config of each node, signed with the node's key and
served over CoAP (the payload of the uplink's 2.04) and MQTT (retained on
`ruong/<node>/config`). Byte layout and rules: docs/protocol.md, "Config downlink".

The message is a COSE_Mac0 like an uplink, with the config version as its Partial IV (a node
applies only a version newer than its own, so an old config cannot be replayed) and the
external AAD `b"ruong config"`, so that no uplink can ever pass for a downlink or the
reverse: both are MACed with the same key.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from hashlib import sha256
from typing import cast

import aiomqtt
import cbor2
from prometheus_client import CollectorRegistry, Counter

from backend.config import Endpoint
from backend.registry import Registry
from gateway.mqtt_client import tls_context
from gateway.uplink import (
    ALG_HMAC_256_64,
    COSE_MAC0_TAG,
    HDR_ALG,
    HDR_KID,
    HDR_PARTIAL_IV,
    header_kid,
    mac_structure,
)

log = logging.getLogger("ruong.gateway.downlink")

CONFIG_AAD = b"ruong config"
CONFIG_TOPIC = "ruong/{node}/config"
# CoAP Uri-Query of an uplink: the newest config version the node has handled ("c=0": none)
CONFIG_QUERY = "c="
REFRESH_S = 5.0  # how often the gateway rereads the registry's configs


def partial_iv(version: int) -> bytes:
    """`version` as minimal big-endian bytes, at least one (same rule as the uplink counter)."""
    return version.to_bytes(max(1, (version.bit_length() + 7) // 8), "big")


def sign_config(key: bytes, node: str, version: int, settings: Mapping[str, object]) -> bytes:
    """The config downlink (COSE_Mac0, tagged) carrying `settings` as version `version` >= 1.

    The payload is the CBOR map of the settings in deterministic encoding (RFC 8949 s4.2.1,
    shortest floats); the tag is HMAC-SHA256 over the MAC_structure with the external AAD
    `CONFIG_AAD`, truncated to 8 bytes (HMAC 256/64, RFC 9053 s3.1).
    """
    if version < 1:
        raise ValueError(f"config versions start at 1, got {version}")
    protected = cbor2.dumps({HDR_ALG: ALG_HMAC_256_64, HDR_PARTIAL_IV: partial_iv(version)})
    payload = cbor2.dumps(dict(settings), canonical=True)
    tag = hmac.new(key, mac_structure(protected, payload, CONFIG_AAD), sha256).digest()[:8]
    return cbor2.dumps(
        cbor2.CBORTag(COSE_MAC0_TAG, [protected, {HDR_KID: node.encode("ascii")}, payload, tag])
    )


def kid_of(uplink: bytes) -> str:
    """The node id (kid) of an uplink the gateway has already accepted, read where
    gateway.uplink.decode_uplink read it (`header_kid`)."""
    protected, unprotected = cbor2.loads(uplink).value[:2]
    kid = header_kid(cbor2.loads(protected) if protected else {}, unprotected)
    return cast(bytes, kid).decode("ascii")  # decode_uplink accepted it as a node id


def version_hint(uri_query: tuple[str, ...]) -> int | None:
    """The newest config version an uplink's Uri-Query says the node has handled; None when
    it says none (firmware that does not take configs) or says it badly."""
    for item in uri_query:
        if item.startswith(CONFIG_QUERY) and item[len(CONFIG_QUERY) :].isdigit():
            return int(item[len(CONFIG_QUERY) :])
    return None


@dataclass(frozen=True)
class Signed:
    """A node's newest config as it goes on the wire."""

    version: int
    message: bytes


class ConfigDownlinks:
    """The signed newest config of every node that is not revoked, reread every `REFRESH_S`.

    `for_node` is what the CoAP server asks after a 2.04; `changed` wakes the MQTT publisher.
    """

    def __init__(self, registry: Registry, metrics: CollectorRegistry) -> None:
        self.registry = registry
        self.signed: dict[str, Signed] = {}
        self.changed = asyncio.Event()
        self.sent = Counter(
            "ruong_config_downlinks",
            "Config downlinks sent to nodes, by transport",
            ["transport"],
            registry=metrics,
        )

    def _read(self) -> dict[str, Signed]:
        """Every node's newest config, signed (blocking: registry queries). A version's
        settings never change, so a version already signed is not signed again."""
        keys = {n.node: n.key for n in self.registry.nodes() if not n.revoked}
        known = self.signed
        return {
            c.node: (
                known[c.node]
                if c.node in known and known[c.node].version == c.version
                else Signed(c.version, sign_config(keys[c.node], c.node, c.version, c.settings))
            )
            for c in self.registry.configs()
            if c.node in keys
        }

    def _install(self, signed: dict[str, Signed]) -> bool:
        """Serve `signed` from now on (on the event loop's thread); True when it changed."""
        if signed == self.signed:
            return False
        self.signed = signed
        self.changed.set()
        return True

    def reload(self) -> bool:
        """Reread the registry now (blocking, before the servers start); True on a change."""
        return self._install(self._read())

    def for_node(self, node: str, handled: int | None) -> bytes | None:
        """The downlink for `node` if the newest version it has handled is older than the
        registry's, else None (also for a node that gave no version: its firmware takes no
        configs)."""
        newest = self.signed.get(node)
        if newest is None or handled is None or handled >= newest.version:
            return None
        self.sent.labels("coap").inc()
        log.info(
            "config v%d sent to %s over CoAP (it has v%d)",
            newest.version,
            node,
            handled,
            extra={"event": "config_sent", "node": node, "version": newest.version},
        )
        return newest.message

    async def run(self, period_s: float = REFRESH_S) -> None:
        """Reread the registry every `period_s` seconds, forever."""
        while True:
            if self._install(await asyncio.to_thread(self._read)):
                log.info("config downlinks: %d nodes have a config", len(self.signed))
            await asyncio.sleep(period_s)


async def _publish_changes(
    client: aiomqtt.Client,
    downlinks: ConfigDownlinks,
    published: dict[str, int],
    retained: set[str],
) -> None:
    """Retain each node's config that this connection has not published at its version yet;
    clear the retained config of nodes that no longer have one (revoked)."""
    current = dict(downlinks.signed)
    for node, signed in current.items():
        if published.get(node) == signed.version:
            continue
        topic = CONFIG_TOPIC.format(node=node)
        await client.publish(topic, signed.message, qos=1, retain=True)
        downlinks.sent.labels("mqtt").inc()
        log.info(
            "config v%d retained on %s",
            signed.version,
            topic,
            extra={"event": "config_sent", "node": node, "version": signed.version},
        )
        published[node] = signed.version
        retained.add(node)
    for node in retained - current.keys():
        await client.publish(CONFIG_TOPIC.format(node=node), b"", qos=1, retain=True)
        retained.discard(node)


async def publish_configs(downlinks: ConfigDownlinks, broker: Endpoint, client_id: str) -> None:
    """Keep `ruong/<node>/config` retained at each node's newest signed config, forever.

    Its own MQTT 3.1.1 connection (client id `<client_id>-config`, clean session: nothing of
    it needs to outlive it), so the uplink subscriber's session and flow control stay as they
    are, and any broker will do. Every connect republishes all of them (a broker restarted
    without persistence has lost its retained messages); a revoked node's config is cleared
    with an empty retained message. It logs in with the gateway account of `[mqtt] url` and,
    for `mqtts://`, verifies the broker as the uplink subscriber does (`tls_context`).
    """
    tls = tls_context(broker)
    delay = 0.5
    retained: set[str] = set()  # nodes with a retained config on the broker, as far as we know
    while True:
        published: dict[str, int] = {}  # this connection's: all are republished on a connect
        try:
            async with aiomqtt.Client(
                broker.host,
                broker.port,
                identifier=f"{client_id}-config",
                username=broker.username,
                password=broker.password,
                protocol=aiomqtt.ProtocolVersion.V311,
                tls_context=tls,
            ) as client:
                delay = 0.5
                while True:
                    downlinks.changed.clear()
                    await _publish_changes(client, downlinks, published, retained)
                    await downlinks.changed.wait()
        except aiomqtt.MqttError as exc:
            log.warning(
                "config publisher: MQTT %s lost (%s), retry in %.1f s", broker.redacted, exc, delay
            )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)
