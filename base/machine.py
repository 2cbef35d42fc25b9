"""What this machine has: memory, for the checks that refuse runs too large for it."""

from __future__ import annotations

import os

UNKNOWN = 1 << 62  # no limit when the machine does not say


def total_memory() -> int:
    """Physical memory in bytes (the default limit of `nnc check` and `nnc summary`)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return UNKNOWN


def available_memory() -> int:
    """Memory a new allocation can have now (MemAvailable), in bytes: the default limit of
    `nnc train` and `nnc build`; the total memory where the kernel does not say."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return total_memory()


def cores() -> int:
    """The cores this process may run on (its CPU affinity; else the logical CPUs)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def capped_threads(threads: int) -> tuple[int, str | None]:
    """``threads`` for BLAS or onnxruntime, at most the machine's cores (more only slow a
    run, and a thousand of them can exhaust memory and stall onnxruntime), and a note
    when it was capped."""
    most = cores()
    if threads <= most:
        return threads, None
    return most, f"note: {threads} threads is more than this machine's {most} cores: using {most}"


def format_bytes(n: int) -> str:
    """``1536`` -> ``1.5 KiB``."""
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if value < 1024 or unit == "PiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")
