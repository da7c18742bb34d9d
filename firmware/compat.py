"""The few differences between MicroPython and CPython, guarded in one place.

The firmware runs on MicroPython (ESP32 board, unix port for `ruong sim`); its pure modules
also import on CPython so the test suite can check them against reference libraries.
"""

import errno
import os
import time

try:
    from micropython import const
except ImportError:  # CPython

    def const(value):  # type: ignore[misc]  # the stub's is generic; same behaviour
        """MicroPython's compile-time constant marker; identity on CPython."""
        return value


if hasattr(time, "ticks_ms"):
    ticks_ms = time.ticks_ms
    ticks_diff = time.ticks_diff
    ticks_add = time.ticks_add
else:  # CPython: monotonic milliseconds, no wrap-around

    def ticks_ms():
        """Milliseconds from an arbitrary origin (monotonic)."""
        return int(time.monotonic() * 1000)  # type: ignore[attr-defined]  # CPython only

    def ticks_diff(end, start):
        """end - start in ms (MicroPython wraps ticks; CPython does not)."""
        return end - start

    def ticks_add(ticks, delta_ms):
        return ticks + delta_ms


def sleep_ms(ms):
    """Sleep `ms` milliseconds."""
    if hasattr(time, "sleep_ms"):
        time.sleep_ms(int(ms))
    else:
        time.sleep(ms / 1000)


def random_bytes(n):
    """`n` bytes from the OS / hardware RNG (ESP32: RF noise once Wi-Fi is up)."""
    return os.urandom(n)


def random_uint(nbytes):
    """A uniformly random unsigned integer of `nbytes` bytes."""
    return int.from_bytes(random_bytes(nbytes), "big")


# A socket timeout: MicroPython's unix port raises OSError(EAGAIN) (or ETIMEDOUT on some
# ports); CPython raises TimeoutError (an OSError subclass, errno None).
_TIMEOUT_ERRNOS = (errno.EAGAIN, errno.ETIMEDOUT)
try:
    _TimeoutError = TimeoutError  # type: type[OSError] | None
except NameError:  # MicroPython has no TimeoutError
    _TimeoutError = None


def is_timeout(exc):
    """True when the OSError `exc` means "socket timed out", not a real network error."""
    if exc.args and exc.args[0] in _TIMEOUT_ERRNOS:
        return True
    return _TimeoutError is not None and isinstance(exc, _TimeoutError)


def os_errno(exc):
    """The errno of an OSError as an int (MicroPython keeps it in args[0])."""
    code = getattr(exc, "errno", None)
    if code is None and exc.args and isinstance(exc.args[0], int):
        code = exc.args[0]
    return code if code is not None else -1


def path_exists(path):
    """os.path.exists for MicroPython, which has no os.path."""
    try:
        os.stat(path)
    except OSError:
        return False
    return True


def join(directory, name):
    """os.path.join for the two-part case."""
    if directory.endswith("/"):
        return directory + name
    return directory + "/" + name


def write_atomic(path, text):
    """Write `text` to `path` through `path`.tmp and a rename, so a power cut leaves the old
    file or the new one, never half of one (rename is atomic on LittleFS and POSIX)."""
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.rename(path + ".tmp", path)


def write_json(path, value):
    """`write_atomic` of `value` as JSON."""
    import json

    write_atomic(path, json.dumps(value))
