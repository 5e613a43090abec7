"""Stage timers of a check: where the wall time of one file's examination goes (``check --json --timings``).

Library code marks its stages with ``with stage("decode"): ...``; the time is kept only while a
:class:`Clock` collects (``with collecting() as clock: ...``), so without one a stage costs one context
variable read and the results never depend on it. The time of nested stages is the innermost one's:
while hashing runs inside the decode loop, the decode is not charged for it, so the stages partition the
collecting thread's wall time and never add up to more than the total.

Work on another thread (the decoder's side thread extracting local features) is marked with
:meth:`Clock.background`; it is charged only for the time the collecting thread spent waiting for frames
meanwhile (taken from ``decode``), since the rest of it ran beside the hashing, at no cost in time.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

STAGES = ("imports", "probe", "decode", "hashing", "features", "archive", "candidates", "alignment", "description",
          "report")
"""The stages, in the order a check meets them (the fields of :class:`Timings` between startup and other)."""

WAITING = "decode"  # the stage whose time is the collecting thread waiting for frames, which background work shares


@dataclass(frozen=True)
class Timings:
    """Seconds of wall time per stage of one check; each stage a non-negative figure, together at most ``total``.

    ``startup`` is from the process's start (the kernel's record of it, to 10 ms) to the command's first
    line, None from the Python API; ``other`` is what no stage names (Python's work between the stages,
    ``--structure``); ``total`` runs from the process's start (else from the start of collecting) to the
    end of the record, so ``startup`` + the stages + ``other`` = ``total``.
    """

    startup: float | None
    imports: float  # importing what the command needs, after it began (the library's modules and theirs)
    probe: float  # ffprobe of the file
    decode: float  # starting ffmpeg and waiting for its sampled frames
    hashing: float  # borders, pHash and PDQ of the samples, shot signals and cuts; waiting for SHA-256/SHA-1/MD5
    features: float  # local features extracted while the decode waited for them (their share of the wait)
    archive: float  # reading the archive: its kept frames and indexes, item records and features; the custody log
    candidates: float  # searching the hash index and the local-feature (descriptor) index
    alignment: float  # time lines of the candidates (hashes and feature pairs), and confirming pairs along them
    description: float  # describing a match: carrying segments on, geometry, overlays, tone, edits
    report: float  # building and rendering the record, and its keyframes and side-by-side views
    other: float
    total: float

    def stages(self) -> tuple[tuple[str, float], ...]:
        """(name, seconds) of each stage in ``STAGES`` order, then ``other``."""
        return tuple((name, float(getattr(self, name))) for name in (*STAGES, "other"))


class Clock:
    """Collects the stage times of one thread's work (the thread that made it), and its background work."""

    def __init__(self, started: float | None = None) -> None:
        """``started``: the ``time.perf_counter()`` reading the total runs from (default: now)."""
        self.started = time.perf_counter() if started is None else started
        self.thread = threading.get_ident()
        self.spent = dict.fromkeys(STAGES, 0.0)
        self.stack: list[str] = []
        self.mark = 0.0
        self.waits: list[tuple[float, float]] = []  # intervals charged to WAITING, in time order
        self.busy: dict[str, list[tuple[float, float]]] = {}  # background intervals by stage
        self.lock = threading.Lock()

    def enter(self, name: str) -> None:
        """Start stage ``name`` (nested inside the current one, which pauses)."""
        now = time.perf_counter()
        if self.stack:
            self._charge(self.stack[-1], now)
        self.stack.append(name)
        self.mark = now

    def leave(self) -> None:
        """End the innermost stage; the one it was nested in carries on."""
        now = time.perf_counter()
        self._charge(self.stack.pop(), now)
        self.mark = now

    def _charge(self, name: str, now: float) -> None:
        self.spent[name] += now - self.mark
        if name == WAITING:
            self.waits.append((self.mark, now))

    def add(self, name: str, seconds: float) -> None:
        """Charge ``seconds`` of work done before the clock ran (between its start and its making) to ``name``."""
        self.spent[name] += max(0.0, seconds)

    @contextmanager
    def background(self, name: str) -> Iterator[None]:
        """Time a block of stage ``name`` run on another thread (see the module's docstring)."""
        begun = time.perf_counter()
        try:
            yield
        finally:
            ended = time.perf_counter()
            with self.lock:
                self.busy.setdefault(name, []).append((begun, ended))

    def finish(self, startup: float | None = None) -> Timings:
        """The figures so far, the total up to now (``startup``: seconds of it before the command began)."""
        total = time.perf_counter() - self.started
        spent = dict(self.spent)
        with self.lock:
            busy = {name: list(spans) for name, spans in self.busy.items()}
        for name, spans in busy.items():
            shared = min(_overlap(self.waits, sorted(spans)), spent[WAITING])
            spent[WAITING] -= shared
            spent[name] += shared
        figures = {name: _down(seconds) for name, seconds in spent.items()}
        start = _down(startup) if startup is not None else None
        whole = _up(total)
        other = max(0.0, _down(whole - sum(figures.values()) - (start or 0.0)))
        return Timings(startup=start, other=other, total=whole, **figures)


def _overlap(a: list[tuple[float, float]], b: list[tuple[float, float]]) -> float:
    """Seconds covered by both of two lists of intervals, each in time order and not overlapping itself."""
    i = j = 0
    shared = 0.0
    while i < len(a) and j < len(b):
        shared += max(0.0, min(a[i][1], b[j][1]) - max(a[i][0], b[j][0]))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return shared


def _down(seconds: float) -> float:
    """Seconds to the 0.1 ms below (so that rounded stages never add up to more than the rounded total)."""
    return max(0.0, math.floor(seconds * 1e4) / 1e4)


def _up(seconds: float) -> float:
    """Seconds to the 0.1 ms above."""
    return max(0.0, math.ceil(seconds * 1e4) / 1e4)


_ACTIVE: ContextVar[Clock | None] = ContextVar("provenance_clock", default=None)


class _Stage:
    """``with stage(name):`` on the collecting thread of the active clock; nothing otherwise."""

    __slots__ = ("clock", "name")

    def __init__(self, name: str) -> None:
        self.name = name
        clock = _ACTIVE.get()
        self.clock = clock if clock is not None and clock.thread == threading.get_ident() else None

    def __enter__(self) -> None:
        if self.clock is not None:
            self.clock.enter(self.name)

    def __exit__(self, *exc: object) -> None:
        if self.clock is not None:
            self.clock.leave()


def stage(name: str) -> _Stage:
    """A context manager timing its block as stage ``name`` (one of ``STAGES``) when a clock collects."""
    return _Stage(name)


def active() -> Clock | None:
    """The clock collecting in this context, if any (to hand to a thread that does background work)."""
    return _ACTIVE.get()


@contextmanager
def collecting(started: float | None = None) -> Iterator[Clock]:
    """Collect the stage times of the work in this block, in this thread: ``clock.finish()`` gives them.

    ``started``: a ``time.perf_counter()`` reading the total runs from (default: now), e.g.
    :func:`process_started`.
    """
    clock = Clock(started)
    token = _ACTIVE.set(clock)
    try:
        yield clock
    finally:
        _ACTIVE.reset(token)


def process_started() -> float | None:
    """The ``time.perf_counter()`` reading of this process's start, from the kernel's record of it (Linux's
    ``/proc/self/stat``, in clock ticks of 10 ms); None where there is no such record."""
    try:
        with open("/proc/self/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        since_boot = int(fields[19]) / os.sysconf("SC_CLK_TCK")  # field 22, starttime
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - since_boot
        now = time.perf_counter()
    except (OSError, ValueError, IndexError, AttributeError):
        return None
    return now - age if age >= 0 else None
