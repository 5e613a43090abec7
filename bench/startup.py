#!/usr/bin/env python3
"""Start-up time of the command line: ``provenance --help`` and ``provenance check --help`` against ``python -c pass``.

    python bench/startup.py                       # this checkout, median of 10 runs each
    python bench/startup.py --runs 20 --tree /tmp/before --tree .   # two checkouts, interleaved

Each command runs as a fresh process (``python -m provenance ...`` from the checkout's folder, so
that checkout is first on the import path) with ``.pyc`` files cached, as on a user's machine:
``PYTHONDONTWRITEBYTECODE`` is removed from the environment and every command runs once before it is
timed. The runs are interleaved (one of each command in turn, ``--runs`` rounds), so a busy machine
slows them alike. Printed: the median, lowest and highest wall time of each command, its median
less that of ``python -c pass`` (the interpreter's own start, over all the checkouts' runs), whether
the median is within the 0.3 s that ``--help`` is held to, and the median CPU time (user + system of
the process), which other jobs on the machine change far less than the wall time. ``--also-import`` adds
``python -c "import MODULE"`` lines, e.g. ``provenance.checking`` for what ``check`` imports before
it decodes anything.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BUDGET = 0.3  # seconds: the bound on both --help commands


def commands(also_import: list[str]) -> dict[str, list[str]]:
    """The timed commands by label, as argument lists after the interpreter."""
    timed = {
        "python -c pass": ["-c", "pass"],
        "provenance --help": ["-m", "provenance", "--help"],
        "provenance check --help": ["-m", "provenance", "check", "--help"],
    }
    timed.update({f"import {module}": ["-c", f"import {module}"] for module in also_import})
    return timed


def run_once(argv: list[str], tree: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of the interpreter with ``argv`` in ``tree`` (which must succeed)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, *argv], cwd=tree, env=env, check=True, stdin=subprocess.DEVNULL,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    """Time the commands in each checkout and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs of each command (default 10)")
    parser.add_argument("--tree", type=Path, action="append",
                        help="a checkout to run from (repeatable; default this one)")
    parser.add_argument("--also-import", action="append", default=[], metavar="MODULE",
                        help="also time `python -c 'import MODULE'` (repeatable)")
    args = parser.parse_args()
    trees = [tree.resolve() for tree in (args.tree or [ROOT])]
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    timed = commands(args.also_import)
    times: dict[tuple[Path, str], list[float]] = {(tree, label): [] for tree in trees for label in timed}
    cpu: dict[tuple[Path, str], list[float]] = {(tree, label): [] for tree in trees for label in timed}
    for tree in trees:  # writes the .pyc files, as a user's first run does
        for argv in timed.values():
            run_once(argv, tree, env)
    for _ in range(args.runs):
        for tree in trees:
            for label, argv in timed.items():
                wall, used = run_once(argv, tree, env)
                times[tree, label].append(wall)
                cpu[tree, label].append(used)
    print(f"python {sys.version.split()[0]}, {args.runs} runs of each command, interleaved, .pyc cached")
    for tree in trees:
        print(f"\n{tree}")
        print(f"  {'command':<44} {'median':>8} {'min':>8} {'max':>8} {'- python':>9}  within {BUDGET} s  {'cpu':>6}")
        floor = statistics.median([t for tree_ in trees for t in times[tree_, "python -c pass"]])
        for label in timed:
            runs = times[tree, label]
            median = statistics.median(runs)
            within = "" if label.startswith(("python", "import")) else ("yes" if median <= BUDGET else "NO")
            print(f"  {label:<44} {median:>7.3f}s {min(runs):>7.3f}s {max(runs):>7.3f}s {median - floor:>8.3f}s"
                  f"  {within:<11}  {statistics.median(cpu[tree, label]):.3f}s")


if __name__ == "__main__":
    main()
