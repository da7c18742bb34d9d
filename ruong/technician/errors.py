"""The two ways a technician command fails, each with the exit code `ruong node ...` returns.

Every module of the package raises these and nothing else escapes to the command line
(ruong/technician/commands.py prints the message, without a traceback).
"""

from __future__ import annotations


class TechnicianError(RuntimeError):
    """The board or the flash failed (no REPL, an error on the device, a hash mismatch)."""

    exit_code = 1


class UsageError(TechnicianError):
    """Something the technician can fix: the port, the node, the gateway address, a retry."""

    exit_code = 2
