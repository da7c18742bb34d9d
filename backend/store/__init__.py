"""Time-series store: InfluxDB (v1 HTTP API) in production, SQLite embedded for a lone farm.

Both implement `Store` so the gateway, forecasting and dashboard never know which one runs.
"""

from __future__ import annotations

import logging

from backend.config import Endpoint, parse_store_url
from backend.store.base import AGGREGATES, Point, Store, StoreError

log = logging.getLogger("ruong.store")


def open_store(url: str | Endpoint) -> Store:
    """Open the store named by a `store.url` (`influxdb://host:port/db` or `sqlite:///file`)."""
    endpoint = parse_store_url(url) if isinstance(url, str) else url
    if endpoint.scheme == "sqlite":
        from backend.store.sqlite import SqliteStore

        return SqliteStore(endpoint.path)
    from backend.store.influx import InfluxStore

    return InfluxStore(endpoint)


def ensure_downsampling_or_warn(store: Store | str | Endpoint) -> bool:
    """`Store.ensure_downsampling()` as a service starts (`ruong serve`, `ruong gateway`), on
    `store` or on the store a URL names (opened and closed again). A StoreError (InfluxDB down
    or refusing) is logged as a warning, not raised, and False returned: the gateway must start
    while InfluxDB is down (it spools), and aggregates stay right without the hourly series
    (they read the raw rows, only slower). It is tried again at the next start, and by
    `ruong db upgrade`."""
    try:
        if isinstance(store, Store):
            created = store.ensure_downsampling()
        else:
            with open_store(store) as opened:
                created = opened.ensure_downsampling()
    except StoreError as exc:
        log.warning(
            "downsampled series not set up (%s): long aggregates read raw rows until the next "
            "start or `ruong db upgrade`",
            exc,
        )
        return False
    if created:
        log.info("store: created %s", ", ".join(created))
    return True


__all__ = [
    "AGGREGATES",
    "Point",
    "Store",
    "StoreError",
    "ensure_downsampling_or_warn",
    "open_store",
]
