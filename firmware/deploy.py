"""Host-side deployment: run the firmware from mpy-cross output, as a board runs it.

`ruong node flash` compiles the firmware with mpy-cross for the board; on the host,
main.py calls `use_compiled` before loading anything, which compiles the modules into
<state_dir>/mpy (skipping up-to-date ones) and puts that directory first on sys.path. A
board-sized heap (-X heapsize=64k) must then hold the bytecode only, not the compiler's
parse trees. main.py drops this module once it has run.
"""

import json
import sys


def use_compiled(argv):
    """Compile and switch to .mpy for the config named in argv; on any problem say so on
    stderr and carry on from source."""
    state_dir = _peek_state_dir(argv[1])
    if state_dir and not _compile(state_dir):
        sys.stderr.write("mpy-cross not found or failed: running the firmware from source\n")


def _peek_state_dir(path):
    """The config's state_dir, or None (config.load_config reports what is wrong)."""
    try:
        with open(path) as f:
            state_dir = json.load(f).get("state_dir")
    except (OSError, ValueError, AttributeError):
        return None
    return state_dir if isinstance(state_dir, str) and state_dir else None


def _compile(state_dir):
    """Host only: compile the firmware with mpy-cross into <state_dir>/mpy (skipping
    up-to-date files) and import from there, as the board imports what `ruong node flash`
    deployed. A board-sized heap must hold the bytecode, not the compiler's parse trees.
    Returns False (import from source) when mpy-cross is not beside the micropython binary.
    """
    import os

    here = sys.argv[0].rsplit("/", 1)[0] if "/" in sys.argv[0] else "."
    # the unix port has sys.executable; the ESP32 stubs (a board has none) do not
    cross = sys.executable.rsplit("/", 1)[0] + "/mpy-cross"  # type: ignore[attr-defined]
    cache = state_dir + "/mpy"
    try:
        os.stat(cross)
    except OSError:
        return False
    for path in (state_dir, cache):
        try:
            os.mkdir(path)
        except OSError:
            pass  # exists
    if not compile_into(here, cache, cross):
        return False
    sys.path.insert(0, cache)
    return True


def compile_into(src_dir, out_dir, cross):
    """mpy-cross -O3 every src_dir/*.py into out_dir/<module>.mpy (an existing directory),
    skipping modules whose .mpy is newer than their source; True when all compiled.

    Shared by the host run above (MicroPython) and `ruong node flash` (CPython, which then
    copies the .mpy files to the board), so both run the same bytecode.
    """
    import os

    script = (
        'for f in "%s"/*.py; do m="%s/$(basename "$f" .py).mpy"; '
        '[ "$m" -nt "$f" ] || { "%s" -O3 -o "$m.tmp" "$f" && mv "$m.tmp" "$m"; } || exit 1; done'
    )
    return os.system(script % (src_dir, out_dir, cross)) == 0
