"""MQTT receive benchmark: the gateway's subscriber against paho-mqtt (aiomqtt) on one stream.

    .venv/bin/python -m bench.mqtt_rx [--messages 20000] [--rounds 2]

Starts mosquitto in a temp dir; each round runs two subscriber processes in turn, each with
a persistent MQTT 5 session (Receive Maximum 2000) on `ruong/+/up`, QoS 1, PUBACK only after
a batch is handed on, while bench/mqtt_load.py publishes the same `--messages` uplink-sized
messages from 4 connections:
- `ruong`: gateway/mqtt_client.py's `run_mqtt`, the gateway's own code, with an ingest that
  only counts what it is given (no verification, no spool);
- `paho`: aiomqtt 2.x over paho-mqtt 2.x, as the gateway used it before (manual ack, messages
  from paho's callback into a list, acknowledged after each batch), stock paho.
Prints each subscriber's CPU time per message (its process, from the first message to the
last) and its rate, and the ratio paho / ruong. Not a test: figures depend on the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from backend.config import Endpoint
from bench.mqtt_load import publish_all
from ruong.services import start_mosquitto

PUBLISHERS = 4
WINDOW = 50
PAYLOAD_BYTES = 200  # a six-quantity uplink in COSE_Mac0 is 201 B (firmware/README.md)


class _CountingIngest:
    """Takes every message as stored, counts them, and records when the first and last came."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.seen = 0
        self.first_cpu_s = 0.0
        self.first_wall_s = 0.0
        self.done = asyncio.Event()

    async def accept_batch(self, items: list) -> list[str]:
        if not self.seen:
            self.first_cpu_s, self.first_wall_s = time.process_time(), time.perf_counter()
        self.seen += len(items)
        if self.seen >= self.count:
            self.done.set()
        return ["stored"] * len(items)


async def _ruong(port: int, count: int) -> tuple[float, float, float, float]:
    from gateway.mqtt_client import run_mqtt

    ingest = _CountingIngest(count)
    broker = Endpoint(f"mqtt://127.0.0.1:{port}", "mqtt", "127.0.0.1", port)
    task = asyncio.create_task(run_mqtt(ingest, broker, client_id="bench-rx-ruong"))  # type: ignore[arg-type]
    await asyncio.sleep(0.5)  # subscribed (a local broker answers in milliseconds)
    print("ready", flush=True)
    await ingest.done.wait()
    cpu, wall = time.process_time(), time.perf_counter()
    task.cancel()
    return ingest.first_cpu_s, cpu, ingest.first_wall_s, wall


async def _paho(port: int, count: int) -> tuple[float, float, float, float]:
    import aiomqtt
    from paho.mqtt.packettypes import PacketTypes
    from paho.mqtt.properties import Properties

    properties = Properties(PacketTypes.CONNECT)
    properties.SessionExpiryInterval = 0xFFFFFFFF
    properties.ReceiveMaximum = 2000
    client = aiomqtt.Client(
        "127.0.0.1",
        port,
        identifier="bench-rx-paho",
        protocol=aiomqtt.ProtocolVersion.V5,
        clean_start=False,
        properties=properties,
    )
    paho = client._client  # aiomqtt 2.x has no public manual-ack call
    paho.manual_ack_set(True)
    inbox: list = []
    arrived = asyncio.Event()

    def on_message(_client: object, _userdata: object, message: object) -> None:
        inbox.append(message)
        arrived.set()

    paho.on_message = on_message
    seen, first_cpu, first_wall = 0, 0.0, 0.0
    async with client:
        await client.subscribe("ruong/+/up", qos=1)
        print("ready", flush=True)
        while seen < count:
            await arrived.wait()
            arrived.clear()
            if not seen:
                first_cpu, first_wall = time.process_time(), time.perf_counter()
            batch, inbox[:] = inbox[:], []
            for message in batch:
                message.topic.split("/")  # what the gateway reads of each: topic and payload
                paho.ack(message.mid, message.qos)
            seen += len(batch)
        return first_cpu, time.process_time(), first_wall, time.perf_counter()


def _subscriber(kind: str, port: int, count: int) -> None:
    run = _ruong if kind == "ruong" else _paho
    first_cpu, cpu, first_wall, wall = asyncio.run(run(port, count))
    result = {"cpu_us": (cpu - first_cpu) / count * 1e6, "rate": count / (wall - first_wall)}
    print(json.dumps(result), flush=True)


def _round(port: int, kind: str, messages: list[tuple[str, bytes]]) -> dict[str, float]:
    cmd = [sys.executable, "-m", "bench.mqtt_rx", "--subscriber", kind, "--port", str(port)]
    proc = subprocess.Popen(
        [*cmd, "--messages", str(len(messages))], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    if proc.stdout.readline().strip() != "ready":
        raise RuntimeError(f"{kind} subscriber did not start")
    publish_all(port, messages, PUBLISHERS, None, WINDOW, lambda: proc.poll() is None)
    out, _ = proc.communicate(timeout=120)
    return json.loads(out.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench.mqtt_rx")
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--subscriber", choices=("ruong", "paho"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.subscriber:
        _subscriber(args.subscriber, args.port, args.messages)
        return 0
    payload = os.urandom(PAYLOAD_BYTES)
    messages = [(f"ruong/n{i % 50:08x}/up", payload) for i in range(args.messages)]
    print(f"{args.messages} QoS 1 messages of {PAYLOAD_BYTES} B, {PUBLISHERS} publishers")
    print(f"{'round':<6} {'subscriber':<12} {'CPU us/msg':>10} {'msgs/s':>9}")
    cpu: dict[str, list[float]] = {"ruong": [], "paho": []}
    with tempfile.TemporaryDirectory(prefix="ruong-mqtt-rx-") as tmp:
        broker = start_mosquitto(Path(tmp) / "mosquitto")
        try:
            for k in range(args.rounds):
                for kind in ("paho", "ruong"):
                    result = _round(broker.port, kind, messages)
                    cpu[kind].append(result["cpu_us"])
                    print(f"{k + 1:<6} {kind:<12} {result['cpu_us']:>10.1f} {result['rate']:>9.0f}")
        finally:
            broker.stop()
    best = {kind: min(values) for kind, values in cpu.items()}
    print(
        f"best of {args.rounds}: paho {best['paho']:.1f} us/msg, ruong {best['ruong']:.1f} "
        f"us/msg: paho costs {best['paho'] / best['ruong']:.1f}x the CPU per message"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
