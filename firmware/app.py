"""The node application: config -> modules -> sampling cycles (started by main.py).

Runs `cycles` sampling cycles (0 = forever), apart by what duty.next_interval_s chooses
(`interval_s` normally), printing one JSON report
line per cycle on stdout. Exit status: 0 every uplink acknowledged (2.04 / PUBACK), 3 some
were not, 2 bad configuration (the bad key named on stderr).
"""

import gc
import json
import sys

EXIT_OK = 0
EXIT_CONFIG = 2
EXIT_UNACKED = 3
CONFIG_FILE = "config.json"  # on the board's flash, beside main.py


def load_modules(transport, host_drivers=False):
    """Import the firmware, largest modules first, collecting garbage in between.

    Compiling a module from source needs several times its final size in RAM (the board
    runs mpy-cross output and does not compile); importing the big ones while the heap is
    still empty keeps `ruong sim` inside a board-sized heap (-X heapsize=64k).
    """
    if sys.platform == "esp32":
        names = ["hal_esp32", transport, "bme280"]
    elif host_drivers:
        names = ["hal_host", transport, "sim_field", "bme280"]
    else:
        names = [transport, "sim_field"]
    names += ["outbox", "cbor", "node", "senml", "hal"]
    modules = {}
    for name in names:
        gc.collect()
        try:
            modules[name] = __import__(name)
        except ImportError:  # sim_* on the board: not deployed there
            pass
    if "bme280" in modules:
        modules["drivers"] = sys.modules["drivers"]
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
            # 2.04 + a config downlink (every remote key: ~440 B); a 64 kB heap has no
            # 1152-byte hole
            rx_bytes=512,
        )
    import mqtt

    # the broker must not drop us while we sleep between cycles (it waits 1.5 x keepalive)
    keepalive_s = min(65535, max(60, int(settings["interval_s"]) + 30))
    user, password, tls_ca = settings["mqtt"]  # the broker account; TLS with a CA file
    return mqtt.MQTTClient(
        settings["node"],
        settings["host"],
        settings["port"],
        keepalive_s=keepalive_s,
        ack_timeout_s=max(settings["ack_timeout_s"], 1.0),
        max_resends=settings["max_retransmit"],
        downlinks=True,  # the retained config on ruong/<node>/config
        user=user,
        password=password,
        tls_ca=tls_ca,
    )


def make_sensors(drivers, bme280=None, kind="paddy"):
    """The reference node's sensors as [(quantities, driver)], in reading order (the water
    level's speed of sound uses the air temperature read before it). `kind` "upland" has no
    water-level ranger: hardware/bom_paddy.csv carries the JSN-SR04T "paddy water level in
    the AWD tube", hardware/bom_upland.csv no ranger at all."""
    sensors = [
        (("air_temp", "air_rh"), drivers.sht3x),
        (("soil_temp",), drivers.ds18b20),
        (("soil_vwc",), drivers.soil_moisture),
        (("leaf_wet",), drivers.leaf_wetness),
        (("rain",), drivers.rain),
        (("battery",), drivers.battery),
        (("rssi",), drivers.rssi),
    ]
    if kind == "paddy":
        sensors.insert(5, (("water_level",), drivers.water_level))
    if bme280 is not None:
        sensors.insert(1, (("air_pressure",), bme280.read))
    return sensors


def sleep(board, transport, seconds):
    """Wait `seconds` for the next cycle. A board's deep sleep ends in a reset, so its
    transport is closed first (MQTT: "offline" and a clean DISCONNECT, see mqtt.close)."""
    if board.sleep_resets:
        transport.close()
    board.sleep_s(seconds)


def run(settings, cycles_done=0):
    """Run the configured cycles from cycle `cycles_done` on; return (unacked uplinks, cycles
    done, carried), where carried is None when the cycles are done, or the HAL's
    `carried()` settings when a config downlink was kept and the node must restart to put
    it in force (on the board the deep sleep before the next cycle is that restart)."""
    drivers_on = sys.platform == "esp32" or settings["host_drivers"]
    modules = load_modules(settings["transport"], drivers_on)
    node_module = modules["node"]
    state_dir = settings["state_dir"]
    counter = node_module.Counter(state_dir)  # creates state_dir
    board = modules["hal"].for_this_board(settings)
    transport = make_transport(settings)
    names = [q[0] for q in modules["senml"].QUANTITIES]
    node = node_module.Node(
        settings["node"],
        settings["key"],
        board,
        transport,
        counter,
        modules["outbox"].Outbox(
            state_dir, names, settings["outbox_max_records"], settings["outbox_max_bytes"]
        ),
        make_sensors(modules["drivers"], sys.modules.get("bme280"), settings["kind"])
        if drivers_on
        else None,
        settings,
        settings["max_uplink_bytes"],
        settings["max_uplinks_per_cycle"],
    )
    modules["senml"].encode_many(settings["node"], [], settings["max_uplink_bytes"])  # buffer
    unacked = 0

    cycle = cycles_done
    next_s = settings["interval_s"]
    try:
        while settings["cycles"] == 0 or cycle < settings["cycles"]:
            if cycle > cycles_done:
                sleep(board, transport, next_s)  # duty.next_interval_s
            board.watchdog_feed()
            gc.collect()  # a cycle's garbage is small; collecting keeps the heap unfragmented
            report = node.cycle()
            next_s = report["next_s"]
            unacked += report.pop("unacked")
            print(json.dumps(report))
            cycle += 1
            if node.restart and (settings["cycles"] == 0 or cycle < settings["cycles"]):
                sleep(board, transport, next_s)
                return unacked, cycle, board.carried()
    finally:
        transport.close()
    return unacked, cycle, None


def load_settings(path):
    """The validated settings (config.py, dropped from RAM again), or None after one line on
    stderr naming the bad key. The node's kind is checked here, not in config.py: a config
    naming no state_dir is compiled from source, where config.py has no room to spare."""
    import config  # its code is not needed while the node runs

    try:
        settings = config.load_config(path)
        if settings["kind"] not in ("paddy", "upland"):
            raise config.ConfigError("kind", "expected 'paddy' or 'upland'")
        return settings
    except config.ConfigError as exc:
        sys.stderr.write("bad config: %s\n" % exc)
        return None
    finally:
        del sys.modules["config"]
        del config
        gc.collect()


def main(argv):
    """argv: [main.py, CONFIG] on the host; a board boots main.py without arguments and
    reads CONFIG_FILE, the file `ruong node flash` wrote to its flash.

    After a config downlink is kept (node.py), the host restarts softly, as the board's
    deep-sleep reset does: every module this run imported is forgotten, the config is
    loaded again (config.load_config puts the downlink in force or rejects it) on an empty
    heap, and the cycles go on where they were.
    """
    if len(argv) > 2:
        sys.stderr.write("usage: micropython main.py [CONFIG.json]\n")
        return EXIT_CONFIG
    path = argv[1] if len(argv) == 2 else CONFIG_FILE
    resident = list(sys.modules)  # app, main: what a restart keeps
    unacked = 0
    cycles_done = 0
    carried = {}  # type: dict | None
    while True:
        settings = load_settings(path)
        if settings is None:
            return EXIT_CONFIG
        settings.update(carried)
        missed, cycles_done, carried = run(settings, cycles_done)
        unacked += missed
        if carried is None:
            return EXIT_UNACKED if unacked else EXIT_OK
        settings = None
        for name in list(sys.modules):
            if name not in resident:
                del sys.modules[name]
        gc.collect()
