"""Run the tool from a small launcher process and read its wall time and memory (used by open.py and memory.py).

A child's peak resident set counts the memory of the process it was forked from, so the tool is
started from this small process, not from a benchmark holding millions of frames. ``ru_maxrss`` of
the launcher's children is the tool's peak resident set (ffmpeg is the tool's child, not the
launcher's); it includes the pages of memory-mapped files, which are the page cache's (shared,
dropped under memory pressure). RssAnon, sampled every 10 ms from /proc, is the process's own memory.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

LAUNCHER = """
import resource, subprocess, sys, tempfile, time
t0 = time.perf_counter()
errors = tempfile.TemporaryFile()
child = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL, stderr=errors)
anon = hwm = 0
while child.poll() is None:
    try:
        with open(f"/proc/{child.pid}/status") as status:
            lines = status.read().splitlines()
        anon = max([anon] + [int(line.split()[1]) for line in lines if line.startswith("RssAnon:")])
        hwm = max([hwm] + [int(line.split()[1]) for line in lines if line.startswith("VmHWM:")])
    except OSError:
        pass
    time.sleep(0.01)
errors.seek(0)
err = errors.read().decode("utf-8", "replace").strip().splitlines()
print(time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, anon, child.returncode, hwm)
print(err[-1] if err else "")
"""
"""Runs a command and prints its wall seconds, peak resident KB, largest sampled anonymous KB, exit code
and last line of stderr."""


@dataclass(frozen=True)
class Launched:
    """What the launcher measured of one run."""

    seconds: float
    peak_mb: float  # ru_maxrss of the children: the largest peak resident set of the tool or of its ffmpeg
    own_mb: float  # the largest RssAnon sampled: what the process itself needs
    tool_peak_mb: float = 0.0  # the tool process's own peak resident set (VmHWM, last sampled), ffmpeg's not included


def launch(argv: list[str]) -> Launched:
    """One run of ``argv`` (which must succeed; exit 1, check's "matches found", counts as success) from the
    launcher, this checkout first on the import path."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    proc = subprocess.run([sys.executable, "-c", LAUNCHER, *argv], capture_output=True, text=True, env=env,
                          stdin=subprocess.DEVNULL)
    lines = proc.stdout.splitlines()
    if not lines:
        raise SystemExit(f"the launcher failed: {' '.join(argv)}: {proc.stderr[-300:]}")
    seconds, peak_kb, anon_kb, code, hwm_kb = lines[0].split()
    if int(code) not in (0, 1):
        raise SystemExit(f"failed ({code}): {' '.join(argv)}: {lines[1] if len(lines) > 1 else ''}")
    return Launched(float(seconds), int(peak_kb) / 1024, int(anon_kb) / 1024, int(hwm_kb) / 1024)
