"""The outbox: every sample is on flash before any send, and leaves only when acknowledged.

Files in the state directory:
  outbox.dat  append-only records: u16 body length, u32 CRC-32 of the body, body =
              u32 seq, u32 sample time (Unix s), u16 mask of quantities present, u16 mask of
              integer-valued ones, then one float64 per present quantity (vocabulary order).
  outbox.ack  "<done_seq> <dropped>": records with seq <= done_seq are gone (acknowledged or
              dropped when the outbox was full); written to a temp file and renamed.

A power cut can tear only the record being appended; `open` reads records until the first
short or CRC-failing one and rewrites the file without it (older records are never
touched). Acknowledging rewrites only the small .ack file; the acknowledged prefix of
outbox.dat is cut off (copy + rename) once it is large. Both renames are atomic on LittleFS
and POSIX, so every crash leaves either the old or the new state.
"""

import binascii
import os
import struct

from compat import const, join, path_exists, write_atomic

_HEAD = "<HI"
_HEAD_LEN = const(6)
_BODY = "<IIHH"
_BODY_LEN = const(12)


class Outbox:
    def __init__(self, state_dir, names, max_records=2880, max_bytes=300000):
        """names: the vocabulary in record order; max_records / max_bytes: when reached, the
        oldest sample is dropped (and counted in `dropped`)."""
        self.names = names
        self.path = join(state_dir, "outbox.dat")
        self.ack_path = join(state_dir, "outbox.ack")
        self.max_records = max_records
        self.max_bytes = max_bytes
        self.buf = bytearray(_BODY_LEN + 8 * len(names))
        self.done_seq = 0
        self.dropped = 0
        if path_exists(self.ack_path):
            with open(self.ack_path) as f:
                parts = f.read().split()
            self.done_seq, self.dropped = int(parts[0]), int(parts[1])
        self.torn = 0  # bytes cut off a torn tail at open
        self._scan()

    # -- reading records ---------------------------------------------------------------------
    def _next(self, f):
        """(seq, t, present, ints, body length) of the record at f's position; None at the
        end of the valid data (EOF, short read or CRC mismatch)."""
        head = f.read(_HEAD_LEN)
        if len(head) < _HEAD_LEN:
            return None
        length, crc = struct.unpack(_HEAD, head)
        if not _BODY_LEN <= length <= len(self.buf):
            return None
        view = memoryview(self.buf)[:length]
        if f.readinto(view) != length or binascii.crc32(view) & 0xFFFFFFFF != crc:
            return None
        seq, t_s, present, ints = struct.unpack_from(_BODY, self.buf)
        return seq, t_s, present, ints, length

    def _scan(self):
        """Find the first pending record, count pending ones, cut a torn tail."""
        self.first_off = 0  # byte offset of the oldest pending record
        self.pending = 0
        self.next_seq = self.done_seq + 1
        valid_end = 0
        size = 0
        if path_exists(self.path):
            size = os.stat(self.path)[6]
            with open(self.path, "rb") as f:
                while True:
                    rec = self._next(f)
                    if rec is None:
                        break
                    if rec[0] <= self.done_seq:
                        self.first_off = valid_end + _HEAD_LEN + rec[4]
                    else:
                        self.pending += 1
                        self.next_seq = rec[0] + 1
                    valid_end += _HEAD_LEN + rec[4]
        self.size = valid_end
        self.torn = size - valid_end
        if (
            self.torn
            or self.first_off > self.max_bytes // 4
            or (self.first_off and not self.pending)
        ):
            self._compact()

    def _compact(self):
        """Rewrite outbox.dat with the pending records only (copy, then atomic rename)."""
        tmp = self.path + ".tmp"
        chunk = bytearray(256)
        remaining = self.size - self.first_off
        with open(tmp, "wb") as out:
            if remaining:
                with open(self.path, "rb") as f:
                    f.seek(self.first_off)
                    while remaining:
                        n = f.readinto(chunk)
                        n = min(n, remaining)
                        out.write(memoryview(chunk)[:n])
                        remaining -= n
        os.rename(tmp, self.path)
        self.size -= self.first_off
        self.first_off = 0
        self.torn = 0

    def _save_ack(self):
        write_atomic(self.ack_path, "%d %d\n" % (self.done_seq, self.dropped))

    # -- the outbox interface --------------------------------------------------------------
    def append(self, t_s, values):
        """Store one sample ({name: number} at Unix second t_s) durably; return its seq."""
        present = 0
        ints = 0
        pos = _BODY_LEN
        for i, name in enumerate(self.names):
            if name in values:
                value = values[name]
                present |= 1 << i
                if isinstance(value, int):
                    ints |= 1 << i
                struct.pack_into("<d", self.buf, pos, value)
                pos += 8
        while self.pending and (
            self.pending >= self.max_records or self.size + _HEAD_LEN + pos > self.max_bytes
        ):
            self.drop_oldest()
            if self.size + _HEAD_LEN + pos > self.max_bytes:
                self._compact()
        seq = self.next_seq
        struct.pack_into(_BODY, self.buf, 0, seq, t_s, present, ints)
        body = memoryview(self.buf)[:pos]
        record = struct.pack(_HEAD, pos, binascii.crc32(body) & 0xFFFFFFFF) + body
        with open(self.path, "ab") as f:
            f.write(record)  # one write: a power cut can tear only this record
        self.next_seq += 1
        self.pending += 1
        self.size += len(record)
        return seq

    def peek(self, limit):
        """Up to `limit` oldest pending samples, oldest first: [(seq, t_s, {name: value})]."""
        out = []  # type: list
        if not self.pending:
            return out
        with open(self.path, "rb") as f:
            f.seek(self.first_off)
            while len(out) < limit:
                rec = self._next(f)
                if rec is None:
                    break
                seq, t_s, present, ints, _length = rec
                values = {}
                pos = _BODY_LEN
                for i, name in enumerate(self.names):
                    if present >> i & 1:
                        value = struct.unpack_from("<d", self.buf, pos)[0]
                        values[name] = int(value) if ints >> i & 1 else value
                        pos += 8
                out.append((seq, t_s, values))
        return out

    def _advance(self, upto_seq):
        """Move first_off past the records with seq <= upto_seq; how many were passed."""
        passed = 0
        with open(self.path, "rb") as f:
            f.seek(self.first_off)
            while True:
                rec = self._next(f)
                if rec is None or rec[0] > upto_seq:
                    break
                self.first_off += _HEAD_LEN + rec[4]
                passed += 1
        self.pending -= passed
        return passed

    def ack(self, upto_seq):
        """The gateway has everything up to `upto_seq`: forget it (durably)."""
        if upto_seq <= self.done_seq:
            return
        self._advance(upto_seq)
        self.done_seq = upto_seq
        self._save_ack()
        if not self.pending or self.first_off > self.max_bytes // 4:
            self._compact()

    def drop_oldest(self, n=1):
        """Give up on the `n` oldest samples (outbox full, or refused by the gateway)."""
        batch = self.peek(n)
        if batch:
            self._advance(batch[-1][0])
            self.done_seq = batch[-1][0]
            self.dropped += len(batch)
            self._save_ack()
