"""Embedded MQTT broker (amqtt) for `ruong demo` on a machine without Mosquitto.

Production and the tests use Mosquitto 2; this exists so the demo runs with nothing installed.
It is anonymous: any client on the loopback interface may read and write every topic (the
nodes' credentials are ignored), unlike the Mosquitto set-up of docs/mqtt-broker.md.
amqtt is the maintained pure-Python MQTT 3.1.1 broker on PyPI (HBMQTT's successor).
Run as `python -m ruong.broker PORT`.
"""

from __future__ import annotations

import asyncio
import logging
import sys

from amqtt.broker import Broker


def broker_config(port: int) -> dict[str, object]:
    """A loopback-only, anonymous broker on `port` (demo use only)."""
    return {
        "listeners": {"default": {"type": "tcp", "bind": f"127.0.0.1:{port}"}},
        "plugins": {
            "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True},
        },
    }


async def run_broker(port: int, stop: asyncio.Event) -> None:
    broker = Broker(broker_config(port))
    await broker.start()
    logging.getLogger("ruong.broker").info("embedded MQTT broker on 127.0.0.1:%d", port)
    try:
        await stop.wait()
    finally:
        await broker.shutdown()


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not args[0].isdigit():
        raise SystemExit("usage: python -m ruong.broker PORT")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    for noisy in ("amqtt", "transitions"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    stop = asyncio.Event()

    async def _run() -> None:
        import signal

        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await run_broker(int(args[0]), stop)

    asyncio.run(_run())


if __name__ == "__main__":
    main()
