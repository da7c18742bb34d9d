"""Fixtures for the firmware tests (helpers themselves live in firmware_helpers.py)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from firmware_helpers import FIRMWARE_DIR, Datagram, MicroPython, UdpPeer


@pytest.fixture(scope="session")
def fw() -> Callable[[str], object]:
    """Import a firmware module on CPython: fw("cbor")."""
    if str(FIRMWARE_DIR) not in sys.path:
        sys.path.append(str(FIRMWARE_DIR))  # appended: never shadows an installed package

    def load(name: str) -> object:
        module = importlib.import_module(name)
        assert Path(module.__file__).parent == FIRMWARE_DIR, f"{name} shadowed by {module.__file__}"
        return module

    return load


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
