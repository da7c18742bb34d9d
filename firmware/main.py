"""Node entry point: `micropython main.py CONFIG.json` (the board's main.py calls `run`).

Runs `cycles` sampling cycles (0 = forever), `interval_s` apart, printing one JSON report
line per cycle on stdout. Exit status: 0 every uplink acknowledged (2.04 / PUBACK), 3 some
were not, 2 bad configuration (the bad key named on stderr).
"""

import gc
import json
import sys

from compat import URLError, split_url

EXIT_OK = 0
EXIT_CONFIG = 2
EXIT_UNACKED = 3
HEX = "0123456789abcdef"


class ConfigError(ValueError):
    """A configuration value that the node cannot run with; `key` names it."""

    def __init__(self, key, why):
        super().__init__("config key %r: %s" % (key, why))
        self.key = key


def _node_id_ok(text):
    """Same rule as backend.registry.NODE_ID: ^[a-z0-9][a-z0-9-]{1,31}$."""
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
    """Validate the config dict; return a settings dict (key as bytes). Raises ConfigError."""
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
    try:
        host, port = split_url(gateway, transport, 5683 if transport == "coap" else 1883)
    except URLError as exc:
        raise ConfigError("gateway", str(exc))
    return {
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
    }


def load_modules(transport):
    """Import the firmware, largest modules first, collecting garbage in between.

    Compiling a module from source needs several times its final size in RAM (the board
    runs mpy-cross output and does not compile); importing the big ones while the heap is
    still empty keeps `ruong sim` inside a board-sized heap (-X heapsize=64k).
    """
    names = [transport, "cbor"]
    if sys.platform != "esp32":
        names.append("sim_field")
    names += ["cose", "senml", "hal", "node"]
    modules = {}
    for name in names:
        gc.collect()
        modules[name] = __import__(name)
    gc.collect()
    return modules


def make_transport(settings):
    """The uplink transport named in the settings (both expose send(payload) -> str)."""
    if settings["transport"] == "coap":
        import coap

        return coap.CoapClient(
            settings["host"],
            settings["port"],
            ack_timeout_s=settings["ack_timeout_s"],
            max_retransmit=settings["max_retransmit"],
            response_timeout_s=settings["response_timeout_s"],
        )
    import mqtt

    # the broker must not drop us while we sleep between cycles (it waits 1.5 x keepalive)
    keepalive_s = min(65535, max(60, int(settings["interval_s"]) + 30))
    return mqtt.MQTTClient(
        settings["node"],
        settings["host"],
        settings["port"],
        keepalive_s=keepalive_s,
        ack_timeout_s=max(settings["ack_timeout_s"], 1.0),
        max_resends=settings["max_retransmit"],
    )


def run(settings, out=None):
    """Run the configured cycles; return the exit status (EXIT_OK or EXIT_UNACKED)."""
    modules = load_modules(settings["transport"])
    node_module = modules["node"]
    board = modules["hal"].for_this_board(settings["field"], settings["seed"])
    transport = make_transport(settings)
    node = node_module.Node(
        settings["node"],
        settings["key"],
        board,
        transport,
        node_module.Counter(settings["state_dir"]),
    )
    unacked = 0
    cycle = 0
    try:
        while settings["cycles"] == 0 or cycle < settings["cycles"]:
            if cycle:
                board.sleep_s(settings["interval_s"])
            gc.collect()  # a cycle's garbage is small; collecting keeps the heap unfragmented
            report = node.cycle()
            if report["result"] not in node_module.ACKED:
                unacked += 1
            print(json.dumps(report))
            cycle += 1
    finally:
        transport.close()
    return EXIT_UNACKED if unacked else EXIT_OK


def load_config(path):
    """Read and validate the JSON config file; ConfigError on any problem."""
    try:
        with open(path) as f:
            raw = json.load(f)
    except OSError as exc:
        raise ConfigError("(file)", "cannot read %s: %s" % (path, exc))
    except ValueError as exc:
        raise ConfigError("(file)", "%s is not valid JSON: %s" % (path, exc))
    return parse_config(raw)


def main(argv):
    if len(argv) != 2:
        sys.stderr.write("usage: micropython main.py CONFIG.json\n")
        return EXIT_CONFIG
    try:
        settings = load_config(argv[1])
    except ConfigError as exc:
        sys.stderr.write("bad config: %s\n" % exc)
        return EXIT_CONFIG
    return run(settings)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
