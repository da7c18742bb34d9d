"""The firmware's CoAP client (run on MicroPython) against a real aiocoap server and a raw
UDP peer: piggybacked and separate responses, retransmission, timeouts, stray messages."""

from __future__ import annotations

import asyncio
import errno
import socket
import threading
import time
from collections.abc import Iterator
from itertools import pairwise

import aiocoap
import pytest
from aiocoap import resource
from firmware_helpers import NODE_ID, Datagram, UdpPeer, coap_bytes, lookup_for, node_info

from gateway.uplink import UplinkRejected, decode_uplink
from ruong.services import free_port

pytestmark = pytest.mark.micropython

CON, NON, ACK, RST = 0, 1, 2, 3
CHANGED, POST = 0x44, 0x02


class Uplinks(resource.Resource):
    """POST /r: decode like the gateway; answer after `delay_s` (slow -> separate response)."""

    def __init__(self) -> None:
        super().__init__()
        self.delay_s = 0.0
        self.requests: list[aiocoap.Message] = []
        self.decoded: list[object] = []

    async def render_post(self, request: aiocoap.Message) -> aiocoap.Message:
        self.requests.append(request)
        await asyncio.sleep(self.delay_s)
        try:
            self.decoded.append(
                decode_uplink(request.payload, lookup_for(node_info()), now_s=time.time())
            )
        except UplinkRejected as exc:
            return aiocoap.Message(code=aiocoap.UNAUTHORIZED, payload=exc.reason.encode())
        return aiocoap.Message(code=aiocoap.CHANGED, payload=b"ok")


class AiocoapServer:
    def __init__(self) -> None:
        self.uplinks = Uplinks()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        site = resource.Site()
        site.add_resource(["r"], self.uplinks)
        # A port free when free_port() looked can be taken by another test's ephemeral
        # client socket before aiocoap binds it (CI saw EADDRINUSE once): pick again.
        for attempt in range(5):
            self.port = free_port(socket.SOCK_DGRAM)
            try:
                self.context = asyncio.run_coroutine_threadsafe(
                    aiocoap.Context.create_server_context(site, bind=("127.0.0.1", self.port)),
                    self.loop,
                ).result(10)
                break
            except OSError as exc:
                if exc.errno != errno.EADDRINUSE or attempt == 4:
                    raise

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.context.shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def server() -> Iterator[AiocoapServer]:
    srv = AiocoapServer()
    yield srv
    srv.stop()


def post_script(port: int, counter: int = 1, **client_args: object) -> str:
    args = ", ".join(f"{k}={v!r}" for k, v in client_args.items())
    return (
        "import coap, cose, senml, hal, sim_field\n"
        "f, t = sim_field.Field('ruong-1', 1), hal.unix_time_s()\n"
        f"pack = senml.encode({NODE_ID!r}, t, f.sample(t))\n"
        f"msg = cose.mac0(bytes(range(32)), {NODE_ID!r}, {counter}, pack)\n"
        f"c = coap.CoapClient('127.0.0.1', {port}{', ' + args if args else ''})\n"
        "try:\n"
        "    code, body = c.post(msg)\n"
        "    print(code, body.hex(), c.retransmissions)\n"
        "except coap.CoapTimeout as exc:\n"
        "    print('timeout', exc)\n"
        "c.close()\n"
    )


def test_piggybacked_2_04_from_aiocoap(mp, server: AiocoapServer) -> None:
    out = mp.run(post_script(server.port)).stdout.split()
    assert out == ["2.04", b"ok".hex(), "0"]
    request = server.uplinks.requests[0]
    assert request.mtype == aiocoap.CON
    assert request.opt.content_format == 17  # application/cose; cose-type="cose-mac0"
    # (aiocoap's Site routed it to /r, so Uri-Path was "r"; it strips the matched path)
    assert 2 <= len(request.token) <= 4
    (readings,) = server.uplinks.decoded[0].samples.values()
    assert len(readings) == 10


def test_separate_response_from_a_slow_aiocoap_handler(mp, server: AiocoapServer) -> None:
    # aiocoap sends an empty ACK once the handler takes longer than EMPTY_ACK_DELAY (0.1 s),
    # then the response as its own CON, which the client must ACK (RFC 7252 s5.2.2)
    server.uplinks.delay_s = 1.0
    out = mp.run(post_script(server.port)).stdout.split()
    assert out == ["2.04", b"ok".hex(), "0"]
    assert len(server.uplinks.requests) == 1
    time.sleep(0.5)
    # had our ACK been missing, aiocoap would have retransmitted the CON response (and
    # complained); that it did not is visible as one exchange and no log error
    assert len(server.uplinks.decoded) == 1


def test_4_01_for_an_unknown_key(mp, server: AiocoapServer) -> None:
    script = post_script(server.port).replace("bytes(range(32))", "bytes(32)")
    assert mp.run(script).stdout.split() == ["4.01", b"bad_mac".hex(), "0"]


def test_retransmits_the_same_message_when_the_first_is_dropped(mp, udp_peer) -> None:
    def drop_first(peer: UdpPeer, d: Datagram) -> None:
        if len(peer.received) > 1:
            peer.reply(d, coap_bytes(ACK, CHANGED, d.mid, d.token, b"stored"))

    peer = udp_peer(drop_first)
    out = mp.run(post_script(peer.port, ack_timeout_s=0.3)).stdout.split()
    assert out == ["2.04", b"stored".hex(), "1"]
    first, second = peer.received
    assert first.raw == second.raw  # same message id, token and payload (RFC 7252 s4.2)
    gap = peer.times[1] - peer.times[0]
    assert 0.3 <= gap < 0.3 * 1.5 + 0.3  # ACK_TIMEOUT * random(1, ACK_RANDOM_FACTOR)
    assert decode_uplink(first.payload, lookup_for(node_info()), time.time()).counter == 1


def test_gives_up_after_max_retransmit_with_doubling_timeouts(mp, udp_peer) -> None:
    peer = udp_peer(lambda peer, d: None)
    out = mp.run(post_script(peer.port, ack_timeout_s=0.1, max_retransmit=3)).stdout
    assert out.startswith("timeout no ACK after 3 retransmissions")
    assert len(peer.received) == 4
    gaps = [b - a for a, b in pairwise(peer.times)]
    assert all(later > 1.6 * earlier for earlier, later in pairwise(gaps)), gaps


def test_ignores_strays_and_answers_the_separate_response(mp, udp_peer) -> None:
    acks: list[Datagram] = []

    def separate(peer: UdpPeer, d: Datagram) -> None:
        if d.code == POST:
            peer.reply(d, coap_bytes(ACK, CHANGED, (d.mid + 1) % 65536, d.token, b"wrong mid"))
            peer.reply(d, coap_bytes(ACK, 0, d.mid))  # empty ACK: response comes later
            peer.reply(d, coap_bytes(CON, CHANGED, 7000, b"zz", b"wrong token"))
            peer.reply(d, coap_bytes(CON, CHANGED, 7001, d.token, b"late"))
        else:
            acks.append(d)

    peer = udp_peer(separate)
    out = mp.run(post_script(peer.port, ack_timeout_s=0.3)).stdout.split()
    assert out == ["2.04", b"late".hex(), "0"]
    time.sleep(0.2)
    assert [(a.mtype, a.code, a.mid) for a in acks] == [(RST, 0, 7000), (ACK, 0, 7001)]


def test_message_ids_increment_and_tokens_change(mp, udp_peer) -> None:
    def ack(peer: UdpPeer, d: Datagram) -> None:
        peer.reply(d, coap_bytes(ACK, CHANGED, d.mid, d.token))

    peer = udp_peer(ack)
    script = post_script(peer.port) + "c.post(b'x')\nc.post(b'y')\n"
    mp.run(script)
    mids = [d.mid for d in peer.received]
    assert mids == [mids[0], (mids[0] + 1) % 65536, (mids[0] + 2) % 65536]
    assert len({d.token for d in peer.received}) == 3
