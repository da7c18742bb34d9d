"""Two per-packet costs of paho-mqtt 2.x removed, keeping paho as the MQTT client.

Measured with py-spy on the gateway under bench/ingest.py (2-core machine), of ~366 µs of
gateway CPU per uplink:

- ~105 µs: `paho.mqtt.properties.Properties.__init__`, run for every MQTT 5 PUBLISH received
  (`_packet.decode_publish`), rebuilds its three lookup tables (27 names, 27 property types,
  through the class's checking `__setattr__`), and `unpack` then walks all 27 names in `clear`.
  `SharedTableProperties` builds the tables once; paho only ever reads them.
- ~30-40 µs: paho reads a packet with one `recv` per byte of fixed header and one for the rest
  (~4 syscalls), and aiomqtt's reader callback handles one packet per event-loop wake-up.
  `BufferedSocket` reads 64 KiB at a time and reports what it holds through `pending()`, the hook
  aiomqtt already has for TLS sockets, so one wake-up drains every packet that arrived.

Both act only on the client they are applied to (or on decoding in this process); neither
changes what goes over the wire.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt import __version__ as paho_version
from paho.mqtt import _packet
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

log = logging.getLogger("ruong.gateway.mqtt")

READ_CHUNK = 65536  # bytes per recv: Receive Maximum (2000) uplinks of ~150 bytes is ~300 KiB
_OWN_ATTRIBUTES = frozenset({"packetType", "types", "names", "properties"})


class SharedTableProperties(Properties):
    """paho's MQTT 5 `Properties`, with the lookup tables of one template instance shared.

    paho reads `types`, `names` and `properties` and never changes them, so sharing is safe;
    everything else (parsing, validation, attribute access) is paho's own code.
    """

    _template = Properties(PacketTypes.PUBLISH)

    def __init__(self, packetType: int) -> None:
        own = self.__dict__  # bypasses paho's __setattr__, which only forwards these four
        own["packetType"] = packetType
        own["types"] = self._template.types
        own["names"] = self._template.names
        own["properties"] = self._template.properties

    def clear(self) -> None:
        """Drop every property set, as paho's `clear` does, without walking all 27 names."""
        for name in [n for n in self.__dict__ if n not in _OWN_ATTRIBUTES]:
            delattr(self, name)


def share_property_tables() -> bool:
    """Make paho decode received packets' properties into `SharedTableProperties`.

    Returns False (and changes nothing) when paho's decoder is not the one this was written
    against (paho-mqtt 2.x `paho.mqtt._packet` naming `Properties`), so an upgrade that moves
    it costs speed, never correctness.
    """
    current = getattr(_packet, "Properties", None)
    if current is SharedTableProperties:
        return True
    if current is not Properties:
        log.warning("paho-mqtt %s: MQTT 5 property tables not shared", paho_version)
        return False
    _packet.Properties = SharedTableProperties  # type: ignore[misc]
    return True


class BufferedSocket:
    """A non-blocking TCP socket whose `recv` is served from 64 KiB reads.

    paho calls `recv(1)` for each fixed-header byte; from the buffer those are slices, not
    syscalls. `pending()` tells aiomqtt's reader callback that whole packets may still be
    buffered, so it keeps calling paho's `loop_read` instead of returning to the event loop,
    which would not wake it again for bytes already taken from the kernel. That loop ends once
    the buffer is drained; the broker sends no more than Receive Maximum unacknowledged
    messages, and none is acknowledged inside it, so one wake-up handles at most that many.
    Every other attribute is the socket's own.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._data = b""
        self._pos = 0

    def recv(self, bufsize: int) -> bytes:
        """Up to `bufsize` bytes; b"" at end of stream; BlockingIOError when none are ready."""
        if self._pos >= len(self._data):
            data = self._sock.recv(max(bufsize, READ_CHUNK))
            if len(data) <= bufsize:
                return data
            self._data, self._pos = data, 0
        start = self._pos
        self._pos = min(start + bufsize, len(self._data))
        return self._data[start : self._pos]

    def pending(self) -> int:
        """Bytes received from the kernel and not yet handed to paho."""
        return len(self._data) - self._pos

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


def buffer_reads(client: paho.Client) -> None:
    """Wrap each socket `client` opens in a `BufferedSocket` before aiomqtt registers it.

    Call after aiomqtt has set its `on_socket_open` (in `aiomqtt.Client.__init__`) and before
    connecting. paho stores the socket in `_sock` and reads only through it.
    """
    registered = client.on_socket_open

    def on_socket_open(paho_client: paho.Client, userdata: Any, sock: Any) -> None:
        if isinstance(sock, socket.socket) and not hasattr(sock, "pending"):  # TLS buffers itself
            paho_client._sock = BufferedSocket(sock)
        if registered is not None:
            registered(paho_client, userdata, sock)

    client.on_socket_open = on_socket_open
