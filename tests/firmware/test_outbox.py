"""The outbox: samples reach flash before any send, leave only when acknowledged, survive
a killed process and a torn write, stay bounded with a dropped counter; and a node offline
for three simulated days delivers everything, oldest first, with the original times."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest
from firmware_helpers import FIRMWARE_DIR, reports, write_config

from backend.store import open_store
from ruong.services import free_port

NAMES = [
    "soil_vwc",
    "soil_temp",
    "air_temp",
    "air_rh",
    "air_pressure",
    "rain",
    "leaf_wet",
    "water_level",
    "battery",
    "rssi",
]


def sample(seq: int) -> tuple[int, dict]:
    """The sample the writer stores as its `seq`-th (deterministic, to check contents)."""
    return 1_800_000_000 + 60 * seq, {
        "soil_vwc": (seq % 1000) / 10,
        "rssi": -(seq % 100),
        "battery": 3.0 + (seq % 100) / 100,
    }


def test_append_peek_ack_survive_reopening(fw, tmp_path: Path) -> None:
    outbox = fw("outbox")
    box = outbox.Outbox(str(tmp_path), NAMES)
    seqs = [box.append(*sample(i)) for i in range(1, 6)]
    assert seqs == [1, 2, 3, 4, 5]
    assert [(s, t, v) for s, t, v in box.peek(2)] == [(1, *sample(1)), (2, *sample(2))]
    box.ack(2)
    again = outbox.Outbox(str(tmp_path), NAMES)
    assert again.pending == 3 and [s for s, _, _ in again.peek(10)] == [3, 4, 5]
    assert isinstance(again.peek(1)[0][2]["rssi"], int)  # integers stay integers
    again.ack(5)
    assert outbox.Outbox(str(tmp_path), NAMES).pending == 0
    assert (tmp_path / "outbox.dat").stat().st_size == 0  # compacted once all acknowledged
    assert outbox.Outbox(str(tmp_path), NAMES).append(*sample(9)) == 6  # seq never reused


@pytest.mark.parametrize("cut", [1, 5, 6, 17, 30])
def test_a_torn_last_record_is_dropped_older_ones_kept(fw, tmp_path: Path, cut: int) -> None:
    outbox = fw("outbox")
    box = outbox.Outbox(str(tmp_path), NAMES)
    for i in range(1, 4):
        box.append(*sample(i))
    data = (tmp_path / "outbox.dat").read_bytes()
    last = len(data) // 3
    (tmp_path / "outbox.dat").write_bytes(data[: 2 * last + cut])  # power cut mid-write
    box = outbox.Outbox(str(tmp_path), NAMES)
    assert box.torn == 0 and box.pending == 2  # cut off at open, then compacted
    assert [(s, t, v) for s, t, v in box.peek(9)] == [(1, *sample(1)), (2, *sample(2))]
    assert box.append(*sample(3)) == 3


def test_a_corrupted_tail_byte_fails_the_crc(fw, tmp_path: Path) -> None:
    outbox = fw("outbox")
    box = outbox.Outbox(str(tmp_path), NAMES)
    for i in range(1, 4):
        box.append(*sample(i))
    data = bytearray((tmp_path / "outbox.dat").read_bytes())
    data[-3] ^= 0x40
    (tmp_path / "outbox.dat").write_bytes(bytes(data))
    assert [s for s, _, _ in outbox.Outbox(str(tmp_path), NAMES).peek(9)] == [1, 2]


def test_bounded_oldest_dropped_and_counted(fw, tmp_path: Path) -> None:
    outbox = fw("outbox")
    box = outbox.Outbox(str(tmp_path), NAMES, max_records=5, max_bytes=4000)
    for i in range(1, 13):
        box.append(*sample(i))
    assert box.pending == 5 and box.dropped == 7
    assert [s for s, _, _ in box.peek(9)] == [8, 9, 10, 11, 12]
    reopened = outbox.Outbox(str(tmp_path), NAMES, max_records=5, max_bytes=4000)
    assert reopened.dropped == 7 and reopened.pending == 5
    (tmp_path / "b").mkdir()
    small = outbox.Outbox(str(tmp_path / "b"), NAMES, max_bytes=1024)
    for i in range(1, 100):
        small.append(*sample(i))
    assert (tmp_path / "b" / "outbox.dat").stat().st_size <= 1024 and small.dropped > 0


WRITER = f"""
import sys, time, outbox
box = outbox.Outbox(sys.argv[1], {NAMES!r}, max_records=100000, max_bytes=10000000)
seq = box.next_seq
while True:
    t = 1800000000 + 60 * seq
    v = {{"soil_vwc": (seq % 1000) / 10, "rssi": -(seq % 100), "battery": 3.0 + (seq % 100) / 100}}
    assert box.append(t, v) == seq
    print("S", seq)
    if seq % 3 == 0:
        box.ack(seq - 2)
        print("A", seq - 2)
    seq += 1
    time.sleep_ms(1)
"""

READER = f"""
import sys, json, outbox
box = outbox.Outbox(sys.argv[1], {NAMES!r}, max_records=100000, max_bytes=10000000)
print(json.dumps([box.done_seq, box.dropped, box.torn, box.peek(100000)]))
"""


@pytest.mark.micropython
def test_killed_at_random_points_never_loses_a_stored_sample(mp, micropython, tmp_path: Path):
    rng = random.Random(20250301)
    state = tmp_path / "state"
    state.mkdir()
    script, reader = tmp_path / "writer.py", tmp_path / "reader.py"
    prologue = f"import sys\nsys.path.insert(0, {str(FIRMWARE_DIR)!r})\n"
    script.write_text(prologue + WRITER)
    reader.write_text(prologue + READER)
    stored: set[int] = set()
    acked_upto = 0
    torn_tails = 0
    for _ in range(32):
        proc = subprocess.Popen(
            [micropython, "-X", "heapsize=64k", str(script), str(state)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        time.sleep(rng.uniform(0.02, 0.25))
        proc.send_signal(signal.SIGKILL)
        out, err = proc.communicate()
        assert proc.returncode == -signal.SIGKILL, err
        lines = out.splitlines()
        if lines and not out.endswith("\n"):
            lines = lines[:-1]  # the line being printed when the process died
        for line in lines:
            kind, seq = line.split()
            if kind == "S":
                stored.add(int(seq))
            else:
                acked_upto = max(acked_upto, int(seq))
        if rng.random() < 0.3:  # and sometimes the power dies mid-write: a torn tail
            torn_tails += 1
            with open(state / "outbox.dat", "ab") as f:
                f.write(os.urandom(rng.randint(1, 40)))
        got = subprocess.run(
            [micropython, "-X", "heapsize=64k", str(reader), str(state)],
            capture_output=True,
            text=True,
            check=True,
        )
        done, dropped, _torn, pending = json.loads(got.stdout)
        assert dropped == 0 and done >= acked_upto
        pending_seqs = [p[0] for p in pending]
        assert pending_seqs == list(range(done + 1, done + 1 + len(pending)))  # contiguous
        for seq, t, values in pending:
            assert [t, values] == list(sample(seq)), f"record {seq} corrupted"
        lost = {s for s in stored if s > done} - set(pending_seqs)
        assert not lost, f"stored samples lost after a kill: {sorted(lost)[:10]}"
    assert len(stored) > 100 and acked_upto > 30  # the loop did real work
    print(
        f"32 SIGKILLs, {torn_tails} torn tails appended: {len(stored)} samples stored, "
        f"acknowledged up to {acked_upto}, none lost or corrupted"
    )


# --- a node offline for three simulated days, then online against the real gateway -------

DAY = 86400


@pytest.mark.services
@pytest.mark.micropython
def test_a_node_offline_for_three_days_delivers_everything(mp, gateway, tmp_path: Path):
    registry = gateway.registry()
    info = registry.provision("test-farm", "ruong-1", "coap")
    registry.close()
    now = int(time.time())
    start = now - 3 * DAY - 900
    common = {
        "node": info.node,
        "key": info.key.hex(),
        "field": "ruong-1",
        "seed": 5,
        "state_dir": str(tmp_path / "state"),
    }
    offline = write_config(
        tmp_path,
        **common,
        cycles=288,
        interval_s=0,
        sim_start=start,
        sim_step_s=900,
        ack_timeout_s=0.01,
        max_retransmit=0,
        gateway=f"coap://127.0.0.1:{free_port(socket.SOCK_DGRAM)}",
    )
    proc = mp.main(offline, timeout=170)
    assert proc.returncode == 3, proc.stderr
    lines = reports(proc.stdout)
    assert len(lines) == 288 and lines[-1]["queued"] == 288 and lines[-1]["dropped"] == 0
    sampled = [r["t"] for r in lines]
    assert sampled == [start + 900 * i for i in range(288)]

    online = write_config(
        tmp_path,
        **common,
        cycles=4,
        interval_s=1.1,
        max_uplinks_per_cycle=60,
        gateway=f"coap://127.0.0.1:{gateway.coap_port}",
    )
    proc = mp.main(online, timeout=120)
    assert proc.returncode == 0, proc.stderr + proc.stdout[-2000:]
    after = reports(proc.stdout)
    assert sum(r["sent"] for r in after) == 288 + 4 and after[-1]["queued"] == 0

    store = open_store(gateway.settings.store)
    try:
        deadline = time.monotonic() + 15
        while len(rows := store.rows("readings", {"node": info.node}, since_ms=0)) < 292:
            assert time.monotonic() < deadline, f"{len(rows)} of 292 samples stored"
            time.sleep(0.3)
        times = sorted(r.time_ms // 1000 for r in rows)
        assert times == sorted(sampled + [r["t"] for r in after])  # original sample times
        print(
            f"offline {len(sampled)} cycles ({(sampled[-1] - sampled[0]) / DAY:.2f} days), "
            f"then {len(after)} online: {len(rows)} samples stored at their sample times"
        )
        status = store.rows("node_status", {"node": info.node}, since_ms=0)
        by_time = sorted((s.time_ms, s.fields["counter"]) for s in status)
        counters = [c for _, c in by_time]
        assert counters == sorted(counters)  # oldest sample went first
    finally:
        store.close()
