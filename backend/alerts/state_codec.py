"""Alert states as JSON, to keep between evaluations in the registry (`alerts.state_json`):
backend/alerts/model.py's frozen dataclasses, with their messages and aware times."""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import datetime
from typing import Any

from backend.alerts.model import Alert, AlertState, Subject
from backend.i18n import Message

_TIMES = {
    "expires_at",
    "started_at",
    "inactive_since",
    "fired_at",
    "peak_at",
    "rising_since",
    "last_sent_at",
    "acked_at",
    "ended_at",
}


def alert_json(alert: Alert) -> dict[str, Any]:
    s = alert.subject
    return {
        "rule": alert.rule,
        "version": alert.version,
        "subject": {
            "kind": s.kind,
            "id": s.id,
            "name": s.name,
            "commune": s.commune,
            "organisation_id": s.organisation_id,
            "owner_id": s.owner_id,
        },
    }


def alert_from_json(data: dict[str, Any]) -> Alert:
    return Alert(data["rule"], int(data["version"]), Subject(**data["subject"]))


def encode_state(state: AlertState) -> str:
    out: dict[str, Any] = {}
    for f in fields(state):
        value = getattr(state, f.name)
        if f.name == "alert":
            value = alert_json(value)
        elif f.name == "message":
            value = value.as_json()
        elif f.name in _TIMES and value is not None:
            value = value.isoformat()
        out[f.name] = value
    return json.dumps(out, ensure_ascii=False, sort_keys=True)


def decode_state(text: str) -> AlertState:
    data = json.loads(text)
    data["alert"] = alert_from_json(data["alert"])
    data["message"] = Message.from_json(data["message"])
    for name in _TIMES:
        if data.get(name) is not None:
            data[name] = datetime.fromisoformat(data[name])
    return AlertState(**data)
