"""`ruong gateway`: the CoAP server and the MQTT subscriber sharing one Ingest, until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal

from backend.config import Settings
from backend.registry import Registry
from backend.store import open_store
from gateway.coap_server import start_coap
from gateway.ingest import Ingest
from gateway.mqtt_client import run_mqtt

log = logging.getLogger("ruong.gateway")


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> Ingest:
    """Run until `stop` is set (or SIGINT/SIGTERM); return the Ingest with its counters."""
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    registry = Registry(settings.registry_url)
    store = open_store(settings.store)
    ingest = Ingest(registry, store)
    coap_context = None
    tasks: list[asyncio.Task[None]] = []
    try:
        if settings.coap is not None:
            coap_context = await start_coap(ingest, settings.coap.host, settings.coap.port)
        if settings.mqtt is not None:
            tasks.append(asyncio.create_task(run_mqtt(ingest, settings.mqtt)))
        log.info("gateway ready store=%s", settings.store_url)
        waiter = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not waiter:
                task.result()  # a transport died: raise its error
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if coap_context is not None:
            await coap_context.shutdown()
        store.close()
        registry.close()
        log.info("gateway stopped counts=%s", dict(ingest.counts))
    return ingest
