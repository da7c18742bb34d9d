"""The JSON API under /api/v1, served by the dashboard's Flask server, with its OpenAPI 3
document generated from the endpoints' schemas at /api/v1/openapi.json (flask-smorest).

Endpoints and the roles that reach them (scope rules: backend/access.py):

| endpoint | who |
| --- | --- |
| POST /auth/login, POST /auth/logout, POST /auth/password, GET /me | anyone / the logged-in caller |
| GET /fields, /fields/{id}, /fields/{id}/readings, /forecasts, /records | farmer, officer, technician, admin (in scope) |
| POST /fields/{id}/records | farmer (own fields), officer (scouting, own communes), admin |
| GET /nodes | technician, admin (own organisation) |
| POST /fields/{id}/thresholds | farmer (own fields), officer (own communes), admin |
| GET /alerts, POST /alerts/{id}/ack | the alerts of the caller's fields; technicians and admins also their nodes' and the gateway's |
| GET /reports/season (season=YYYY-spring or YYYY-summer, or from and to; scope; format json, csv or pdf) | a farmer their fields, an officer their communes, admin and technician their organisation, a viewer the aggregates only |

A request authenticated by its session cookie (the dashboard) and not by a bearer token must
send JSON for any change (a cross-site HTML form cannot), besides the cookie's SameSite=Lax.
"""

from __future__ import annotations

from flask import Flask, Response, request
from flask_smorest import Api, abort
from werkzeug.exceptions import MethodNotAllowed

from dashboard.api import alerts, auth, fields, reports
from dashboard.api.context import EXTENSION, ApiServices

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def register(server: Flask, api_services: ApiServices) -> Api:
    """Mount the API on `server` (Dash's Flask app) over `api_services`."""
    server.config.update(
        API_TITLE="Ruộng",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        API_SPEC_OPTIONS={
            "info": {"description": "Fields, readings, forecasts and records, by role."},
            "security": [{"bearer": []}, {"session": []}],
        },
    )
    server.extensions[EXTENSION] = api_services
    api = Api(server)
    api.spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    api.spec.components.security_scheme(
        "session", {"type": "apiKey", "in": "cookie", "name": "ruong_session"}
    )
    api.register_blueprint(auth.blp)
    api.register_blueprint(fields.blp)
    api.register_blueprint(alerts.blp)
    api.register_blueprint(reports.blp)

    @server.before_request
    def json_for_cookie_changes() -> None:
        if (
            request.path.startswith("/api/")
            and request.method in UNSAFE
            and not request.headers.get("Authorization")
            and request.cookies.get("ruong_session")
            and not request.is_json
        ):
            abort(415, message="send the change as application/json")

    @server.before_request
    def unknown_api_path() -> None:
        """Dash answers any path it does not know with its page (its client-side routing);
        under /api/ that would be a 200 of HTML where a client expects this API's JSON."""
        rule = request.url_rule  # None when routing failed: its own 404 or 405 follows
        fell_through = rule is not None and not rule.rule.startswith("/api/")
        if request.path.startswith("/api/") and fell_through:
            abort(404, message=f"no such endpoint: {request.method} {request.path}")

    @server.after_request
    def allow_header(response: Response) -> Response:
        """A 405 names the methods the path takes (RFC 9110 15.5.6); flask-smorest's JSON
        error handler drops the header werkzeug gave it."""
        error = request.routing_exception
        if response.status_code == 405 and isinstance(error, MethodNotAllowed):
            response.headers.setdefault("Allow", ", ".join(sorted(error.valid_methods or ())))
        return response

    return api
