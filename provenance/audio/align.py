"""Align two soundtrack fingerprints: which seconds of the query's sound are which seconds of the item's.

Chromaprint's values (``audio.chromaprint``) are 32 bits a ~0.124 s step. Two recordings of the same
sound give values that mostly agree bit for bit, and many agree whole: a re-encode at 32 kb/s or under
noise at -10 dB keeps about half of them exact in their top :data:`KEY_BITS` bits. Unrelated sound
agrees on half the bits, by chance.

1. **Offset by votes.** Every query value whose top bits equal an item value's votes for the offset
   between them (item step minus query step, along the speed when one is given). Values that carry no
   evidence do not vote (:func:`informative`).
2. **Bit error rate along the aligned stretch.** At the winning offset (and its neighbours), each value is
   compared with the item's value at the aligned time; the share of differing bits is averaged over a
   window of :data:`WINDOW` values (about 2 s).
3. **Segments where it stays low.** A run of windows at or under :data:`MATCH_BER` is a matched stretch;
   stretches shorter than :data:`MIN_SEGMENT_SECONDS` are dropped.

Chance is not 0.5 for every pair. Two noises, two hums or two tonal pieces share much of their
spectrum, and their values agree in more bits than chance at every offset (two pink noises differ in
0.23-0.32 of them in every window). So each pair's own chance level is measured: the median bit error
rate at offsets spread over the item, away from the one tried (:func:`chance_level`). A window matches
at or under :data:`MATCH_BER` (0.35) and at least :data:`BELOW_CHANCE` (0.15) under that level
(:func:`threshold`). Re-encoded copies of speech measured 0.02-0.08 against a chance level of 0.46;
the same sound under noise at -10 dB 0.04; the same speech at a 5 % faster tempo, compared along that
speed, 0.08. These figures come from a corpus soundtrack and ffmpeg's own re-encodes, not from the
benchmark's queries.

Silence and hum give the same value, or values one bit apart, step after step: a run of such values
carries no evidence, as flat frames carry none, and neither votes nor counts as matched sound.

Chromaprint does not survive a change of pitch. A change of tempo alone (a speed-up that keeps the pitch)
keeps the values: given the speed the pictures found, values are compared along it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

KEY_BITS = 20
"""The top bits of a value that make its key, in the archive's index and in the vote (as AcoustID does)."""
WINDOW = 16  # values per bit-error window: about 2 s
MATCH_BER = 0.35  # a window at or under this share of differing bits is the same sound
MIN_SEGMENT_SECONDS = 2.0  # a matched stretch shorter than this is not reported
MIN_VOTES = 4  # exact key agreements at one offset before it is looked at
FLAT_BITS = 2  # a value this few bits from the one before it continues a run of flat sound
FLAT_RUN = 4  # values in a flat run before the run carries no evidence (about half a second)
SEARCH_NEIGHBOURS = 2  # offsets each side of the vote's winner whose bit error rate is measured
BELOW_CHANCE = 0.15  # a matched window differs in this share of bits fewer than the pair's chance level
CHANCE_OFFSETS = 16  # offsets at which the chance level of a pair is measured
VALUE_STEPS = 21
"""Steps of sound each value hears: Chromaprint's 4096-sample frame (3 steps of 1365) and the 18 frames
after it that its filters span (a 12 s sound gives 94 frames and 76 values)."""


@dataclass(frozen=True)
class SoundSegment:
    """A stretch of the query's sound that is a stretch of the item's, in value steps and seconds."""

    query_start: float  # seconds of the query's sound time line (step * index)
    query_end: float
    archive_start: float  # seconds of the item's sound time line
    archive_end: float
    bit_error_rate: float  # mean share of differing bits along the stretch


@dataclass(frozen=True)
class SoundAlignment:
    """How a query's soundtrack lies on an item's: ``item_t = offset + speed * query_t`` (sound seconds)."""

    offset: float
    speed: float
    votes: int  # query values whose key agreed with the item's at this offset
    segments: tuple[SoundSegment, ...]
    matched_values: int  # informative query values inside the segments
    bit_error_rate: float  # mean share of differing bits over the segments


def keys(values: np.ndarray) -> np.ndarray:
    """The index keys of ``values``: their top :data:`KEY_BITS` bits."""
    return (np.asarray(values, dtype=np.uint32) >> np.uint32(32 - KEY_BITS)).astype(np.int64)


def _popcount(x: np.ndarray) -> np.ndarray:
    """Set bits of each uint32."""
    return np.unpackbits(np.ascontiguousarray(x, dtype="<u4").view(np.uint8).reshape(-1, 4), axis=1).sum(axis=1)


def informative(values: np.ndarray) -> np.ndarray:
    """Which values carry evidence: not part of a run of :data:`FLAT_RUN` or more values each within
    :data:`FLAT_BITS` bits of the one before (silence, hum, a held tone)."""
    v = np.asarray(values, dtype=np.uint32)
    n = len(v)
    if n == 0:
        return np.zeros(0, dtype=bool)
    close = np.zeros(n, dtype=bool)  # close[i]: value i is within FLAT_BITS of value i - 1
    if n > 1:
        close[1:] = _popcount(v[1:] ^ v[:-1]) <= FLAT_BITS
    run = np.cumsum(~close) - 1  # the run of values each belongs to
    return np.bincount(run)[run] < FLAT_RUN


def vote_offsets(query: np.ndarray, item: np.ndarray, speed: float = 1.0) -> list[tuple[int, int]]:
    """(offset in item steps, votes), most votes first: every informative query value whose key equals an
    informative item value's votes for ``item index - round(speed * query index)``. Offsets with fewer
    than :data:`MIN_VOTES` are left out."""
    q = np.asarray(query, dtype=np.uint32)
    a = np.asarray(item, dtype=np.uint32)
    q_ok, a_ok = informative(q), informative(a)
    q_pos = np.nonzero(q_ok)[0]
    a_pos = np.nonzero(a_ok)[0]
    if len(q_pos) == 0 or len(a_pos) == 0:
        return []
    a_keys = keys(a[a_pos])
    order = np.argsort(a_keys, kind="stable")
    sorted_keys, sorted_pos = a_keys[order], a_pos[order]
    q_keys = keys(q[q_pos])
    lo = np.searchsorted(sorted_keys, q_keys, side="left")
    hi = np.searchsorted(sorted_keys, q_keys, side="right")
    counts = hi - lo
    if counts.sum() == 0:
        return []
    query_at = np.repeat(np.round(q_pos * speed).astype(np.int64), counts)
    item_at = np.concatenate([sorted_pos[s:e] for s, e in zip(lo, hi, strict=True) if e > s])
    offsets = item_at - query_at
    found, votes = np.unique(offsets, return_counts=True)
    # a value may sit between two steps: a neighbour's votes count for the offset too
    merged = {int(o): int(v) for o, v in zip(found, votes, strict=True)}
    total = {o: v + merged.get(o - 1, 0) + merged.get(o + 1, 0) for o, v in merged.items()}
    ranked = sorted(((o, v) for o, v in total.items() if v >= MIN_VOTES), key=lambda ov: (-ov[1], ov[0]))
    return ranked


def _errors(query: np.ndarray, item: np.ndarray, offset: int, speed: float,
            flat_query_counts: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(share of differing bits, aligned) per query value at this offset: aligned where the item has
    a value at the aligned step and both values are informative."""
    q = np.asarray(query, dtype=np.uint32)
    a = np.asarray(item, dtype=np.uint32)
    at = offset + np.round(np.arange(len(q)) * speed).astype(np.int64)
    inside = (at >= 0) & (at < len(a))
    ber = np.ones(len(q), dtype=np.float64) * 0.5
    if inside.any():
        ber[inside] = _popcount(q[inside] ^ a[at[inside]]) / 32.0
    ok = inside.copy() if flat_query_counts else inside & informative(q)
    a_ok = informative(a)
    ok[inside] &= a_ok[at[inside]]
    return ber, ok


def _windowed(ber: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Mean bit error rate of the aligned values in the window centred on each value (NaN where under
    half the window is aligned)."""
    n = len(ber)
    weights = np.ones(WINDOW)
    start = (WINDOW - 1) // 2

    def summed(values: np.ndarray) -> np.ndarray:
        # numpy's "same" is as long as the longer input: a soundtrack shorter than the window needs the centre
        return np.convolve(values, weights, mode="full")[start:start + n]

    num = summed(np.where(ok, ber, 0.0))
    den = summed(ok.astype(np.float64))
    span = summed(np.ones(n))
    out = np.full(n, np.nan)
    enough = den >= np.minimum(WINDOW, span) / 2
    out[enough] = num[enough] / den[enough]
    return out


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of each run of True."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.nonzero(edges == 1)[0].tolist(), np.nonzero(edges == -1)[0].tolist(), strict=True))


def chance_level(query: np.ndarray, item: np.ndarray, offset: int, speed: float = 1.0) -> float:
    """The share of differing bits of these two soundtracks where they are not aligned: the median over
    up to :data:`CHANCE_OFFSETS` offsets spread over the item, none within :data:`VALUE_STEPS` of
    ``offset``; 0.5 (chance for unrelated bits) when fewer than half of them can be measured."""
    n, m = len(query), len(item)
    lo, hi = -(n - WINDOW), m - WINDOW
    if hi <= lo:
        return 0.5
    spread = np.unique(np.linspace(lo, hi, CHANCE_OFFSETS + 2).round().astype(np.int64)[1:-1])
    rates = []
    for other in spread:
        if abs(int(other) - offset) <= VALUE_STEPS:
            continue
        ber, ok = _errors(query, item, int(other), speed)
        if ok.sum() >= WINDOW:
            rates.append(float(ber[ok].mean()))
    if len(rates) < CHANCE_OFFSETS // 2:
        return 0.5
    return float(np.median(rates))


def threshold(chance: float) -> float:
    """The window bit error rate at or under which two sounds are the same, given their ``chance``
    level: :data:`MATCH_BER`, or :data:`BELOW_CHANCE` under the chance level where that is lower."""
    return min(MATCH_BER, chance - BELOW_CHANCE)


def alignment_at(query: np.ndarray, item: np.ndarray, step: float, offset: int, speed: float = 1.0,
                 votes: int = 0, chance: float | None = None) -> SoundAlignment | None:
    """The matched stretches of ``query`` against ``item`` at ``offset`` item steps (``speed`` item steps
    per query step), or None when none is :data:`MIN_SEGMENT_SECONDS` long. ``step``: seconds per value;
    ``chance``: the pair's chance level, measured here when not given (:func:`chance_level`)."""
    if len(query) == 0 or len(item) == 0:
        return None
    ber, ok = _errors(query, item, offset, speed)
    window = _windowed(ber, ok)
    if chance is None:
        chance = chance_level(query, item, offset, speed)
    matched = np.nan_to_num(window, nan=1.0) <= threshold(chance)
    segments: list[SoundSegment] = []
    values = 0
    errors = 0.0
    n = len(ber)
    for start, end in _runs(matched):
        inside = ok[start:end]
        if (end - start) * step < MIN_SEGMENT_SECONDS or not inside.any():
            continue
        rate = float(ber[start:end][inside].mean())
        values += int(inside.sum())
        errors += rate * int(inside.sum())
        # value i hears the sound of steps i to i + VALUE_STEPS: a run's bounds are its values' centres,
        # half a step out, and a run that reaches the query's first or last value starts or ends with its sound
        q0 = 0.0 if start == 0 else start + (VALUE_STEPS - 1) / 2
        q1 = n - 1 + VALUE_STEPS if end == n else end + (VALUE_STEPS - 1) / 2
        segments.append(SoundSegment(query_start=round(q0 * step, 3), query_end=round(q1 * step, 3),
                                     archive_start=round((offset + q0 * speed) * step, 3),
                                     archive_end=round((offset + q1 * speed) * step, 3),
                                     bit_error_rate=round(rate, 4)))
    if not segments:
        return None
    return SoundAlignment(offset=round(offset * step, 4), speed=speed, votes=votes, segments=tuple(segments),
                          matched_values=values, bit_error_rate=round(errors / values, 4))


def align(query: np.ndarray, item: np.ndarray, step: float, speed: float = 1.0,
          near: float | None = None, within: float = 1.0) -> SoundAlignment | None:
    """The best alignment of ``query`` on ``item`` (uint32 Chromaprint values, ``step`` seconds apart), or
    None when no stretch of :data:`MIN_SEGMENT_SECONDS` matches.

    The offsets with the most votes are measured, each with its neighbours, and the one with the most
    evidence wins (:func:`_evidence`: a neighbour of the true offset matches nearly as many values, since
    Chromaprint's frames overlap, but with more differing bits). ``near`` (item seconds at query second
    0, as the pictures put it) keeps only offsets within ``within`` seconds of it, and measures ``near``
    itself even without votes: the question is then whether the sound agrees with the pictures.
    """
    if len(query) == 0 or len(item) == 0:
        return None
    candidates = vote_offsets(query, item, speed)
    if near is not None:
        centre = round(near / step)
        reach = max(1, round(within / step))
        candidates = [(o, v) for o, v in candidates if abs(o - centre) <= reach] or [(centre, 0)]
    best: SoundAlignment | None = None
    seen: set[int] = set()
    if not candidates:
        return None
    # measured once, away from the likeliest offset: it hardly moves from one candidate to the next
    chance = chance_level(query, item, candidates[0][0], speed)
    for offset, votes in candidates[:3]:
        for shift in range(-SEARCH_NEIGHBOURS, SEARCH_NEIGHBOURS + 1):
            at = offset + shift
            if at in seen:
                continue
            seen.add(at)
            found = alignment_at(query, item, step, at, speed, votes, chance)
            if found is not None and (best is None or _evidence(found) > _evidence(best)):
                best = found
    return best


def _evidence(found: SoundAlignment) -> float:
    """How far the matched values stand from chance: their number times (0.5 - bit error rate)."""
    return found.matched_values * (0.5 - found.bit_error_rate)


def stretch_error(query: np.ndarray, item: np.ndarray, step: float, offset: float, speed: float,
                  query_from: float, query_to: float) -> tuple[float | None, int]:
    """(mean share of differing bits, values compared) of the query's values from ``query_from`` to
    ``query_to`` sound seconds against the item's at ``item_t = offset + speed * query_t``, wherever the
    item's value carries evidence (the query's may be silence: sound where the item has sound, or none,
    is the question); None when no item value there carries evidence."""
    if len(query) == 0 or len(item) == 0:
        return None, 0
    ber, ok = _errors(query, item, round(offset / step), speed, flat_query_counts=True)
    lo, hi = max(0, int(np.floor(query_from / step))), min(len(ber), int(np.ceil(query_to / step)))
    inside = ok[lo:hi]
    if hi <= lo or not inside.any():
        return None, 0
    return round(float(ber[lo:hi][inside].mean()), 4), int(inside.sum())


def informative_seconds(values: np.ndarray, step: float) -> float:
    """Seconds of sound that carry evidence (:func:`informative`)."""
    return float(informative(np.asarray(values, dtype=np.uint32)).sum()) * step
