"""CoAP client (RFC 7252) over UDP: one confirmable POST of an uplink, with retransmission.

The node's half of `POST coap://<gateway>/r` (docs/protocol.md). Handles a response
piggybacked on the ACK (s5.2.1) and a separate response (s5.2.2: empty ACK first, then a CON
response carrying our token, which we ACK). Messages with another message id or token are
ignored; an unexpected confirmable message is answered with RST (s4.2).
"""

import socket
import struct

from compat import const, is_timeout, os_errno, random_uint, ticks_add, ticks_diff, ticks_ms

# message types (s3)
CON = const(0)
NON = const(1)
ACK = const(2)
RST = const(3)
POST = const(2)  # method code 0.02
EMPTY = const(0)
OPT_URI_PATH = const(11)
OPT_CONTENT_FORMAT = const(12)
OPT_URI_QUERY = const(15)
CF_COSE_MAC0 = const(17)  # application/cose; cose-type="cose-mac0" (RFC 9052 s11)
MAX_MESSAGE = const(1152)  # s4.6: fits an unfragmented IPv6 datagram

# transmission parameters (s4.8)
ACK_TIMEOUT_S = 2.0
ACK_RANDOM_FACTOR = 1.5
MAX_RETRANSMIT = 4
RESPONSE_TIMEOUT_S = 30.0  # wait for a separate response after the empty ACK


class CoapError(Exception):
    """A message that is not valid CoAP, or a URL the client cannot use."""


class CoapTimeout(CoapError):
    """No ACK after MAX_RETRANSMIT retransmissions, or no separate response in time."""


def code_string(code):
    """Code byte -> "c.dd" (s3), e.g. 0x44 -> "2.04"."""
    return "%d.%02d" % (code >> 5, code & 0x1F)


def _option(out, delta, value):
    """Append one option (s3.1): 4-bit delta/length nibbles with 1- or 2-byte extensions."""
    ext = b""
    nibbles = []
    for n in (delta, len(value)):
        if n < 13:
            nibbles.append(n)
        elif n < 269:
            nibbles.append(13)
            ext += bytes((n - 13,))
        else:
            nibbles.append(14)
            ext += struct.pack(">H", n - 269)
    out.append(bytes(((nibbles[0] << 4) | nibbles[1],)) + ext + value)


def encode_message(mtype, code, mid, token=b"", options=(), payload=b""):
    """One CoAP message (bytes); `options` is a list of (number, bytes), in any order."""
    out = [struct.pack(">BBH", 0x40 | (mtype << 4) | len(token), code, mid), token]
    previous = 0
    for number, value in sorted(options, key=lambda opt: opt[0]):
        _option(out, number - previous, value)
        previous = number
    if payload:
        out.append(b"\xff")
        out.append(payload)
    return b"".join(out)


def _uint_option(value):
    """uint option value (s3.2): minimal big-endian bytes, zero as empty."""
    raw = b""
    while value:
        raw = bytes((value & 0xFF,)) + raw
        value >>= 8
    return raw


def decode_message(data):
    """(type, code, mid, token, payload) of a datagram; CoapError when malformed (s3)."""
    if len(data) < 4:
        raise CoapError("datagram shorter than the CoAP header")
    first, code, mid = struct.unpack(">BBH", data[:4])
    if first >> 6 != 1:
        raise CoapError("CoAP version %d" % (first >> 6))
    tkl = first & 0x0F
    if tkl > 8 or 4 + tkl > len(data):
        raise CoapError("bad token length %d" % tkl)
    token = bytes(data[4 : 4 + tkl])
    pos = 4 + tkl
    while pos < len(data):
        byte = data[pos]
        if byte == 0xFF:
            if pos + 1 == len(data):
                raise CoapError("payload marker with no payload")
            return (first >> 4) & 3, code, mid, token, bytes(data[pos + 1 :])
        pos += 1
        for nibble in (byte >> 4, byte & 0x0F):
            if nibble == 13:
                pos += 1
            elif nibble == 14:
                pos += 2
            elif nibble == 15:
                raise CoapError("reserved option nibble 15")
        length = byte & 0x0F
        if length == 13:
            length = data[pos - 1] + 13
        elif length == 14:
            length = (data[pos - 2] << 8 | data[pos - 1]) + 269
        pos += length
        if pos > len(data):
            raise CoapError("option runs past the end of the datagram")
    return (first >> 4) & 3, code, mid, token, b""


class CoapClient:
    """Confirmable requests to one CoAP server. Also the node's `Transport` (see `send`)."""

    name = "coap"
    # Transport interface for config downlinks (docs/protocol.md "Config downlink"): the
    # newest config version the node has handled, sent as Uri-Query "c=<version>" when set;
    # and the payload of the last non-empty 2.04 (a signed config), kept until the node takes it
    config_seen = None
    downlink = None

    def __init__(
        self,
        host,
        port=5683,
        path="r",
        ack_timeout_s=ACK_TIMEOUT_S,
        max_retransmit=MAX_RETRANSMIT,
        response_timeout_s=RESPONSE_TIMEOUT_S,
        token_len=4,
        rx_bytes=MAX_MESSAGE,
    ):
        self.host = host
        self.port = port
        self.path = path
        self.ack_timeout_s = ack_timeout_s
        self.max_retransmit = max_retransmit
        self.response_timeout_s = response_timeout_s
        self.token_len = token_len
        self.rx_bytes = rx_bytes  # receive buffer: a node expects short responses
        self.mid = random_uint(2)  # s4.4: randomised start, then sequential
        self.sock = None
        self.addr = None
        self.retransmissions = 0  # counted for node_status, over the client's life

    def open(self):
        """Resolve the server and open the UDP socket (once); returns the socket."""
        if self.sock is None:
            info = socket.getaddrinfo(self.host, self.port, 0, socket.SOCK_DGRAM)[0]
            self.addr = info[-1]
            self.sock = socket.socket(info[0], socket.SOCK_DGRAM)
        return self.sock

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _next_mid(self):
        self.mid = (self.mid + 1) & 0xFFFF
        return self.mid

    def _initial_timeout_ms(self):
        """ACK_TIMEOUT * random(1, ACK_RANDOM_FACTOR), ms (s4.2)."""
        spread = (ACK_RANDOM_FACTOR - 1.0) * random_uint(2) / 65535
        return int(self.ack_timeout_s * (1.0 + spread) * 1000)

    def _receive(self, sock, deadline):
        """Next datagram on `sock` before `deadline` (ticks_ms), or None on timeout."""
        remaining = ticks_diff(deadline, ticks_ms())
        if remaining <= 0:
            return None
        sock.settimeout(remaining / 1000)
        try:
            data, _addr = sock.recvfrom(self.rx_bytes)
        except OSError as exc:
            if is_timeout(exc):
                return None
            raise
        return data

    def _reply_empty(self, sock, mtype, mid):
        sock.sendto(encode_message(mtype, EMPTY, mid), self.addr)

    def post(self, payload, content_format=CF_COSE_MAC0):
        """Confirmable POST of `payload` to the path; returns (code "c.dd", payload bytes).

        Raises CoapTimeout when the server never answers (s4.2), OSError on network errors.
        """
        sock = self.open()
        mid = self._next_mid()
        token = bytes(random_uint(self.token_len).to_bytes(self.token_len, "big"))
        options = [(OPT_URI_PATH, self.path.encode())]
        options.append((OPT_CONTENT_FORMAT, _uint_option(content_format)))
        if self.config_seen is not None:
            options.append((OPT_URI_QUERY, ("c=%d" % self.config_seen).encode()))
        request = encode_message(CON, POST, mid, token, options, payload)
        timeout_ms = self._initial_timeout_ms()
        acked = False  # an empty ACK came: stop retransmitting, wait for the response
        attempt = 0
        sock.sendto(request, self.addr)
        deadline = ticks_add(ticks_ms(), timeout_ms)
        while True:
            data = self._receive(sock, deadline)
            if data is None:
                if acked or attempt >= self.max_retransmit:
                    raise CoapTimeout(
                        "no separate response"
                        if acked
                        else "no ACK after %d retransmissions" % attempt
                    )
                attempt += 1
                self.retransmissions += 1
                timeout_ms *= 2
                sock.sendto(request, self.addr)
                deadline = ticks_add(ticks_ms(), timeout_ms)
                continue
            try:
                mtype, code, rmid, rtoken, body = decode_message(data)
            except CoapError:
                continue  # s4.2: silently ignore malformed messages
            if mtype == ACK and rmid == mid:
                if code == EMPTY:
                    acked = True
                    deadline = ticks_add(ticks_ms(), int(self.response_timeout_s * 1000))
                    continue
                if rtoken == token:
                    return code_string(code), body  # piggybacked (s5.2.1)
            elif mtype == RST and rmid == mid:
                return "rst", b""
            elif mtype in (CON, NON) and code >= 0x40 and rtoken == token:
                if mtype == CON:
                    self._reply_empty(sock, ACK, rmid)  # separate response (s5.2.2)
                return code_string(code), body
            elif mtype == CON:
                self._reply_empty(sock, RST, rmid)  # not ours: reject (s4.2)

    def send(self, payload):
        """Transport interface: deliver one uplink, return a result string.

        "2.04" (or another response code) when the gateway answered, "timeout" when it never
        did, "error:<errno>" when the network refused. A 2.04 with a payload carries a config
        downlink: kept in `downlink`.
        """
        try:
            code, body = self.post(payload)
        except CoapTimeout:
            return "timeout"
        except OSError as exc:
            self.close()  # a fresh socket next time
            return "error:%d" % os_errno(exc)
        if code == "2.04" and body:
            self.downlink = body
        return code
