"""CoAP ingest (RFC 7252) on aiocoap: `POST /r` takes one COSE_Mac0 uplink (docs/protocol.md).

2.04 once durable in the spool (or already there: a retried uplink is acknowledged again and
stored once); 4.00 malformed, 4.01 bad MAC, unknown/revoked node or replay, 4.13 too large
(reason code in the payload); 5.03 with Max-Age when the gateway cannot make it durable now
(spool over its bound), so the node keeps the sample and retries later.

A 2.04 carries the node's config downlink as its payload when the registry has a newer
version than the newest the node says it has handled, in its Uri-Query `c=`
(gateway/downlink.py).
"""

from __future__ import annotations

import logging

import aiocoap
from aiocoap import resource
from aiocoap.numbers.codes import Code

from gateway.downlink import ConfigDownlinks, kid_of, version_hint
from gateway.ingest import Ingest, NotDurable
from gateway.uplink import MAX_UPLINK_BYTES, UplinkRejected

log = logging.getLogger("ruong.gateway.coap")

COSE_MAC0_FORMAT = 17  # application/cose; cose-type="cose-mac0" (RFC 9052 s9)
_CODES = {
    "4.00": Code.BAD_REQUEST,
    "4.01": Code.UNAUTHORIZED,
    "4.13": Code.REQUEST_ENTITY_TOO_LARGE,
    "4.15": Code.UNSUPPORTED_CONTENT_FORMAT,
}


class UplinkResource(resource.Resource):
    """`/r`: the uplink endpoint."""

    def __init__(self, ingest: Ingest, downlinks: ConfigDownlinks | None) -> None:
        super().__init__()
        self.ingest = ingest
        self.downlinks = downlinks

    async def needs_blockwise_assembly(self, request: aiocoap.Message) -> bool:
        return False  # an uplink fits one datagram; a Block1 transfer is refused, not assembled

    def _refuse(self, exc: UplinkRejected) -> aiocoap.Message:
        response = aiocoap.Message(code=_CODES[exc.coap_code], payload=exc.reason.encode())
        if exc.reason == "too_large":
            response.opt.size1 = MAX_UPLINK_BYTES
        return response

    async def render_post(self, request: aiocoap.Message) -> aiocoap.Message:
        peer = str(request.remote.hostinfo)
        fmt = request.opt.content_format
        refused = None
        if request.opt.block1 is not None:
            refused = UplinkRejected("too_large", "block-wise; an uplink must fit one datagram")
        elif fmt is not None and int(fmt) != COSE_MAC0_FORMAT:
            refused = UplinkRejected("content_format", f"{fmt}, expected {COSE_MAC0_FORMAT}")
        if refused is not None:
            self.ingest.reject(refused, "coap", peer)
            return self._refuse(refused)
        try:
            await self.ingest.accept(request.payload, "coap", peer)
        except UplinkRejected as exc:
            return self._refuse(exc)
        except NotDurable as exc:
            log.warning("shedding load, answering 5.03: %s", exc)
            response = aiocoap.Message(code=Code.SERVICE_UNAVAILABLE, payload=b"overloaded")
            response.opt.max_age = exc.retry_after_s
            return response
        handled = version_hint(request.opt.uri_query)
        if self.downlinks is not None and handled is not None:
            downlink = self.downlinks.for_node(kid_of(request.payload), handled)
            if downlink is not None:
                return aiocoap.Message(
                    code=Code.CHANGED, payload=downlink, content_format=COSE_MAC0_FORMAT
                )
        return aiocoap.Message(code=Code.CHANGED)


def site(ingest: Ingest, downlinks: ConfigDownlinks | None = None) -> resource.Site:
    """The CoAP site tree, declared in one place."""
    root = resource.Site()
    root.add_resource(
        [".well-known", "core"], resource.WKCResource(root.get_resources_as_linkheader)
    )
    root.add_resource(["r"], UplinkResource(ingest, downlinks))
    return root


async def start_coap(
    ingest: Ingest, host: str, port: int, downlinks: ConfigDownlinks | None = None
) -> aiocoap.Context:
    """Bind the CoAP server; the caller shuts the returned context down."""
    # Plain UDP only: aiocoap would otherwise also open CoAP-over-TCP and WebSocket listeners
    # on ports nobody configured.
    context = await aiocoap.Context.create_server_context(
        site(ingest, downlinks), bind=(host, port), transports=["udp6"]
    )
    log.info("CoAP listening on coap://%s:%d/r", host, port)
    return context
