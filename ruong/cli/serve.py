"""`ruong serve`: the dashboard on `[dashboard] bind`, served by waitress."""

from __future__ import annotations

import argparse

from backend.config import Settings


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import waitress

    from backend.store import open_store
    from dashboard.app import create_app

    endpoint = settings.dashboard
    app = create_app(lambda: open_store(settings.store))
    print(f"Ruộng dashboard: http://{endpoint.host}:{endpoint.port}/", flush=True)
    waitress.serve(app.server, host=endpoint.host, port=endpoint.port, threads=8)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("serve", help="run the dashboard").set_defaults(func=cmd_serve)
