"""A "board" for the technician tools without hardware: the real MicroPython unix port on a
pseudo-terminal, its working directory standing in for the board's flash filesystem.

Two pseudo-terminals joined by a relay thread play the USB-serial bridge of an ESP32 DevKitC:
MicroPython runs on the first (its controlling terminal, so Ctrl-C interrupts a running program
as the board's UART does), mpremote opens the second (`board.port`, a /dev/pts path), and the
second stays open across a reset, as the CP2102 on a DevKitC does while the ESP32 reboots.

A reset (`machine.reset()`, which the unix port lacks: `BOOT` puts a stand-in into sys.modules)
ends the MicroPython process with RESET_EXIT; the relay starts a fresh one, which runs the
device's main.py the way the board's boot does, then drops to the REPL (`-i`) when main.py ends
or is interrupted. The sensors are the firmware's host HAL (simulated field) read through the
real drivers, as configured by the config file `ruong node flash` writes.

What differs from an ESP32 on USB:
- the port is a pty: no baud rate, no DTR/RTS (mpremote's DTR/RTS handling and the DevKitC's
  auto-reset circuit are not exercised), no USB re-enumeration (native-USB boards such as the
  ESP32-C3 drop their port while they reset); bytes arrive instantly, so slow-link timeouts
  are not tested;
- a reset restarts a process (`machine.reset` is a stand-in), there is no deep sleep: the node
  sleeps in `time.sleep` and Ctrl-C always reaches it, whereas a sleeping board does not answer;
- the filesystem is the host's (no LittleFS/FAT size limit, no wear, rename semantics of Linux);
- the heap is a 64-bit port's (objects twice an ESP32's), sys.platform is "linux", so the host
  HAL and the simulator modules are flashed and hal_esp32 / board_pins are not;
- the node runs the CoAP/MQTT stacks over loopback; there is no Wi-Fi bring-up to wait for.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import select
import signal
import subprocess
import termios
import threading
import time
import tty
from pathlib import Path

_LIBC = ctypes.CDLL(None, use_errno=True)  # loaded here: the child only calls into it
_LIBC.signal.argtypes = (ctypes.c_int, ctypes.c_void_p)
_LIBC.signal.restype = ctypes.c_void_p
RESET_EXIT = 97
RESET_LINE = "rst:0xc (SW_CPU_RESET)"  # what the ESP32's ROM prints after machine.reset()
HEAP = "128k"  # the 64-bit port's objects are twice an ESP32's: ~64 kB on the board

# The board's boot: machine.reset for the unix port, then main.py from the device filesystem
# (the working directory) with no arguments, as the ESP32 runs it; `-i` gives the REPL after.
BOOT = """\
import sys
sys.path[0] = ''
class _Machine:
    def reset(self):
        print('RESET_LINE')
        raise SystemExit(RESET_EXIT)
sys.modules['machine'] = _Machine()
del _Machine
sys.argv[:] = ['main.py']
try:
    _f = open('main.py')
except OSError:
    _f = None
if _f is not None:
    _src = _f.read()
    _f.close()
    del _f
    try:
        exec(_src, {'__name__': '__main__'})
    except KeyboardInterrupt:
        print('KeyboardInterrupt')
    except SystemExit as _e:
        if _e.args and _e.args[0] == RESET_EXIT:
            raise
    except Exception as _e:
        sys.print_exception(_e)
    _src = None
""".replace("RESET_EXIT", str(RESET_EXIT)).replace("RESET_LINE", RESET_LINE)


def _raw_with_signals(fd: int) -> None:
    """Raw mode (no echo, no line buffering, 8 bits through) but Ctrl-C still raises SIGINT,
    like a board's UART REPL interrupting a running program."""
    tty.setraw(fd)
    attrs = termios.tcgetattr(fd)
    attrs[3] |= termios.ISIG
    termios.tcsetattr(fd, termios.TCSANOW, attrs)


class PtyBoard:
    """MicroPython unix port on a pty, with `fs` as its filesystem; `port` is for mpremote."""

    def __init__(self, micropython: str, fs: Path, heap: str = HEAP) -> None:
        self.micropython = micropython
        self.fs = fs
        self.heap = heap
        fs.mkdir(parents=True, exist_ok=True)
        self.boot_path = fs.parent / f"{fs.name}-boot.py"  # the board's ROM: not on its flash
        self.boot_path.write_text(BOOT)
        self.dev_master, self.dev_slave = os.openpty()
        self.host_master, self.host_slave = os.openpty()
        tty.setraw(self.host_slave)
        self.port = os.ttyname(self.host_slave)
        self.output = bytearray()  # everything the board printed (boot reports, REPL)
        self.resets = 0
        self.exit_status: int | None = None  # why MicroPython ended, other than a reset
        self.proc: subprocess.Popen[bytes] | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._boot()
        self._relay = threading.Thread(target=self._run, name="pty-board", daemon=True)
        self._relay.start()

    def _boot(self) -> None:
        slave = self.dev_slave
        # a reset leaves the terminal as the REPL had set it (no ISIG): a board boots with its
        # UART in the default state, where Ctrl-C interrupts
        _raw_with_signals(slave)

        def in_child() -> None:  # after fork, before exec; signal.signal would refuse here
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)  # the pty is its terminal: Ctrl-C -> SIGINT
            # A Ctrl-C while the port boots is lost, as on the board, instead of killing the
            # process: an ignored SIGINT stays ignored across exec, CPython (the PyPI port's
            # launcher) leaves it so, and MicroPython installs its own handler to run code.
            _LIBC.signal(signal.SIGINT, signal.SIG_IGN)

        self.proc = subprocess.Popen(
            [self.micropython, "-X", f"heapsize={self.heap}", "-i", str(self.boot_path)],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            cwd=self.fs,
            start_new_session=True,
            preexec_fn=in_child,  # noqa: PLW1509 - an ioctl and a sigaction, no locks
        )

    def _run(self) -> None:
        """Copy bytes both ways; restart MicroPython when it resets, note when it dies.

        From the reset line until the new process runs, what the host sends is dropped, as a
        chip in reset hears nothing (a Ctrl-C then would otherwise kill the exiting process).
        """
        resetting = False
        scanned = 0
        marker = RESET_LINE.encode()
        while not self._stop.is_set():
            ready, _, _ = select.select([self.dev_master, self.host_master], [], [], 0.05)
            if self.dev_master in ready:
                data = os.read(self.dev_master, 4096)
                with self._lock:
                    self.output += data
                    if marker in self.output[max(0, scanned - len(marker)) :]:
                        resetting = True
                    scanned = len(self.output)
                os.write(self.host_master, data)
            if self.host_master in ready:
                data = os.read(self.host_master, 4096)
                if not resetting:
                    os.write(self.dev_master, data)
            proc = self.proc
            if proc is not None and proc.poll() is not None and not self._stop.is_set():
                # what it printed last (its reset line) may still be in the pty: take it now,
                # so that the line is not found again once the new process runs
                while select.select([self.dev_master], [], [], 0)[0]:
                    data = os.read(self.dev_master, 4096)
                    with self._lock:
                        self.output += data
                    os.write(self.host_master, data)
                with self._lock:
                    resetting = resetting or marker in self.output[max(0, scanned - len(marker)) :]
                    scanned = len(self.output)
                if proc.returncode == RESET_EXIT or resetting:
                    self.resets += 1
                    resetting = False
                    self._boot()  # an exception here ends the relay: `alive` turns False
                else:
                    self.exit_status = proc.returncode
                    self.proc = None  # powered off: the test sees `alive` False

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def text(self) -> str:
        """What the board printed so far (boot output, reports, REPL traffic)."""
        with self._lock:
            return self.output.decode(errors="replace")

    def wait_for_output(self, needle: str, timeout_s: float) -> None:
        """Wait until the board has printed `needle`; AssertionError with the output if not."""
        deadline = time.monotonic() + timeout_s
        while needle not in self.text():
            assert time.monotonic() < deadline, f"board never printed {needle!r}:\n{self.text()}"
            time.sleep(0.05)

    def close(self) -> None:
        self._stop.set()
        self._relay.join(2)
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        for fd in (self.dev_master, self.dev_slave, self.host_master, self.host_slave):
            os.close(fd)
