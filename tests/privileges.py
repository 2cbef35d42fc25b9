"""Running `nnc` without root's power to read anything.

CI runs as root, and root reads a file of mode 000: a test of "permission denied" would
prove nothing there. ``unprivileged(*args)`` runs ``nnc ARGS...`` in a new interpreter
that, first thing (while it has one thread), drops the capabilities that let root ignore
file modes (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH). It is still uid 0, the owner of the
test's files, so it reads what an owner may read: only the mode bits decide. For any
other user, the command runs as it is.

Run as a script, this file is that interpreter: ``python privileges.py ARGS...``.
"""

from __future__ import annotations

import ctypes
import os
import subprocess
import sys
from dataclasses import dataclass

CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH = 1, 2
_VERSION_3 = 0x20080522  # _LINUX_CAPABILITY_VERSION_3: two 32-bit words per set


class _Header(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _Data(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                ("inheritable", ctypes.c_uint32)]


def drop_file_capabilities() -> None:
    """Remove CAP_DAC_OVERRIDE and CAP_DAC_READ_SEARCH from this process (capset(2))."""
    libc = ctypes.CDLL(None, use_errno=True)
    header, data = _Header(_VERSION_3, 0), (_Data * 2)()
    if libc.capget(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capget failed")
    mask = ~((1 << CAP_DAC_OVERRIDE) | (1 << CAP_DAC_READ_SEARCH)) & 0xFFFFFFFF
    for field in ("effective", "permitted", "inheritable"):
        setattr(data[0], field, getattr(data[0], field) & mask)
    if libc.capset(ctypes.byref(header), data) != 0:
        raise OSError(ctypes.get_errno(), "capset failed")


@dataclass
class Ran:
    """What a run printed and its exit code."""

    exit_code: int
    stdout: str
    stderr: str


def unprivileged(*args: object, cwd: str | os.PathLike[str] | None = None) -> Ran:
    """``nnc ARGS...`` in a new process that cannot bypass file permissions."""
    done = subprocess.run([sys.executable, __file__, *map(str, args)], cwd=cwd,
                          capture_output=True, text=True, timeout=300)
    return Ran(done.returncode, done.stdout, done.stderr)


if __name__ == "__main__":
    if os.geteuid() == 0:
        drop_file_capabilities()
    from nnc.cli import main

    main(sys.argv[1:], prog_name="nnc")
