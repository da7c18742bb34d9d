"""The remote config's state files, read at boot (config.load_config; docs/protocol.md
"Config downlink"):

    <state_dir>/remote.json  the remote config in force: {"version": v, "settings": {...},
                             "seen": v'}, seen being the newest version handled, applied or
                             rejected (the floor for later downlinks, and CoAP's Uri-Query)
    <state_dir>/remote.new   a downlink remote.py verified and kept last cycle

A kept downlink is validated here, at boot, exactly as the config file is: laid over it, it
must pass config.parse_config. Both files are written through a temporary file and a rename.
Its own module so that config.py stays small enough to compile in a 64 kB heap.
"""

import json
import sys

import config
from compat import join, write_json

REMOTE_FILE = "remote.json"
PENDING_FILE = "remote.new"  # the name remote.py writes
_NOTHING = {"version": 0, "settings": {}, "seen": 0}


def _state_file(path):
    """The JSON in a state file; None when there is none; ValueError when it is not JSON."""
    try:
        with open(path) as f:
            return json.load(f)
    except OSError:
        return None


def _in_force(path):
    """remote.json as {"version", "settings", "seen"}; none yet, or unreadable (said on
    stderr): nothing in force."""
    try:
        state = _state_file(path)
        if state is None:
            return dict(_NOTHING)
        version = state["version"]
        if type(version) is not int or version < 1 or not isinstance(state["settings"], dict):
            raise ValueError("version %r" % (version,))
        seen = state.get("seen", version)
        return {"version": version, "settings": state["settings"], "seen": max(seen, version)}
    except (LookupError, TypeError, ValueError) as exc:
        sys.stderr.write("remote.json ignored: %r\n" % (exc,))
    return dict(_NOTHING)


def _promote(raw, state_dir, remote):
    """Take the downlink kept last cycle: in force if the file with it laid over validates,
    else rejected; either way its version becomes `seen`, and remote.json is rewritten
    before remote.new goes. Returns "applied:<v>", "rejected:key:<name>" or None (nothing
    pending)."""
    pending_path = join(state_dir, PENDING_FILE)
    try:
        pending = _state_file(pending_path)
    except ValueError:
        pending = {}  # torn or corrupt: dropped (the gateway sends it again)
    if pending is None:
        return None  # the usual case: no downlink came
    result = None
    version = pending.get("version") if isinstance(pending, dict) else None
    if type(version) is int and version > remote["seen"]:
        try:
            config.overlay(raw, pending.get("settings"))
            remote["version"] = version
            remote["settings"] = pending["settings"]
            result = "applied:%d" % version
        except config.ConfigError as exc:
            result = "rejected:key:%s" % exc.key
        remote["seen"] = version
        write_json(join(state_dir, REMOTE_FILE), remote)
    import os

    os.remove(pending_path)
    return result


def laid_over(raw, settings):
    """`settings` (the config file `raw`, parsed) with the remote config in force laid over
    it, plus config_version, config_seen and config_result (config.load_config). Remote
    settings that no longer validate against the file (a reflash changed it) are not used,
    with one line on stderr; their version stays the floor."""
    state_dir = settings["state_dir"]
    remote = _in_force(join(state_dir, REMOTE_FILE))
    result = _promote(raw, state_dir, remote)
    if remote["version"]:
        try:
            settings = config.overlay(raw, remote["settings"])
        except config.ConfigError as exc:
            sys.stderr.write("remote.json version %d not used: %s\n" % (remote["version"], exc))
            remote["version"] = 0
    settings["config_version"] = remote["version"]
    settings["config_seen"] = remote["seen"]
    settings["config_result"] = result
    return settings
