"""`ruong gateway [run|status]`: the CoAP server and MQTT subscriber, or a running one's
counters read from its /metrics."""

from __future__ import annotations

import argparse
import asyncio
import sys

from backend.config import Settings
from backend.store import ensure_downsampling_or_warn


def cmd_gateway(settings: Settings, args: argparse.Namespace) -> int:
    if args.action == "status":
        return gateway_status(settings)
    from gateway.service import serve

    ensure_downsampling_or_warn(settings.store)  # InfluxDB down: a warning, the gateway spools
    asyncio.run(serve(settings))
    return 0


def gateway_status(settings: Settings) -> int:
    """Print a running gateway's counters from its /metrics; exit 1 when it does not answer."""
    import httpx
    from prometheus_client.parser import text_string_to_metric_families

    if settings.metrics is None:
        print("ruong gateway status: [gateway] metrics_bind is off", file=sys.stderr)
        return 2
    url = f"http://{settings.metrics.host}:{settings.metrics.port}/metrics"
    try:
        text = httpx.get(url, timeout=5).text
    except httpx.HTTPError as exc:
        print(f"gateway not answering at {url}: {exc}", file=sys.stderr)
        return 1
    for family in text_string_to_metric_families(text):
        if not family.name.startswith("ruong_"):
            continue
        for sample in family.samples:
            if sample.name.endswith(("_created", "_bucket")):
                continue
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            print(f"{sample.name}{'{' + labels + '}' if labels else ''} {sample.value:g}")
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    gateway = sub.add_parser("gateway", help="run the CoAP server and MQTT subscriber")
    gateway.add_argument(
        "action",
        nargs="?",
        choices=["run", "status"],
        default="run",
        help="run (default) or print a running gateway's counters",
    )
    gateway.set_defaults(func=cmd_gateway)
