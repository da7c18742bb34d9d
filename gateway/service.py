"""`ruong gateway`: CoAP server, MQTT subscriber, spool writer and /metrics, until stopped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys

from prometheus_client import start_http_server

from backend.audit import Audit
from backend.clock import Clock
from backend.config import Settings
from backend.registry import Registry
from backend.store import open_store
from gateway.coap_server import start_coap
from gateway.downlink import ConfigDownlinks, publish_configs
from gateway.ingest import Ingest
from gateway.mqtt_client import default_client_id, run_mqtt
from gateway.spool import Spool

log = logging.getLogger("ruong.gateway")

# The event loop makes many short syscalls (aiocoap's datagrams, one per CoAP uplink) while the
# spool and store threads run; after each syscall the loop waits for the GIL up to the switch
# interval (default 5 ms). 0.5 ms measured +20-40% uplinks/s when MQTT reads were a syscall per
# packet too (bench/ingest.py); MQTT reads now take every packet that arrived at once.
GIL_SWITCH_INTERVAL_S = 0.0005


async def serve(settings: Settings, stop: asyncio.Event | None = None) -> Ingest:
    """Run until `stop` is set (or SIGINT/SIGTERM); return the Ingest with its metrics."""
    stop = stop or asyncio.Event()
    sys.setswitchinterval(GIL_SWITCH_INTERVAL_S)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    registry = Registry(settings.registry_url)
    store = open_store(settings.store)
    spool = Spool(settings.spool_path)
    ingest = Ingest(
        registry, spool, store, settings.spool_max_mb * 1024 * 1024, clock=Clock.of(settings)
    )
    audit = Audit(registry.engine, settings.audit_syslog)
    downlinks = ConfigDownlinks(registry, ingest.metrics.registry)
    downlinks.reload()  # before the first uplink is answered
    coap_context = None
    metrics_server = None
    tasks: list[asyncio.Task[None]] = [
        asyncio.create_task(ingest.writer.run()),
        asyncio.create_task(ingest.report()),
        asyncio.create_task(downlinks.run()),
        asyncio.create_task(ingest.audit_every(audit)),
    ]
    try:
        if settings.metrics is not None:
            metrics_server, _thread = start_http_server(
                settings.metrics.port, settings.metrics.host, registry=ingest.metrics.registry
            )
            log.info(
                "metrics on http://%s:%d/metrics", settings.metrics.host, settings.metrics.port
            )
        if settings.coap is not None:
            coap_context = await start_coap(
                ingest, settings.coap.host, settings.coap.port, downlinks
            )
        if settings.mqtt is not None:
            tasks.append(
                asyncio.create_task(
                    run_mqtt(
                        ingest,
                        settings.mqtt,
                        client_id=settings.mqtt_client_id,
                        share_group=settings.mqtt_share_group,
                    )
                )
            )
            client_id = settings.mqtt_client_id or default_client_id()
            tasks.append(asyncio.create_task(publish_configs(downlinks, settings.mqtt, client_id)))
        depth, _ = spool.depth()
        log.info(
            "gateway ready store=%s spool=%s (%d uplinks waiting)",
            settings.store_url,
            settings.spool_path,
            depth,
        )
        waiter = asyncio.create_task(stop.wait())
        done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not waiter:
                task.result()  # a part died: raise its error
    finally:
        if coap_context is not None:
            await coap_context.shutdown()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if metrics_server is not None:
            metrics_server.shutdown()
        ingest.close()
        audit.close()
        spool.close()
        store.close()
        registry.close()
        log.info("gateway stopped")
    return ingest
