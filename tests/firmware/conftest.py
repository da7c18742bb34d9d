"""Fixtures for the firmware tests (helpers themselves live in firmware_helpers.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from firmware_helpers import Datagram, MicroPython, UdpPeer

from backend.firmware_src import import_firmware


@pytest.fixture(scope="session")
def fw() -> Callable[[str], object]:
    """Import a firmware module on CPython: fw("cbor")."""
    return import_firmware


@pytest.fixture(scope="session")
def mp(micropython: str) -> MicroPython:
    """The real MicroPython unix port, running scripts with firmware/ importable."""
    return MicroPython(micropython)


@pytest.fixture
def udp_peer() -> Iterator[Callable[[Callable[[UdpPeer, Datagram], None]], UdpPeer]]:
    """Start raw UDP CoAP peers with a reply policy; closed after the test."""
    peers: list[UdpPeer] = []

    def start(policy: Callable[[UdpPeer, Datagram], None]) -> UdpPeer:
        peers.append(UdpPeer(policy))
        return peers[-1]

    yield start
    for peer in peers:
        peer.close()
