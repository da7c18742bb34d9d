"""`/`: each role lands on its own page (an officer on the commune overview, a farmer on
"Hôm nay", a technician on the fleet, an admin on the people page); a viewer, who sees no
per-field data, on the season report's aggregates."""

from __future__ import annotations

from dash import Dash, html

from backend.i18n import t
from dashboard.api.context import current_principal
from dashboard.pages import admin, commune, fleet, report, today
from dashboard.ui import language

PATH = "/"
ROLES = ("farmer", "officer", "technician", "admin", "viewer")
# the landing page of a person with several roles: the first of theirs in this order
LANDING = (commune, today, admin, fleet, report)


def layout(lang: str | None = None, **kwargs: object) -> html.Div:
    principal = current_principal()
    if principal is not None:
        for page in LANDING:
            if principal.has(*page.ROLES):
                return page.layout(lang=lang, **kwargs)
    return html.Div(t("ui.not_for_you", language(lang)), className="alert alert-secondary")


def register(app: Dash) -> None:
    """Nothing of its own: the page it shows brings its callbacks."""
