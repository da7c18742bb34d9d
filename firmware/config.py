"""The node's JSON config file -> a validated settings dict (config flows down from here).

Imported by main.py, which drops it from memory once the settings exist. Keys that
ruong/sim.py writes: node, key, transport, gateway, field, seed, interval_s, cycles,
state_dir, mqtt_user, mqtt_password (and mqtt_ca over mqtts://). Optional ones (defaults in `parse_config`): radio tuning, the outbox bounds,
sensor calibration, and host-only simulation knobs (sim_start, sim_step_s, faults).
"""

import json
import os
import sys

HEX = "0123456789abcdef"


class URLError(ValueError):
    """A gateway URL the node cannot use."""


def split_url(url, scheme, default_port):
    # "scheme://host[:port][/...]" -> (host, port); IPv6 hosts in brackets.
    prefix = scheme + "://"
    if not url.startswith(prefix):
        raise URLError("gateway URL %r must start with %s" % (url, prefix))
    rest = url[len(prefix) :].split("/")[0]
    host, port_text = rest, ""
    if rest.startswith("["):  # [IPv6]:port
        end = rest.find("]")
        host = rest[1:end]
        if rest[end + 1 : end + 2] == ":":
            port_text = rest[end + 2 :]
    elif ":" in rest:
        host, port_text = rest.rsplit(":", 1)
    try:
        port = int(port_text) if port_text else default_port
    except ValueError:
        raise URLError("gateway URL %r: port %r is not a number" % (url, port_text))
    if not host or not 0 < port < 65536:
        raise URLError("gateway URL %r has no usable host:port" % url)
    return host, port


class ConfigError(ValueError):
    # A configuration value that the node cannot run with; `key` names it.

    def __init__(self, key, why):
        super().__init__("config key %r: %s" % (key, why))
        self.key = key


def _node_id_ok(text):
    # Same rule as backend.registry.NODE_ID: ^[a-z0-9][a-z0-9-]{1,31}$.
    if not 2 <= len(text) <= 32:
        return False
    for i, ch in enumerate(text):
        if not ("a" <= ch <= "z" or "0" <= ch <= "9" or (ch == "-" and i > 0)):
            return False
    return True


def _number(config, key, default=None, low=0.0):
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= low:
        raise ConfigError(key, "expected a number >= %s, got %r" % (low, value))
    return value


def _integer(config, key, default=None, low=0):
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ConfigError(key, "expected an integer >= %d, got %r" % (low, value))
    return value


def _text(config, key):
    value = config.get(key)
    if not isinstance(value, str) or not value:
        raise ConfigError(key, "expected a non-empty string, got %r" % (value,))
    return value


def parse_config(config):
    # Validate the config dict; return a settings dict (key as bytes). Raises ConfigError.
    if not isinstance(config, dict):
        raise ConfigError("(file)", "expected a JSON object")
    node_id = _text(config, "node")
    if not _node_id_ok(node_id):
        raise ConfigError("node", "%r is not a node id (a-z, 0-9, -, 2..32 chars)" % node_id)
    key_hex = _text(config, "key").lower()
    if len(key_hex) != 64 or any(ch not in HEX for ch in key_hex):
        raise ConfigError("key", "expected 64 hex digits (a 32-byte key)")
    transport = _text(config, "transport")
    if transport not in ("coap", "mqtt"):
        raise ConfigError("transport", "expected 'coap' or 'mqtt', got %r" % transport)
    gateway = _text(config, "gateway")
    tls = transport == "mqtt" and gateway[:8] == "mqtts://"  # MQTT over TLS, port 8883
    try:
        port = 8883 if tls else 5683 if transport == "coap" else 1883
        host, port = split_url(gateway, "mqtts" if tls else transport, port)
    except URLError as exc:
        raise ConfigError("gateway", str(exc))
    settings = {
        "node": node_id,
        "key": bytes(int(key_hex[i : i + 2], 16) for i in range(0, 64, 2)),
        "transport": transport,
        "host": host,
        "port": port,
        "field": _text(config, "field"),
        "seed": _integer(config, "seed", 0),
        "interval_s": _number(config, "interval_s"),
        "cycles": _integer(config, "cycles"),
        "state_dir": _text(config, "state_dir"),
        # optional tuning, mostly for tests: RFC 7252 ACK_TIMEOUT / MAX_RETRANSMIT, PUBACK wait
        "ack_timeout_s": _number(config, "ack_timeout_s", 2.0, 0.01),
        "max_retransmit": _integer(config, "max_retransmit", 4),
        "response_timeout_s": _number(config, "response_timeout_s", 30.0, 0.01),
        # outbox bounds (oldest dropped and counted beyond them), uplink packing
        "outbox_max_records": _integer(config, "outbox_max_records", 2880, 1),
        "outbox_max_bytes": _integer(config, "outbox_max_bytes", 300000, 1024),
        "max_uplink_bytes": _integer(config, "max_uplink_bytes", 512, 256),
        "max_uplinks_per_cycle": _integer(config, "max_uplinks_per_cycle", 16, 1),
        # sensors: soil two-point calibration [dry counts, dry %, wet counts, wet %]
        "soil_cal": _soil_cal(config),
        # the BOM's tipping bucket (hardware/bom_*.csv) tips every 0.011 in = 0.2794 mm
        "rain_mm_per_tip": _number(config, "rain_mm_per_tip", 0.2794, 0.001),
        "level_mount_m": _number(config, "level_mount_m", 0.6, 0.0),
        "battery_divider": _number(config, "battery_divider", 2.0, 1.0),
        # host only: simulated clock (start Unix s, seconds per cycle; 0 = real clock)
        "sim_start": _integer(config, "sim_start", 0),
        "sim_step_s": _integer(config, "sim_step_s", 0),
        "faults": _faults(config),
        # paddy | upland (no water-level ranger: app.make_sensors), checked by app.load_settings:
        # one more branch here and a bad config no longer compiles in the 64 kB heap
        "kind": config.get("kind", "paddy"),
        # host only: sim_field.Field's `sim`, the demo's clock (hal_host.py checks both)
        "sim": config.get("sim"),
        "clock": config.get("clock"),
        "mqtt": _mqtt(config, tls),  # (user, password, CA file) of the broker account
        # host: read the simulated field through the raw-level HAL and the real drivers
        # (needs ~96 kB of heap on the 64-bit unix port; README "RAM")
        "host_drivers": config.get("host_drivers", False) is True,
        # board Wi-Fi (ssid, password, budget s; empty ssid: the network is brought up
        # elsewhere, or not Wi-Fi); the budget bounds the connect attempts per cycle
        "wifi": (
            _optional_text(config, "wifi_ssid"),
            _optional_text(config, "wifi_password"),
            _number(config, "wifi_budget_s", 20.0, 1.0),
        ),
        "duty": None,  # filled in below; listed so the dict is built at its full size
    }
    duty = _duty(config, settings["interval_s"])
    # tuples, not 14 more keys: a smaller settings dict (RAM on a 64 kB heap)
    settings["duty"] = tuple(duty[key] for key in DUTY_KEYS)
    return settings


# the order of settings["duty"], as firmware/duty.py unpacks it
DUTY_KEYS = (
    "interval_fast_s",
    "interval_low_s",
    "interval_critical_s",
    "interval_min_s",
    "interval_max_s",
    "battery_low_v",
    "battery_critical_v",
    "soil_vwc_alert",
    "soil_vwc_near",
    "water_level_alert_m",
    "water_level_near_m",
)


# what a config downlink may set (docs/protocol.md "Config downlink"): the sampling interval,
# the duty cycle, the soil-probe calibration and the two mounting figures a technician
# measures after installation. The rest (node, key, transport, gateway...) needs a reflash.
REMOTE_KEYS = ("interval_s",) + DUTY_KEYS + ("soil_cal", "level_mount_m", "rain_mm_per_tip")


def _duty(config, interval_s):
    # Duty-cycle settings (firmware/duty.py; README "Duty cycle"): intervals in s, battery
    # thresholds in V, soil VWC in %, water level in m. Defaults scale with interval_s.
    fast_s = _number(config, "interval_fast_s", interval_s / 3)
    duty = {
        "interval_fast_s": fast_s,
        "interval_low_s": _number(config, "interval_low_s", interval_s * 2),
        "interval_critical_s": _number(config, "interval_critical_s", interval_s * 4),
        # samples are stamped in whole seconds: by default never two in one second (the
        # second would overwrite the first in the store), unless the interval itself is shorter
        "interval_min_s": _number(
            config, "interval_min_s", min(interval_s, max(1.0, min(60, fast_s)))
        ),
        "interval_max_s": _number(config, "interval_max_s", max(3600, interval_s * 4)),
        "battery_low_v": _number(config, "battery_low_v", 3.5),
        "battery_critical_v": _number(config, "battery_critical_v", 3.3),
        "soil_vwc_alert": _number(config, "soil_vwc_alert", 25.0),
        "soil_vwc_near": _number(config, "soil_vwc_near", 2.0),
        "water_level_alert_m": _number(config, "water_level_alert_m", -0.15, -10.0),
        "water_level_near_m": _number(config, "water_level_near_m", 0.03),
    }
    _order(duty, "interval_fast_s", duty["interval_fast_s"], interval_s)
    _order(duty, "interval_low_s", interval_s, duty["interval_low_s"])
    _order(duty, "interval_critical_s", duty["interval_low_s"], duty["interval_critical_s"])
    _order(duty, "interval_min_s", duty["interval_min_s"], interval_s)
    _order(duty, "interval_max_s", interval_s, duty["interval_max_s"])
    _order(duty, "battery_critical_v", duty["battery_critical_v"], duty["battery_low_v"])
    return duty


def _order(duty, key, low, high):
    # ConfigError naming `key` unless low <= high.
    if low > high:
        raise ConfigError(
            key,
            "%r breaks the order fast <= interval <= low <= critical, "
            "min <= interval <= max, critical V <= low V" % duty[key],
        )


def _optional_text(config, key):
    value = config.get(key, "")
    if not isinstance(value, str):
        raise ConfigError(key, "expected a string, got %r" % (value,))
    return value


def _mqtt(config, tls):
    # (mqtt_user, mqtt_password, mqtt_ca), None where unset; mqtt_ca (the broker's CA, a
    # DER file) for mqtts:// only, which needs it: a board trusts no CA of its own
    auth = tuple(_optional_text(config, "mqtt_" + k) or None for k in ("user", "password", "ca"))
    if auth[1] and not auth[0]:
        raise ConfigError("mqtt_password", "needs mqtt_user")
    if tls != bool(auth[2]) or tls and not _exists(auth[2]):
        raise ConfigError("mqtt_ca", "an mqtts:// gateway needs it, a DER file; others not")
    return auth


def _exists(path):
    try:
        return os.stat(path)
    except OSError:
        return None


def _soil_cal(config):
    cal = config.get("soil_cal", [2600, 5.0, 1400, 45.0])
    if not (
        isinstance(cal, list)
        and len(cal) == 4
        and all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in cal)
        and cal[0] != cal[2]
    ):
        raise ConfigError("soil_cal", "expected [dry counts, dry %, wet counts, wet %]")
    return cal


def _faults(config):
    faults = config.get("faults", {})
    if not isinstance(faults, dict) or not all(isinstance(v, str) for v in faults.values()):
        raise ConfigError("faults", "expected {device: fault name}")
    return faults


def _read(path):
    try:
        with open(path) as f:
            return json.load(f)
    except OSError as exc:
        raise ConfigError("(file)", "cannot read %s: %s" % (path, exc))
    except ValueError as exc:
        raise ConfigError("(file)", "%s is not valid JSON: %s" % (path, exc))


def overlay(raw, remote):
    # parse_config of the config file's dict `raw` with the REMOTE_KEYS of `remote` laid
    # over it (`raw` is left as it was); ConfigError naming the key otherwise.
    if not isinstance(remote, dict):
        raise ConfigError("(remote)", "expected a JSON object")
    merged = dict(raw)
    for key in remote:
        if key not in REMOTE_KEYS:
            raise ConfigError(key, "cannot be set remotely")
        merged[key] = remote[key]
    return parse_config(merged)


def load_config(path):
    # The validated config file with the remote config in force laid over it
    # (remote_state.py); ConfigError when the file itself is bad.
    #
    # Adds config_version (the remote version in force, 0: the file alone), config_seen (the
    # newest version handled: the Uri-Query the node sends, and the floor below which
    # downlinks are ignored) and config_result (what became of a pending downlink, or None).
    # (Comments, not docstrings, here: a config naming no state_dir is parsed from source,
    # and the parser holds every docstring in the 64 kB heap; each line of code counts.)
    raw = _read(path)
    settings = parse_config(raw)
    import remote_state  # only now: a bad file is refused without compiling it (64 kB)

    try:
        return remote_state.laid_over(raw, settings)
    finally:
        del sys.modules["remote_state"]
