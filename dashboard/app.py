"""`ruong serve`: build the Dash app over a store and run it.

Bootstrap's CSS is served from this server, never a CDN: farms sit behind slow or no uplinks.
The file comes from the `bootstrap-flask` wheel (Bootstrap 5.3, MIT), the maintained PyPI
package that ships it; XStatic-Bootstrap no longer builds with current setuptools.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import flask_bootstrap
from dash import Dash
from flask import send_from_directory

from backend.store import Store
from dashboard.pages import home

BOOTSTRAP_CSS_DIR = Path(flask_bootstrap.__file__).parent / "static" / "bootstrap5" / "css"
BOOTSTRAP_CSS_URL = "/vendor/bootstrap.min.css"


def create_app(store_factory: Callable[[], Store]) -> Dash:
    """The Dash app; `store_factory` opens the store its callbacks read (once, at creation)."""
    app = Dash(
        __name__,
        title="Ruộng",
        external_stylesheets=[BOOTSTRAP_CSS_URL],
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
        serve_locally=True,
        compress=True,
    )

    @app.server.route(BOOTSTRAP_CSS_URL)
    def bootstrap_css():
        return send_from_directory(BOOTSTRAP_CSS_DIR, "bootstrap.min.css", max_age=86400)

    app.layout = home.layout
    home.register_callbacks(app, store_factory)
    return app
