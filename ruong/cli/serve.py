"""`ruong serve`: the dashboard on `[dashboard] bind`, served by waitress."""

from __future__ import annotations

import argparse

from backend.clock import Clock
from backend.config import Settings
from backend.store import ensure_downsampling_or_warn


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import waitress

    from dashboard.api.context import ApiServices
    from dashboard.app import create_app

    endpoint = settings.dashboard
    services = ApiServices.open(settings)
    try:
        ensure_downsampling_or_warn(services.store)  # warns, and serves raw aggregates, if down
        app = create_app(services, clock=Clock.of(settings))  # the demo's may run N x faster
        print(f"Ruộng dashboard: http://{endpoint.host}:{endpoint.port}/", flush=True)
        waitress.serve(app.server, host=endpoint.host, port=endpoint.port, threads=8)
    finally:
        services.close()
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("serve", help="run the dashboard").set_defaults(func=cmd_serve)
