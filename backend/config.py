"""Settings: one `ruong.toml` plus `RUONG_*` environment overrides, read once at the entry point.

Every server address is a URL (docs/architecture.md, "Configuration"). The typed `Settings`
object is passed down to each part's constructor; no other module reads the environment or the
file.

Environment overrides are named after the key: `[store] url` <- `RUONG_STORE_URL`,
`[coap] bind` <- `RUONG_COAP_BIND`, `[site] farm` <- `RUONG_SITE_FARM`, and so on.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_CONFIG = "ruong.toml"
# MQTT over TCP, and over TLS (`mqtts`, IANA port 8883)
MQTT_PORTS = {"mqtt": 1883, "mqtts": 8883}


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names the key and where it came from."""


@dataclass(frozen=True)
class Endpoint:
    """A parsed server URL."""

    url: str
    scheme: str
    host: str
    port: int
    path: str = ""
    username: str | None = None
    password: str | None = field(default=None, repr=False)  # kept out of logs and tracebacks
    # the CA certificate (PEM file) a TLS scheme (`mqtts`) verifies the server with; None:
    # the system's trusted CAs
    ca_file: str | None = None

    @property
    def tls(self) -> bool:
        """Whether the scheme is the TLS one (`mqtts`, `influxdbs`)."""
        return self.scheme in ("mqtts", "influxdbs")

    @property
    def redacted(self) -> str:
        """The URL with its password replaced by `***`, for logs and messages."""
        if self.password is None:
            return self.url
        scheme, rest = self.url.split("://", 1)
        userinfo, host = rest.rsplit("@", 1)
        return f"{scheme}://{userinfo.split(':', 1)[0]}:***@{host}"


@dataclass(frozen=True)
class Settings:
    farm: str = "ninh-binh-demo"
    store_url: str = "sqlite:///ruong-data/readings.db"
    mqtt_url: str | None = "mqtt://127.0.0.1:1883"
    # PEM CA certificate an mqtts:// broker is verified with; "" = the system's trusted CAs
    mqtt_ca_file: str = ""
    coap_bind: str | None = "coap://127.0.0.1:5683"
    registry_url: str = "sqlite:///ruong-data/registry.db"
    dashboard_bind: str = "http://127.0.0.1:8050"
    spool_path: str = "ruong-data/spool.db"
    spool_max_mb: int = 512
    metrics_bind: str | None = "http://127.0.0.1:9108"
    # MQTT 5 shared subscription group ($share/<group>/ruong/+/up) for several gateways;
    # "" = a plain subscription, which Mosquitto 2.0 keeps across a broker restart (docs/protocol.md)
    mqtt_share_group: str = ""
    # this gateway's MQTT client id, which names its persistent session; "" = ruong-gw-<host>
    mqtt_client_id: str = ""
    # where the farm is, for FAO-56 ET0 (Ninh Bình city by default) and local days
    latitude: float = 20.25  # decimal degrees, north positive
    longitude: float = 105.97  # decimal degrees, east positive
    elevation: float = 3.0  # m above sea level
    timezone: str = "Asia/Ho_Chi_Minh"
    model_dir: str = "ruong-data/models"
    log_format: str = "text"  # "json": one JSON object per log line (backend/logs.py)
    session_hours: float = 12.0  # how long a login lasts (backend/accounts.py)
    # [alerts]: seconds between evaluations; an unacknowledged level-3 field alert goes to
    # the province's officers after `escalate_after` s; quiet hours in site time ("" none);
    # messages per person per local day before the rest fold into a digest
    alerts_evaluate_every: float = 60.0
    alerts_escalate_after: float = 14400.0
    alerts_quiet_hours: str = "21:00-06:00"
    alerts_daily_budget: int = 10
    # the one-tap acknowledgement links in messages: signed with this secret ("" = no links),
    # pointing at the dashboard as phones reach it ("" = [dashboard] bind)
    alerts_link_secret: str = field(default="", repr=False)
    alerts_base_url: str = ""
    # [channels.*]: "" leaves a channel off; every secret can come from its RUONG_* variable
    email_url: str = ""
    email_from: str = "Ruộng <canhbao@example.vn>"
    webhook_url: str = ""
    webhook_secret: str = field(default="", repr=False)
    zalo_url: str = ""
    zalo_access_token: str = field(default="", repr=False)
    zalo_template_id: str = ""
    sms_url: str = ""
    sms_api_key: str = field(default="", repr=False)
    sms_secret_key: str = field(default="", repr=False)
    sms_brandname: str = ""
    # the audit trail also goes as RFC 5424 syslog to udp://host:514 or tcp://host:601; "" off
    audit_syslog: str | None = None
    # [weather]: an Open-Meteo-compatible forecast source ("" = none: the advice assumes no
    # rain and says so), fetched per site every `refresh_h` hours and cached in `cache_dir`
    weather_url: str = ""
    weather_refresh_h: float = 3.0
    weather_timeout_s: float = 10.0
    weather_cache_dir: str = "ruong-data/weather"
    # [clock]: a simulated clock (`ruong demo --speed N`): site time = start + (real time -
    # origin) x speed, in Unix seconds; speed 1 and start 0 is the real clock (backend/clock.py)
    clock_speed: float = 1.0
    clock_start: float = 0.0
    clock_origin: float = 0.0
    # [report]: a drainage period of the season report lasts at least this many days
    report_drainage_min_days: float = 3.0
    source: Mapping[str, str] = field(default_factory=dict)

    @property
    def store(self) -> Endpoint:
        return parse_store_url(self.store_url, self._where("store.url"))

    @property
    def mqtt(self) -> Endpoint | None:
        if not self.mqtt_url:
            return None
        endpoint = parse_url(self.mqtt_url, self._where("mqtt.url"), MQTT_PORTS)
        return replace(endpoint, ca_file=self.mqtt_ca_file or None)

    @property
    def coap(self) -> Endpoint | None:
        if not self.coap_bind:
            return None
        return parse_url(self.coap_bind, self._where("coap.bind"), {"coap": 5683})

    @property
    def metrics(self) -> Endpoint | None:
        if not self.metrics_bind:
            return None
        return parse_url(self.metrics_bind, self._where("gateway.metrics_bind"), {"http": 9108})

    @property
    def dashboard(self) -> Endpoint:
        return parse_url(self.dashboard_bind, self._where("dashboard.bind"), {"http": 8050})

    def _where(self, key: str) -> str:
        return f"{key} (from {self.source.get(key, 'defaults')})"


# key in the TOML file -> (Settings attribute, environment variable)
_KEYS: dict[str, tuple[str, str]] = {
    "site.farm": ("farm", "RUONG_SITE_FARM"),
    "store.url": ("store_url", "RUONG_STORE_URL"),
    "mqtt.url": ("mqtt_url", "RUONG_MQTT_URL"),
    "mqtt.ca_file": ("mqtt_ca_file", "RUONG_MQTT_CA_FILE"),
    "coap.bind": ("coap_bind", "RUONG_COAP_BIND"),
    "registry.url": ("registry_url", "RUONG_REGISTRY_URL"),
    "dashboard.bind": ("dashboard_bind", "RUONG_DASHBOARD_BIND"),
    "gateway.spool": ("spool_path", "RUONG_GATEWAY_SPOOL"),
    "gateway.spool_max_mb": ("spool_max_mb", "RUONG_GATEWAY_SPOOL_MAX_MB"),
    "gateway.metrics_bind": ("metrics_bind", "RUONG_GATEWAY_METRICS_BIND"),
    "gateway.mqtt_share_group": ("mqtt_share_group", "RUONG_GATEWAY_MQTT_SHARE_GROUP"),
    "gateway.mqtt_client_id": ("mqtt_client_id", "RUONG_GATEWAY_MQTT_CLIENT_ID"),
    "site.latitude": ("latitude", "RUONG_SITE_LATITUDE"),
    "site.longitude": ("longitude", "RUONG_SITE_LONGITUDE"),
    "site.elevation": ("elevation", "RUONG_SITE_ELEVATION"),
    "site.timezone": ("timezone", "RUONG_SITE_TIMEZONE"),
    "forecast.model_dir": ("model_dir", "RUONG_FORECAST_MODEL_DIR"),
    "log.format": ("log_format", "RUONG_LOG_FORMAT"),
    "auth.session_hours": ("session_hours", "RUONG_AUTH_SESSION_HOURS"),
    "alerts.evaluate_every": ("alerts_evaluate_every", "RUONG_ALERTS_EVALUATE_EVERY"),
    "alerts.escalate_after": ("alerts_escalate_after", "RUONG_ALERTS_ESCALATE_AFTER"),
    "alerts.quiet_hours": ("alerts_quiet_hours", "RUONG_ALERTS_QUIET_HOURS"),
    "alerts.daily_budget": ("alerts_daily_budget", "RUONG_ALERTS_DAILY_BUDGET"),
    "alerts.link_secret": ("alerts_link_secret", "RUONG_ALERTS_LINK_SECRET"),
    "alerts.base_url": ("alerts_base_url", "RUONG_ALERTS_BASE_URL"),
    "channels.email.url": ("email_url", "RUONG_CHANNELS_EMAIL_URL"),
    "channels.email.from": ("email_from", "RUONG_CHANNELS_EMAIL_FROM"),
    "channels.webhook.url": ("webhook_url", "RUONG_CHANNELS_WEBHOOK_URL"),
    "channels.webhook.secret": ("webhook_secret", "RUONG_CHANNELS_WEBHOOK_SECRET"),
    "channels.zalo.url": ("zalo_url", "RUONG_CHANNELS_ZALO_URL"),
    "channels.zalo.access_token": ("zalo_access_token", "RUONG_CHANNELS_ZALO_ACCESS_TOKEN"),
    "channels.zalo.template_id": ("zalo_template_id", "RUONG_CHANNELS_ZALO_TEMPLATE_ID"),
    "channels.sms.url": ("sms_url", "RUONG_CHANNELS_SMS_URL"),
    "channels.sms.api_key": ("sms_api_key", "RUONG_CHANNELS_SMS_API_KEY"),
    "channels.sms.secret_key": ("sms_secret_key", "RUONG_CHANNELS_SMS_SECRET_KEY"),
    "channels.sms.brandname": ("sms_brandname", "RUONG_CHANNELS_SMS_BRANDNAME"),
    "audit.syslog": ("audit_syslog", "RUONG_AUDIT_SYSLOG"),
    "weather.url": ("weather_url", "RUONG_WEATHER_URL"),
    "weather.refresh_h": ("weather_refresh_h", "RUONG_WEATHER_REFRESH_H"),
    "weather.timeout_s": ("weather_timeout_s", "RUONG_WEATHER_TIMEOUT_S"),
    "weather.cache_dir": ("weather_cache_dir", "RUONG_WEATHER_CACHE_DIR"),
    "clock.speed": ("clock_speed", "RUONG_CLOCK_SPEED"),
    "clock.start": ("clock_start", "RUONG_CLOCK_START"),
    "clock.origin": ("clock_origin", "RUONG_CLOCK_ORIGIN"),
    "report.drainage_min_days": ("report_drainage_min_days", "RUONG_REPORT_DRAINAGE_MIN_DAYS"),
}
# keys that are numbers, with their type; every other key is a string
_NUMBER_KEYS: dict[str, type] = {
    "gateway.spool_max_mb": int,
    "site.latitude": float,
    "site.longitude": float,
    "site.elevation": float,
    "auth.session_hours": float,
    "alerts.evaluate_every": float,
    "alerts.escalate_after": float,
    "alerts.daily_budget": int,
    "weather.refresh_h": float,
    "weather.timeout_s": float,
    "clock.speed": float,
    "clock.start": float,
    "clock.origin": float,
    "report.drainage_min_days": float,
}


def parse_url(url: str, where: str, default_ports: Mapping[str, int]) -> Endpoint:
    """Parse a server URL whose scheme must be one of `default_ports`; raise ConfigError."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise ConfigError(f"{where}: {url!r} is not a valid URL ({exc})") from None
    if parts.scheme not in default_ports:
        allowed = ", ".join(f"{s}://" for s in default_ports)
        raise ConfigError(f"{where}: {url!r} must start with {allowed}")
    if not parts.hostname:
        raise ConfigError(f"{where}: {url!r} has no host")
    return Endpoint(
        url=url,
        scheme=parts.scheme,
        host=parts.hostname,
        port=port if port is not None else default_ports[parts.scheme],
        path=parts.path.lstrip("/"),
        username=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
    )


def parse_store_url(url: str, where: str = "store.url") -> Endpoint:
    """`influxdb://[user:pass@]host[:port]/db` or `sqlite:///path/to/file.db`."""
    if url.startswith("sqlite:///"):
        path = url[len("sqlite:///") :]
        if not path:
            raise ConfigError(f"{where}: {url!r} names no file")
        return Endpoint(url=url, scheme="sqlite", host="", port=0, path=path)
    ep = parse_url(url, where, {"influxdb": 8086, "influxdbs": 8086})
    if not ep.path or "/" in ep.path:
        raise ConfigError(
            f"{where}: {url!r} must name one database, e.g. influxdb://host:8086/ruong"
        )
    return ep


def load_settings(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Read `path` (default: ./ruong.toml if it exists) and apply RUONG_* overrides from `env`.

    Raises ConfigError naming the offending key for unknown keys, wrong types and bad URLs.
    """
    env = os.environ if env is None else env
    values: dict[str, str | int | float | None] = {}
    source: dict[str, str] = {}
    explicit = path is not None
    file = Path(path if path is not None else DEFAULT_CONFIG)
    if file.exists():
        try:
            data = tomllib.loads(file.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{file}: not valid TOML ({exc})") from None
        for section, table in data.items():
            if not isinstance(table, dict):
                raise ConfigError(f"{file}: top-level key {section!r} must be a [section]")
            for dotted, value in _flatten(section, table):
                if dotted not in _KEYS:
                    known = ", ".join(sorted(_KEYS))
                    raise ConfigError(f"{file}: unknown key {dotted!r} (known: {known})")
                wanted = _NUMBER_KEYS.get(dotted, str)
                allowed = (int, float) if wanted is float else wanted
                if isinstance(value, bool) or not isinstance(value, allowed):
                    kind = {int: "an integer", float: "a number"}.get(wanted, "a string")
                    raise ConfigError(f"{file}: {dotted} must be {kind}, got {value!r}")
                values[_KEYS[dotted][0]] = wanted(value)
                source[dotted] = str(file)
    elif explicit:
        raise ConfigError(f"config file {file} does not exist")
    for dotted, (attr, var) in _KEYS.items():
        if var in env:
            if dotted in _NUMBER_KEYS:
                wanted = _NUMBER_KEYS[dotted]
                try:
                    values[attr] = wanted(env[var])
                except ValueError:
                    kind = "an integer" if wanted is int else "a number"
                    raise ConfigError(f"{var}: {env[var]!r} is not {kind}") from None
            else:
                values[attr] = env[var]
            source[dotted] = var
    # An empty mqtt.url / coap.bind / gateway.metrics_bind switches that part off.
    for attr in ("mqtt_url", "coap_bind", "metrics_bind", "audit_syslog"):
        if values.get(attr) == "":
            values[attr] = None
    settings = Settings(**values, source=source)  # type: ignore[arg-type]
    validate(settings)
    return settings


def _flatten(prefix: str, table: Mapping[str, object]) -> list[tuple[str, object]]:
    """`[channels.email] url = ...` as ("channels.email.url", ...): sub-tables by dots."""
    out: list[tuple[str, object]] = []
    for key, value in table.items():
        dotted = f"{prefix}.{key}"
        if isinstance(value, dict):
            out += _flatten(dotted, value)
        else:
            out.append((dotted, value))
    return out


def validate(settings: Settings) -> None:
    """Parse every URL once so a bad one fails at start, not at first use."""
    if not settings.farm or not settings.farm.replace("-", "").replace("_", "").isalnum():
        raise ConfigError(
            f"{settings._where('site.farm')}: {settings.farm!r} must be letters, digits, - or _"
        )
    settings.store  # noqa: B018 - property access parses and validates
    mqtt = settings.mqtt
    if settings.mqtt_ca_file:
        where = settings._where("mqtt.ca_file")
        if mqtt is None or mqtt.scheme != "mqtts":
            raise ConfigError(f"{where}: a CA file is for an mqtts:// [mqtt] url only")
        if not Path(settings.mqtt_ca_file).is_file():
            raise ConfigError(f"{where}: {settings.mqtt_ca_file!r} is not a file")
    settings.coap  # noqa: B018
    settings.dashboard  # noqa: B018
    settings.metrics  # noqa: B018
    if settings.spool_max_mb < 1:
        raise ConfigError(
            f"{settings._where('gateway.spool_max_mb')}: must be at least 1, "
            f"got {settings.spool_max_mb}"
        )
    for key, low, high in (("latitude", -90.0, 90.0), ("longitude", -180.0, 180.0)):
        if not low <= getattr(settings, key) <= high:
            raise ConfigError(
                f"{settings._where('site.' + key)}: must be within {low:g}..{high:g} degrees, "
                f"got {getattr(settings, key)}"
            )
    try:
        ZoneInfo(settings.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(
            f"{settings._where('site.timezone')}: {settings.timezone!r} is not an IANA time "
            "zone such as Asia/Ho_Chi_Minh"
        ) from None
    if settings.alerts_evaluate_every < 1 or settings.alerts_escalate_after < 60:
        raise ConfigError(
            f"{settings._where('alerts.evaluate_every')}: evaluate_every must be at least 1 s "
            "and escalate_after at least 60 s"
        )
    if settings.alerts_daily_budget < 1:
        raise ConfigError(f"{settings._where('alerts.daily_budget')}: must be at least 1")
    _check_quiet_hours(settings)
    if settings.audit_syslog:
        parse_url(settings.audit_syslog, settings._where("audit.syslog"), {"udp": 514, "tcp": 601})
    if not 0 < settings.session_hours <= 24 * 30:
        raise ConfigError(
            f"{settings._where('auth.session_hours')}: must be more than 0 and at most 720, "
            f"got {settings.session_hours}"
        )
    if settings.log_format not in ("text", "json"):
        raise ConfigError(
            f"{settings._where('log.format')}: {settings.log_format!r} must be text or json"
        )
    if any(c in settings.mqtt_share_group for c in "/+#"):
        raise ConfigError(
            f"{settings._where('gateway.mqtt_share_group')}: {settings.mqtt_share_group!r} "
            "must not contain '/', '+' or '#' (it is one topic level)"
        )
    if settings.weather_url:
        parse_url(settings.weather_url, settings._where("weather.url"), {"http": 80, "https": 443})
    for key in ("refresh_h", "timeout_s"):
        if getattr(settings, f"weather_{key}") <= 0:
            raise ConfigError(
                f"{settings._where('weather.' + key)}: must be more than 0, "
                f"got {getattr(settings, f'weather_{key}')}"
            )
    if not 0 < settings.clock_speed <= 100_000:
        raise ConfigError(
            f"{settings._where('clock.speed')}: must be more than 0 and at most 100000, "
            f"got {settings.clock_speed}"
        )
    if not 0 < settings.report_drainage_min_days <= 60:
        raise ConfigError(
            f"{settings._where('report.drainage_min_days')}: must be more than 0 and at most "
            f"60 days, got {settings.report_drainage_min_days}"
        )
    if not (settings.registry_url.startswith("sqlite:") or "://" in settings.registry_url):
        raise ConfigError(
            f"{settings._where('registry.url')}: {settings.registry_url!r} must be a "
            "SQLAlchemy URL such as sqlite:///registry.db or postgresql://host/ruong"
        )


def _check_quiet_hours(settings: Settings) -> None:
    text = settings.alerts_quiet_hours.strip()
    if not text:
        return
    try:
        start, end = text.split("-")
        for part in (start, end):
            hours, minutes = part.strip().split(":")
            if not (0 <= int(hours) < 24 and 0 <= int(minutes) < 60):
                raise ValueError(part)
    except ValueError:
        raise ConfigError(
            f"{settings._where('alerts.quiet_hours')}: {text!r} must be HH:MM-HH:MM, "
            'e.g. "21:00-06:00", or "" for none'
        ) from None


def render_toml(settings: Settings) -> str:
    """The settings as a ruong.toml text (used by `ruong demo` to hand its config to children)."""
    sections: dict[str, list[str]] = {}
    for dotted, (attr, _var) in _KEYS.items():
        section, key = dotted.rsplit(".", 1)
        value = getattr(settings, attr)
        text = f"{value}" if dotted in _NUMBER_KEYS else f'"{value or ""}"'
        sections.setdefault(section, []).append(f"{key} = {text}")
    return "\n\n".join(f"[{name}]\n" + "\n".join(lines) for name, lines in sections.items()) + "\n"
