"""The alert machinery as `ruong.toml` configures it: the channels of `[channels.*]` and
the evaluator's policies from `[alerts]` (config flows down from here, once)."""

from __future__ import annotations

from dataclasses import replace

from backend.alerts.channels.base import Channel
from backend.alerts.channels.email import EmailChannel
from backend.alerts.channels.sms import SmsChannel
from backend.alerts.channels.webhook import WebhookChannel
from backend.alerts.channels.zalo import ZaloChannel
from backend.alerts.engine import Evaluator
from backend.alerts.routing import RoutingPolicy, parse_quiet_hours
from backend.clock import Clock
from backend.config import Settings
from backend.registry import Registry
from backend.store import Store


def channels(settings: Settings) -> dict[str, Channel]:
    """Every channel whose `[channels.<name>] url` is set."""
    out: dict[str, Channel] = {}
    if settings.email_url:
        out["email"] = EmailChannel(settings.email_url, settings.email_from)
    if settings.webhook_url:
        out["webhook"] = WebhookChannel(settings.webhook_url, settings.webhook_secret)
    if settings.zalo_url:
        out["zalo"] = ZaloChannel(
            settings.zalo_url,
            settings.zalo_access_token,
            settings.zalo_template_id,
            timezone=settings.timezone,
        )
    if settings.sms_url:
        out["sms"] = SmsChannel(
            settings.sms_url, settings.sms_api_key, settings.sms_secret_key, settings.sms_brandname
        )
    return out


def evaluator(
    settings: Settings, registry: Registry, store: Store, clock: Clock | None = None
) -> Evaluator:
    """The evaluator with `[alerts]`'s escalation, quiet hours and budget, on `clock` (the
    site's; default the real one)."""
    routing = replace(
        RoutingPolicy(), timezone=settings.timezone, escalate_after_s=settings.alerts_escalate_after
    )
    quiet = parse_quiet_hours(settings.alerts_quiet_hours)
    return Evaluator(
        registry,
        store,
        settings.timezone,
        routing=routing,
        quiet_hours=quiet if quiet is not None else (),
        daily_budget=settings.alerts_daily_budget,
        clock=clock or Clock(),
    )
