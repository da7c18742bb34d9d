"""Time-series store: InfluxDB (v1 HTTP API) in production, SQLite embedded for a lone farm.

Both implement `Store` so the gateway, forecasting and dashboard never know which one runs.
"""

from __future__ import annotations

from backend.config import Endpoint, parse_store_url
from backend.store.base import Point, Store, StoreError


def open_store(url: str | Endpoint) -> Store:
    """Open the store named by a `store.url` (`influxdb://host:port/db` or `sqlite:///file`)."""
    endpoint = parse_store_url(url) if isinstance(url, str) else url
    if endpoint.scheme == "sqlite":
        from backend.store.sqlite import SqliteStore

        return SqliteStore(endpoint.path)
    from backend.store.influx import InfluxStore

    return InfluxStore(endpoint)


__all__ = ["Point", "Store", "StoreError", "open_store"]
