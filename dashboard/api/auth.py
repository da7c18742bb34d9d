"""`/api/v1/auth/login`, `/auth/logout`, `/auth/password` and `/me`: sessions for people.

A login answers its session token in the body (for API clients: `Authorization: Bearer`) and
as an HttpOnly, SameSite=Lax cookie (for the dashboard). Wrong logins are throttled per
account and per client address (backend/accounts.py): 429 with Retry-After. Every outcome is
an audit event; the password never is.
"""

from __future__ import annotations

import math
from typing import Any

from flask import Response, jsonify, make_response
from flask_smorest import Blueprint, abort

from backend.identity import AuthError, Principal, Throttled
from dashboard.api.context import (
    COOKIE,
    client_address,
    log_in,
    log_out,
    require_principal,
    services,
    set_session_cookie,
)
from dashboard.api.schemas import LoginIn, LoginOut, MeOut, PasswordIn

blp = Blueprint("auth", __name__, url_prefix="/api/v1", description="Logging in and out")


def me_json(principal: Principal) -> dict[str, Any]:
    return {
        "login": principal.login,
        "kind": "token" if principal.token_id is not None else "user",
        "roles": [
            {"organisation": g.organisation, "role": g.role, "communes": sorted(g.communes)}
            for g in principal.grants
        ],
    }


@blp.route("/auth/login", methods=["POST"])
@blp.arguments(LoginIn)
@blp.response(200, LoginOut)
@blp.alt_response(401, description="wrong login or password")
@blp.alt_response(429, description="too many failed logins: wait Retry-After seconds")
def login(body: dict[str, str]) -> Response:
    try:
        result = log_in(body["login"], body["password"])
    except Throttled as exc:
        response = jsonify(code=429, status="Too Many Requests", message=str(exc))
        response.status_code = 429
        response.headers["Retry-After"] = str(math.ceil(exc.retry_after_s))
        return response
    except AuthError as exc:
        abort(401, message=str(exc))
    payload = LoginOut().dump(
        {"token": result.token, "expires_at": result.expires_at, "me": me_json(result.principal)}
    )
    return set_session_cookie(make_response(jsonify(payload)), result)


@blp.route("/auth/logout", methods=["POST"])
@blp.response(204)
@blp.alt_response(401, description="not logged in, or the session has ended")
def logout() -> Response:
    require_principal()
    return log_out(make_response("", 204))


@blp.route("/auth/password", methods=["POST"])
@blp.arguments(PasswordIn)
@blp.response(204)
@blp.alt_response(401, description="not logged in, or the old password is wrong")
@blp.alt_response(403, description="an API token has no password")
def change_password(body: dict[str, str]) -> Response:
    principal = require_principal()
    user_id = principal.user_id
    if user_id is None:
        abort(403, message="an API token has no password")
    assert user_id is not None  # abort raised (flask-smorest's abort is untyped)
    api = services()
    try:
        api.accounts.change_password(user_id, body["old_password"], body["new_password"])
    except AuthError:
        api.audit.record(principal.login, "password.change", "failure", client=client_address())
        abort(401, message="the old password is wrong")
    api.audit.record(principal.login, "password.change", "success", client=client_address())
    response = make_response("", 204)
    response.delete_cookie(COOKIE, path="/")  # every session ended, this one too
    return response


@blp.route("/me", methods=["GET"])
@blp.response(200, MeOut)
@blp.alt_response(401, description="not logged in, or the session has ended")
def me() -> dict[str, Any]:
    return me_json(require_principal())
