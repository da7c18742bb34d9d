"""One sampling cycle of a sensor node: read -> SenML -> counter -> COSE_Mac0 -> transport.

The message counter (COSE Partial IV, the gateway's replay protection) is persisted BEFORE
the uplink leaves, so a reset can lose a counter value but never reuse one.
"""

import os

import cose
import senml
from compat import join, path_exists

ACKED = ("2.04", "puback")  # results meaning "the gateway has it durably"


class StateError(Exception):
    """The node's persistent state (message counter) is unreadable; refuse to guess."""


class Counter:
    """The per-node message counter in `<state_dir>/counter` (decimal text)."""

    def __init__(self, state_dir):
        self.path = join(state_dir, "counter")
        self.tmp_path = self.path + ".tmp"
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
        with open(self.tmp_path, "w") as f:
            f.write("%d\n" % value)
        os.rename(self.tmp_path, self.path)
        return value


class Node:
    """A sensor node: its identity and key, a HAL, a transport and a counter store.

    transport: anything with `send(payload: bytes) -> str` (coap.CoapClient,
    mqtt.MQTTClient; an NB-IoT modem later).
    """

    def __init__(self, node_id, key, hal, transport, counter):
        self.node_id = node_id
        self.key = key
        self.hal = hal
        self.transport = transport
        self.counter = counter

    def cycle(self):
        """Sample, sign, send; return the report {node, ctr, t, values, result, bytes}."""
        t_s = self.hal.time_s()
        values = self.hal.read()
        pack = senml.encode(self.node_id, t_s, values)
        ctr = self.counter.next()  # persisted before anything is sent
        message = cose.mac0(self.key, self.node_id, ctr, pack)
        result = self.transport.send(message)
        return {
            "node": self.node_id,
            "ctr": ctr,
            "t": t_s,
            "values": values,
            "result": result,
            "bytes": len(message),
        }
