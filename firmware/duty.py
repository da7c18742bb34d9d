"""Duty-cycle policy: how long the node sleeps before its next cycle, and why.

Pure (no I/O), so the unix port tests every rule. Rules, first match wins:

    battery <= battery_critical_v  -> interval_critical_s  "battery_critical"
    battery <= battery_low_v       -> interval_low_s       "battery_low"
    rain > 0 in this sample        -> interval_fast_s      "rain"
    |soil_vwc - soil_vwc_alert| <= soil_vwc_near           -> interval_fast_s  "soil_vwc"
    |water_level - water_level_alert_m| <= water_level_near_m -> interval_fast_s "water_level"
    otherwise                      -> interval_s           "normal"

then bounded to [interval_min_s, interval_max_s]. The battery comes first: a node that runs
itself flat reports nothing, rain or not. Units: seconds, volts, % VWC, metres.
"""

WHY_NORMAL = "normal"


def _battery_v(values, state):
    """This sample's battery voltage (V), else the last one seen (a failed divider read must
    not look like a full battery); None when never read. Remembers it in `state`."""
    volts = values.get("battery")
    if volts is None:
        return state.get("battery")
    state["battery"] = volts
    return volts


def _near(value, target, margin):
    return value is not None and abs(value - target) <= margin


def choose(cfg, values, state):
    """(interval s before bounds, reason) by the rules in the module docstring."""
    fast_s, low_s, critical_s, _min_s, _max_s, low_v, critical_v = cfg["duty"][:7]
    vwc_alert, vwc_near, level_alert_m, level_near_m = cfg["duty"][7:]
    volts = _battery_v(values, state)
    if volts is not None and volts <= critical_v:
        return critical_s, "battery_critical"
    if volts is not None and volts <= low_v:
        return low_s, "battery_low"
    if (values.get("rain") or 0) > 0:
        return fast_s, "rain"
    if _near(values.get("soil_vwc"), vwc_alert, vwc_near):
        return fast_s, "soil_vwc"
    if _near(values.get("water_level"), level_alert_m, level_near_m):
        return fast_s, "water_level"
    return cfg["interval_s"], WHY_NORMAL


def next_interval_s(cfg, values, state):
    """(seconds until the next cycle, reason). cfg: the settings (config.py): `interval_s`
    and `duty`, the tuple config.DUTY_KEYS names (fast, low, critical, min, max s; low,
    critical V; soil VWC alert, near %; water level alert, near m); values: this cycle's
    {quantity: value}; state: a dict kept between cycles (last battery voltage)."""
    seconds, why = choose(cfg, values, state)
    min_s, max_s = cfg["duty"][3:5]
    return min(max(seconds, min_s), max_s), why
