"""The admin's page (`/admin`; `/` for an admin): their organisations, the people in them
with their roles (an officer's communes), whether each can log in and when they last did, and
a button to disable a person, the web's `ruong user disable`.

Only the admin's own organisations are shown, and only those people's personal data (their
phone numbers). Disabling goes through backend.accounts (`Accounts.disable`: no more logins,
their sessions end now) and writes the audit event the command line writes (`user.disable`);
the server checks each request: a person of another organisation, or one who also holds a
role in an organisation the admin does not administer, is "not found", and nobody disables
themselves.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from dash import ALL, Dash, Input, Output, State, ctx, html, no_update
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.access import MAX_ID
from backend.i18n import N_, ago, t
from backend.identity import Principal, UserInfo
from backend.schema import SessionRow, utc
from dashboard.api.context import client_address, current_principal, services
from dashboard.ui import attr, language, not_for_you

PATH = "/admin"
ROLES = ("admin",)

ROLE_NAMES = {
    "farmer": N_("admin.role.farmer"),
    "officer": N_("admin.role.officer"),
    "technician": N_("admin.role.technician"),
    "admin": N_("admin.role.admin"),
    "viewer": N_("admin.role.viewer"),
}
KIND_NAMES = {
    "coop": N_("admin.kind.coop"),
    "company": N_("admin.kind.company"),
    "province": N_("admin.kind.province"),
}
# a last login older than this is a date; newer, "x giờ trước"
RECENT_S = 36 * 3600


def admin_orgs(principal: Principal) -> dict[int, str]:
    """The organisations `principal` administers: id -> name."""
    return {g.organisation_id: g.organisation for g in principal.grants if g.role == "admin"}


def org_users(orgs: Mapping[int, str]) -> list[UserInfo]:
    """Everyone with a role in one of `orgs`, by login."""
    found: dict[int, UserInfo] = {}
    for name in orgs.values():
        for user in services().accounts.users(name):
            found[user.id] = user
    return sorted(found.values(), key=lambda u: u.login)


def may_disable(principal: Principal, user: UserInfo, orgs: Mapping[int, str]) -> bool:
    """Not themselves, and every role of the person in an organisation `principal`
    administers: disabling ends all of a person's logins, so an admin of one organisation
    must not lock someone out of another's."""
    return (
        user.id != principal.user_id
        and bool(user.grants)
        and all(g.organisation_id in orgs for g in user.grants)
    )


def last_logins(user_ids: Sequence[int]) -> dict[int, dt.datetime]:
    """The newest session of each user (a session is made by each login, backend.accounts),
    UTC; a user who never logged in is absent."""
    if not user_ids:
        return {}
    query = (
        select(SessionRow.user_id, func.max(SessionRow.created_at))
        .where(SessionRow.user_id.in_(sorted(user_ids)))
        .group_by(SessionRow.user_id)
    )
    with Session(services().engine) as session:
        return {uid: utc(at) for uid, at in session.execute(query) if at is not None}


def shown_login(user: UserInfo) -> str:
    """A Vietnamese mobile as its owner writes it (0912 345 678), else the username."""
    phone = user.phone
    if phone and phone.startswith("+84") and len(phone) == 12:
        national = "0" + phone[3:]
        return f"{national[:4]} {national[4:7]} {national[7:]}"
    return user.login


def _roles(user: UserInfo, orgs: Mapping[int, str], lang: str) -> list[html.Span]:
    """The person's roles in the admin's organisations (an officer's communes with it)."""
    several = len(orgs) > 1
    out = []
    for grant in user.grants:
        if grant.organisation_id not in orgs:
            continue
        text = t(ROLE_NAMES[grant.role], lang) if grant.role in ROLE_NAMES else grant.role
        if grant.communes:
            text += f" ({', '.join(sorted(grant.communes))})"
        if several:
            text += f" · {grant.organisation}"
        out.append(
            html.Span(
                text,
                className="badge text-bg-light border me-1 text-wrap text-start admin-role",
                **attr("data-role", grant.role),
            )
        )
    return out


def _last_login(at: dt.datetime | None, now: dt.datetime, lang: str) -> str:
    if at is None:
        return t("admin.never_logged_in", lang)
    seconds = max(0.0, (now - at).total_seconds())
    if seconds < RECENT_S:
        return t("admin.last_login", lang, ago=ago(seconds, lang))
    return t("admin.last_login_on", lang, day=at.date().isoformat())


def user_row(
    principal: Principal,
    user: UserInfo,
    orgs: Mapping[int, str],
    last: dt.datetime | None,
    now: dt.datetime,
    lang: str,
) -> html.Div:
    state = "disabled" if user.disabled else "active"
    head: list[Any] = [html.Strong(shown_login(user), className="me-2 text-break")]
    if user.name:
        head.append(html.Span(user.name, className="me-2"))
    if user.id == principal.user_id:
        head.append(html.Span(t("admin.you", lang), className="small text-muted"))
    status = html.Span(
        t("admin.disabled", lang) if user.disabled else t("admin.enabled", lang),
        className="badge me-2 " + ("text-bg-secondary" if user.disabled else "text-bg-success"),
    )
    action: Any = None
    if not user.disabled and may_disable(principal, user, orgs):
        action = html.Button(
            t("admin.disable", lang),
            id={"type": "disable-user", "user": user.id},
            className="btn btn-outline-danger btn-sm ms-auto",
        )
    elif not user.disabled and user.id != principal.user_id:
        action = html.Span(t("admin.other_orgs", lang), className="small text-muted ms-auto")
    return html.Div(
        [
            html.Div(head, className="d-flex flex-wrap align-items-baseline"),
            html.Div(_roles(user, orgs, lang), className="my-1"),
            html.Div(
                [
                    status,
                    html.Span(_last_login(last, now, lang), className="small text-muted me-2"),
                    action,
                ],
                className="d-flex flex-wrap align-items-center gap-1",
            ),
        ],
        className="list-group-item admin-user",
        **attr("data-user", str(user.id)),
        **attr("data-state", state),
    )


def users_list(
    principal: Principal, lang: str, users: Sequence[UserInfo] | None = None
) -> list[html.Div]:
    """The rows of the people of the admin's organisations (`users`: org_users, if read)."""
    orgs = admin_orgs(principal)
    users = org_users(orgs) if users is None else users
    last = last_logins([u.id for u in users])
    now = dt.datetime.now(dt.UTC)
    return [user_row(principal, u, orgs, last.get(u.id), now, lang) for u in users]


def orgs_list(principal: Principal, users: Sequence[UserInfo], lang: str) -> list[html.Li]:
    """The organisations the admin administers: name, kind, how many people."""
    orgs = admin_orgs(principal)
    out = []
    for org_id, name, kind in services().accounts.organisations():
        if org_id not in orgs:
            continue
        kind_name = t(KIND_NAMES[kind], lang) if kind in KIND_NAMES else kind
        count = sum(any(g.organisation_id == org_id for g in u.grants) for u in users)
        people = t("admin.org_users", lang, n=count)
        out.append(
            html.Li(
                [
                    html.Strong(name, className="me-2"),
                    html.Span(
                        f"{kind_name} · {people}",
                        className="small text-muted",
                    ),
                ],
                className="list-group-item",
                **attr("data-org", str(org_id)),
            )
        )
    return out


def disable_user(principal: Principal, user_id: object, lang: str) -> tuple[html.Div, bool]:
    """Disable the person `user_id` for the admin `principal` (checked here, on the server),
    as `ruong user disable` does; every refusal is an audit event too. Returns the notice
    and whether anyone was disabled."""
    api = services()
    orgs = admin_orgs(principal)
    valid = isinstance(user_id, int) and not isinstance(user_id, bool) and 0 < user_id <= MAX_ID
    target = next((u for u in org_users(orgs) if valid and u.id == user_id), None)
    if target is not None and target.id == principal.user_id:
        return _notice(t("admin.not_self", lang), "warning"), False
    if target is None or not may_disable(principal, target, orgs):
        api.audit.record(
            principal.login,
            "user.disable",
            "refused",
            target=f"user:{user_id!r}"[:128],
            client=client_address(),
        )
        return _notice(t("admin.not_found", lang), "warning"), False
    info = api.accounts.disable(target.login)
    names = sorted({g.organisation for g in target.grants})
    api.audit.record(
        principal.login,
        "user.disable",
        "success",
        organisation=",".join(names) or None,
        target=info.login,
        client=client_address(),
    )
    return _notice(t("admin.disabled_done", lang, login=shown_login(info)), "success"), True


def _notice(text: str, colour: str) -> html.Div:
    return html.Div(text, className=f"alert alert-{colour} py-2 mb-2", role="status")


def body(lang: str | None) -> list[Any]:
    lang = language(lang)
    principal = current_principal()
    if principal is None or not principal.has(*ROLES):
        return [not_for_you(lang)]
    users = org_users(admin_orgs(principal))
    return [
        html.H1(t("admin.title", lang), className="h5 my-2"),
        html.Div(id="admin-notice"),
        html.H2(t("admin.orgs", lang), className="h6 mt-3"),
        html.Ul(orgs_list(principal, users, lang), className="list-group", id="admin-orgs"),
        html.H2(t("admin.users", lang), className="h6 mt-3"),
        html.Div(users_list(principal, lang, users), className="list-group", id="admin-users"),
    ]


def layout(lang: str | None = None, **_: object) -> html.Div:
    return html.Div(body(lang), id="admin-body")


def register(app: Dash) -> None:
    @app.callback(
        Output("admin-body", "children"),
        Input("pulse", "data"),
        Input("lang", "data"),
        prevent_initial_call=True,
    )
    def refresh(_pulse: object, lang: str | None) -> list[Any]:
        return body(lang)

    @app.callback(
        Output("admin-users", "children"),
        Output("admin-notice", "children"),
        Input({"type": "disable-user", "user": ALL}, "n_clicks"),
        State("lang", "data"),
        prevent_initial_call=True,
    )
    def disable(_clicks: list[int | None], lang: str | None) -> tuple[Any, Any]:
        """A tap on one person's button: disable them (if this admin may), redraw the list."""
        lang = language(lang)
        principal = current_principal()
        if principal is None or not principal.has(*ROLES):
            if principal is not None:
                services().audit.record(
                    principal.login, "user.disable", "refused", client=client_address()
                )
            return no_update, not_for_you(lang)
        trigger = ctx.triggered_id
        clicked = ctx.triggered[0].get("value") if ctx.triggered else None
        if not isinstance(trigger, dict) or not clicked:  # buttons drawn, none tapped
            return no_update, no_update
        notice, done = disable_user(principal, trigger.get("user"), lang)
        return (users_list(principal, lang) if done else no_update), notice
