"""What every endpoint (and every Dash callback) needs: the services behind the API, and who
is asking, resolved on the server from the request's bearer token or session cookie."""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Response, current_app, g, request
from flask_smorest import abort
from sqlalchemy import Engine

from backend import db
from backend.access import Scope
from backend.accounts import Accounts
from backend.audit import Audit
from backend.config import Settings
from backend.identity import AuthError, LoginResult, Principal, Throttled
from backend.report.season import ReportParameters
from backend.store import Store, open_store

COOKIE = "ruong_session"
EXTENSION = "ruong_api"


@dataclass
class ApiServices:
    """The registry's engine and what is built on it, and the time-series store (one,
    shared by the server's threads: both stores are thread-safe)."""

    engine: Engine
    accounts: Accounts
    scope: Scope
    audit: Audit
    store: Store
    link_secret: str = ""  # `[alerts] link_secret`: the one-tap acknowledgement links
    # the season report's settings (`[report]`, the site's zone, `[alerts] escalate_after`)
    report: ReportParameters = field(default_factory=ReportParameters)

    @classmethod
    def open(cls, settings: Settings) -> ApiServices:
        """Everything from the settings: the registry (created if empty, refused when its
        schema is not this code's: backend/db.py) and the store."""
        engine = db.open_engine(settings.registry_url)
        return cls(
            engine=engine,
            accounts=Accounts(engine, settings.session_hours),
            scope=Scope(engine),
            audit=Audit(engine, settings.audit_syslog),
            store=open_store(settings.store),
            link_secret=settings.alerts_link_secret,
            report=ReportParameters(
                drainage_min_days=settings.report_drainage_min_days,
                timezone=settings.timezone,
                escalate_after_s=settings.alerts_escalate_after,
            ),
        )

    def close(self) -> None:
        self.store.close()
        self.audit.close()
        self.engine.dispose()


def services() -> ApiServices:
    found: ApiServices = current_app.extensions[EXTENSION]
    return found


def client_address() -> str | None:
    """The peer's address. X-Forwarded-For is not trusted: behind a reverse proxy, the proxy
    must set REMOTE_ADDR (e.g. werkzeug's ProxyFix with the proxy's hop count)."""
    return request.remote_addr


def bearer() -> str | None:
    """The secret the request carries: `Authorization: Bearer ...`, else the session cookie."""
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return header[7:].strip() or None
    return request.cookies.get(COOKIE) or None


def current_principal() -> Principal | None:
    """Who is asking, once per request; None when nobody valid is."""
    if "ruong_principal" not in g:
        secret = bearer()
        g.ruong_principal = services().accounts.principal(secret) if secret else None
    found: Principal | None = g.ruong_principal
    return found


def require_principal() -> Principal:
    """The caller, or a 401 answer."""
    principal = current_principal()
    if principal is None:
        abort(401, message="log in first: POST /api/v1/auth/login")
    assert principal is not None
    return principal


def log_in(login: str, password: str) -> LoginResult:
    """`Accounts.login` for this request's client, every outcome in the audit trail; raises
    Throttled or AuthError (after recording them) as it does."""
    api = services()
    client = client_address()
    try:
        result = api.accounts.login(login, password, client)
    except Throttled:
        api.audit.record(login[:64], "login", "throttled", client=client)
        raise
    except AuthError as exc:
        details = {"reason": exc.reason}
        api.audit.record(login[:64], "login", "failure", client=client, details=details)
        raise
    orgs = ",".join(sorted({g.organisation for g in result.principal.grants})) or None
    api.audit.record(result.principal.login, "login", "success", client=client, organisation=orgs)
    return result


def set_session_cookie(response: Response, result: LoginResult) -> Response:
    """The session as an HttpOnly, SameSite=Lax cookie (Secure over HTTPS)."""
    response.set_cookie(
        COOKIE,
        result.token,
        expires=result.expires_at,
        httponly=True,
        samesite="Lax",
        secure=request.is_secure,
        path="/",
    )
    return response


def log_out(response: Response) -> Response:
    """End the caller's session (an API token has none to end) and drop its cookie."""
    principal = current_principal()
    secret = bearer()
    if principal is not None and secret is not None and principal.token_id is None:
        services().accounts.logout(secret)
        services().audit.record(principal.login, "logout", "success", client=client_address())
    response.delete_cookie(COOKIE, path="/")
    return response
