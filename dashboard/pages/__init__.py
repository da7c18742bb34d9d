"""The dashboard's pages, one module each (Dash pages: `dash.register_page`), each with its
layout and the callbacks beside it.

A page module has `PATH` (a Dash path or path template), `ROLES` (who it is for), a
`layout(lang=..., **path_variables)` function and `register(app)` for its callbacks. The
layout reads through dashboard.reads (within a deadline, else the last values) and checks
the caller's scope on the server, as every callback does.
"""

from __future__ import annotations

import dash
from dash import Dash

from dashboard.pages import admin, commune, field, fleet, home, report, today

PAGES = (home, today, field, commune, fleet, admin, report)


def register_all(app: Dash) -> None:
    """Register every page with Dash's page registry and its callbacks with `app`.

    The callbacks are bound to `app` (not `dash.callback`'s global list), so that several
    apps in one process (the tests) each get their own.
    """
    for page in PAGES:
        template = "<" in page.PATH
        dash.register_page(
            page.__name__,
            path=None if template else page.PATH,
            path_template=page.PATH if template else None,
            layout=page.layout,
            title="Ruộng",
        )
        page.register(app)
