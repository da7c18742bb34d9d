"""`ruong serve`: build the Dash app over a store and run it.

Bootstrap's CSS is served from this server, never a CDN: farms sit behind slow or no uplinks.
The file comes from the `bootstrap-flask` wheel (Bootstrap 5.3, MIT), the maintained PyPI
package that ships it; XStatic-Bootstrap no longer builds with current setuptools. plotly.js
is the partial "basic" bundle with its Vietnamese locale, from assets/ (Dash then does not
load its own 1.4 MB full bundle: see scripts/vendor-plotly.sh).
"""

from __future__ import annotations

from pathlib import Path

import flask_bootstrap
from dash import Dash, State
from flask import send_from_directory

from backend.clock import Clock
from dashboard import ack, api, login, metrics, shell, site_clock
from dashboard.api.context import ApiServices
from dashboard.pages import register_all
from dashboard.reads import Reads

BOOTSTRAP_CSS_DIR = Path(flask_bootstrap.__file__).parent / "static" / "bootstrap5" / "css"
BOOTSTRAP_CSS_URL = "/vendor/bootstrap.min.css"
ASSETS = Path(__file__).parent / "assets"
# the pulse's clock (s): nodes report every 15 min, so a page asks once a minute whether
# anything newer has arrived (a few bytes), and redraws only then
REFRESH_S = 60.0
FRESH_S = 20.0


def create_app(
    services: ApiServices,
    refresh_s: float = REFRESH_S,
    fresh_s: float = FRESH_S,
    clock: Clock | None = None,
) -> Dash:
    """The Dash app, its login door and the JSON API, over `services` (ApiServices.open).

    refresh_s: the pulse's clock; fresh_s: how long a store answer is reused for every
    page and session (dashboard/reads.py), both real seconds; clock: the site's
    (backend/clock.py, default the real one), the "now" of every time of the site's data
    (dashboard/site_clock.py).
    """
    clock = clock or Clock()
    app = Dash(
        __name__,
        title="Ruộng",
        external_stylesheets=[BOOTSTRAP_CSS_URL],
        meta_tags=[{"name": "viewport", "content": "width=device-width, initial-scale=1"}],
        serve_locally=True,
        compress=True,
        use_pages=True,
        pages_folder="",  # the pages are registered by dashboard.pages.register_all
        assets_folder=str(ASSETS),
        routing_callback_inputs={"lang": State("lang", "data")},
        suppress_callback_exceptions=True,  # each page's components exist only on it
        on_error=shell.on_error,
    )

    @app.server.route(BOOTSTRAP_CSS_URL)
    def bootstrap_css():
        return send_from_directory(BOOTSTRAP_CSS_DIR, "bootstrap.min.css", max_age=86400)

    site_clock.install(app.server, clock)
    api.register(app.server, services)
    app.server.extensions[shell.READS] = Reads(services.store, fresh_s=fresh_s, clock=clock)
    login.install(app.server)
    ack.install(app.server)
    metrics.install(app.server, services.engine, clock)
    register_all(app)
    app.layout = shell.layout(refresh_s)
    shell.register(app)
    return app
