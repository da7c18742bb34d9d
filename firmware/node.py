"""One sampling cycle of a sensor node: drivers -> outbox (flash) -> SenML -> counter ->
COSE_Mac0 -> transport, oldest sample first.

The message counter (COSE Partial IV, the gateway's replay protection) is persisted BEFORE
the uplink leaves, so a reset can lose a counter value but never reuse one.
"""

import gc
import os
import sys

import cose
import senml
from compat import join, path_exists, write_atomic

ACKED = ("2.04", "puback")  # results meaning "the gateway has it durably"
# the gateway read the uplink and will never take it as it is (4.00 malformed / out of
# range, 4.13 too large); 4.01 is not here: a node provisioned late is refused until known
REFUSED = ("4.00", "4.02", "4.13")


class StateError(Exception):
    """The node's persistent state (message counter) is unreadable; refuse to guess."""


class Counter:
    """The per-node message counter in `<state_dir>/counter` (decimal text)."""

    def __init__(self, state_dir):
        self.path = join(state_dir, "counter")
        if not path_exists(state_dir):
            os.mkdir(state_dir)

    def read(self):
        """Last used counter value (0 when the node has never sent)."""
        if not path_exists(self.path):
            return 0
        with open(self.path) as f:
            text = f.read().strip()
        try:
            value = int(text)
        except ValueError:
            raise StateError("counter file %s holds %r, not an integer" % (self.path, text))
        if value < 0:
            raise StateError("counter file %s holds a negative value" % self.path)
        return value

    def next(self):
        """Increment, persist (write-then-rename, so a reset mid-write keeps the old value),
        and return the new counter value."""
        value = self.read() + 1
        write_atomic(self.path, "%d\n" % value)
        return value


class Node:
    """A sensor node: its identity and key, a HAL and its drivers, a transport, the counter
    and the outbox.

    transport: anything with `send(payload: bytes) -> str` (coap.CoapClient,
    mqtt.MQTTClient; an NB-IoT modem later); for config downlinks also `config_seen` (set
    before sending: the newest config version handled, CoAP's Uri-Query) and `downlink` (bytes
    or None: a signed config the gateway sent, taken and cleared after the flush).
    """

    def __init__(
        self,
        node_id,
        key,
        hal,
        transport,
        counter,
        outbox,
        sensors,
        cfg,
        max_uplink_bytes=1024,
        max_uplinks=16,
    ):
        self.node_id = node_id
        self.key = key
        self.hal = hal
        self.transport = transport
        self.counter = counter
        self.outbox = outbox
        self.sensors = sensors  # [(quantity names, driver)], see drivers.read_all
        self.cfg = cfg  # settings the drivers read (calibration, divider ratio, ...)
        self.max_uplink_bytes = max_uplink_bytes
        self.max_uplinks = max_uplinks  # per cycle: bounds the radio-on time after an outage
        self.duty_state = {}  # duty.next_interval_s memory (last battery V); RAM only
        self.restart = False  # a config downlink is kept: app.main restarts the node

    def cycle(self):
        """Network up (board: Wi-Fi + NTP, bounded), sample, store, then deliver the backlog
        oldest first, then keep a config downlink if the gateway sent one (in force from the
        next boot: `restart`); return the report {node, ctr, t, values, flags, result, bytes,
        sent, queued, dropped, next_s, why, config, unacked} (+ config_result when a downlink
        was kept or rejected, or the boot put one in force). Offline: the sample stays in the
        outbox, result "offline". `config`: the remote config version this cycle ran with."""
        online = self.hal.network_up()  # first: NTP may set the clock the sample is stamped by
        t_s = self.hal.time_s()
        if self.sensors is None:  # hal.FieldHAL: the simulated values, no drivers
            values, flags = self.hal.read(t_s)
        else:
            import drivers

            values, flags = drivers.read_all(self.hal, self.cfg, self.sensors, senml.QUANTITIES)
        gc.collect()  # drivers leave garbage (bus buffers, big-int maths): clear it first
        if values:
            # health rides with the sample, only when there is something to say
            faults = 0
            for flag in flags.values():
                if flag != "extrapolated":  # a quality note, the value was still read
                    faults += 1
            if faults:
                values["faults"] = faults
            if self.outbox.dropped:
                values["dropped"] = self.outbox.dropped
            self.outbox.append(t_s, values)  # on flash before anything is sent
        # every key at once: the dict is built at its final size, no regrowth (64 kB heap)
        report = {
            "node": self.node_id,
            "t": t_s,
            "values": values,
            "flags": flags,
            "ctr": None,
            "result": "offline",  # kept when the network did not come up this cycle
            "bytes": 0,
            "sent": 0,
            "unacked": 1 if not online and self.outbox.pending else 0,
            "queued": 0,
            "dropped": 0,
            "next_s": 0,
            "why": "",
            "config": self.cfg["config_version"],
        }
        if self.cfg["config_result"]:  # what the boot made of last cycle's downlink
            report["config_result"] = self.cfg["config_result"]
            self.cfg["config_result"] = None
        if online:
            self.transport.config_seen = self.cfg["config_seen"]  # CoAP: Uri-Query c=<seen>
            self.flush(report)
        downlink = self.transport.downlink
        if downlink is not None:
            self.transport.downlink = None
            result = self.take_config(downlink)
            downlink = None
            if result is not None:
                report["config_result"] = result
        # duty is loaded for this call only, so its code is not in RAM while the radio works
        import duty

        report["next_s"], report["why"] = duty.next_interval_s(self.cfg, values, self.duty_state)
        del sys.modules["duty"]
        report["queued"] = self.outbox.pending
        report["dropped"] = self.outbox.dropped
        return report

    def take_config(self, message):
        """Verify a config downlink and keep it for the next boot (remote.py, loaded for this
        call only); sets `restart` when one was kept. Returns "pending:<version>",
        "rejected:<reason>", or None when it is not newer than any handled (ignored: MQTT
        redelivers the retained config)."""
        gc.collect()
        import remote

        result = remote.take(self.cfg, message)
        del remote
        for name in ("remote", "cbor_decode"):
            if name in sys.modules:
                del sys.modules[name]
        gc.collect()
        self.restart = result is not None and result.startswith("pending")
        return result

    def flush(self, done):
        """Send pending samples, oldest first, several per pack, until the outbox is empty,
        an uplink fails, or `max_uplinks` went out. Fills in the report `done` about it:
        ctr, result, bytes, sent, unacked."""
        done["result"] = "idle"
        limit = 6  # samples per pack (1 kB holds ~4); one at a time after a refusal; a refused pack is retried one sample at a time
        for _ in range(self.max_uplinks):
            gc.collect()
            batch = self.outbox.peek(limit)
            if not batch:
                break
            try:
                pack, used = senml.encode_many(self.node_id, batch, self.max_uplink_bytes)
            except senml.SenMLError:
                self.outbox.drop_oldest(1)  # a stored sample the vocabulary no longer takes
                continue
            last_seq = batch[used - 1][0]
            batch = None  # free it before the transport needs the heap
            gc.collect()
            ctr = self.counter.next()  # persisted before anything is sent
            message = cose.mac0(self.key, self.node_id, ctr, pack)
            pack = None
            gc.collect()
            self.hal.watchdog_feed()  # each uplink gets the watchdog's whole timeout
            result = self.transport.send(message)
            done["ctr"] = ctr
            done["result"] = result
            done["bytes"] = len(message)
            if result in ACKED:
                self.outbox.ack(last_seq)
                done["sent"] += used
                continue
            done["unacked"] += 1
            if result in REFUSED:
                if used > 1:
                    limit = 1  # find the sample the gateway refuses
                    continue
                self.outbox.drop_oldest(1)  # it would be refused forever
                continue
            break  # timeout, network error, 4.01 (key not yet known?), 5.03: try next cycle
