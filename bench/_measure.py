"""Shared by the benchmarks: a process's own peak memory."""

from __future__ import annotations

import resource


def peak_mb() -> float:
    """This process's own peak resident memory (VmHWM: reset by exec, unlike
    ru_maxrss, which a child started from a large parent inherits)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
