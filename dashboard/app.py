"""`ruong serve`: build the Dash app over a store and run it.

Bootstrap's CSS is served from this server, never a CDN: farms sit behind slow or no uplinks.
The file comes from the `bootstrap-flask` wheel (Bootstrap 5.3, MIT), the maintained PyPI
package that ships it; XStatic-Bootstrap no longer builds with current setuptools.
"""

from __future__ import annotations

from pathlib import Path

import flask_bootstrap
from dash import Dash
from flask import send_from_directory

from dashboard import ack, api, login, metrics
from dashboard.api.context import ApiServices
from dashboard.pages import home

BOOTSTRAP_CSS_DIR = Path(flask_bootstrap.__file__).parent / "static" / "bootstrap5" / "css"
BOOTSTRAP_CSS_URL = "/vendor/bootstrap.min.css"


def create_app(services: ApiServices) -> Dash:
    """The Dash app, its login door and the JSON API, over `services` (ApiServices.open)."""
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

    api.register(app.server, services)
    login.install(app.server)
    ack.install(app.server)
    metrics.install(app.server, services.engine)
    app.layout = home.layout
    home.register_callbacks(app, lambda: services.store)
    return app
