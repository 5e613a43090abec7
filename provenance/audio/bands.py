"""The band-energy print of a soundtrack: a fine fingerprint for sound too short for Chromaprint.

Chromaprint gives its first value only after about 2.7 s of sound (``audio.align.VALUE_STEPS``), so
a clip of two seconds has no Chromaprint fingerprint at all, and neither has a two-second item. Many
re-shared clips are that short. The band print is the fingerprint Haitsma and Kalker published ("A
Highly Robust Audio Fingerprinting System", ISMIR 2002), whose window is 0.37 s:

* the sound, mixed to mono and resampled to :data:`SAMPLE_RATE` Hz, is cut into Hann windows of
  :data:`WINDOW` samples every :data:`HOP` samples (about 23 ms);
* each window's energy is summed in :data:`BANDS` bands spaced evenly in log frequency from
  :data:`LOW_HZ` to :data:`HIGH_HZ`;
* value ``i`` compares windows ``i`` and ``i + 1``: bit ``m`` is set when the energy difference between
  bands ``m`` and ``m + 1`` grew from one window to the next. 32 bits a value.

Two recordings of the same sound agree in most bits; unrelated sound agrees in half, by chance (the
bits are signs of changes, so two noises or two tones are not alike in them as they are in Chromaprint's).
Haitsma and Kalker call two stretches the same sound at a bit error rate of 0.35 or less
(:data:`SAME_BER`); in their measurements MP3 at 32 kb/s stays near 0.08, GSM near 0.37 and a 4 % change
of speed 0.42. Two seconds are few bits, and the lowest rate over the offsets tried (a second either
way of where the pictures put the sound, ``match.soundtrack``) falls below chance: two seconds of
unrelated sound measured 0.41-0.47 there, and two seconds of the same sound 0.05-0.38 after AAC at
32 kb/s, MP3, Opus at 24 kb/s and mono 8 kHz, with added noise up to 0.45 (louder than the sound). So a
rate of :data:`OTHER_BER` or more at every offset tried says the sound is another, and between the
two nothing is said. Those figures come from synthetic speech, music and noise and a held-out corpus
clip (goldeneye/issue-134-rotate.mp4), never from the benchmark's clips.

A value whose two windows are silent (under :data:`SILENCE_DB` of a full-scale sine) or nearly the
same (their band energies change by less than :data:`FLAT_CHANGE` of their sum, as hum does) carries
no evidence: it is written as 0 (:data:`NO_EVIDENCE`). Only the item's values that carry evidence are
compared (:func:`bit_error_rate`): where the query has none there, silence or hum where the item has
sound, the value counts as chance (half its bits differ), because the question is whether the item's
sound is there, and a copy of it would carry it. So silence swapped in under the item's pictures is
other sound, as it is for Chromaprint (``audio.align.stretch_error``).

:class:`BandPrinter` takes the samples as they are decoded (its memory is a window and a block, not the
soundtrack) and gives the same values, bit for bit, as :func:`band_print` on the whole array.
"""

from __future__ import annotations

import numpy as np

from provenance.audio.methods import BAND_SAMPLE_RATE as SAMPLE_RATE

WINDOW = 2048  # samples a window: about 0.37 s
HOP = 128  # samples from one window to the next: about 23 ms
STEP = HOP / SAMPLE_RATE  # seconds from one value to the next
BANDS = 33  # bands, so 32 differences: the bits of a value
LOW_HZ, HIGH_HZ = 300.0, 2000.0
SILENCE_DB = -60.0  # band energy of a window, against a full-scale sine's, under which it is silence
FLAT_CHANGE = 0.02  # a value whose windows' band energies change by less than this share of their sum is flat
NO_EVIDENCE = 0  # the value written for silence and flat sound
SAME_BER = 0.35  # a stretch at or under this share of differing bits is the same sound
OTHER_BER = 0.42  # a stretch at or over this share, at every offset tried, is other sound (chance is 0.5)
MIN_SECONDS = 1.0  # the item's sound that carries evidence, compared, before a stretch is judged
SILENT_QUERY_BITS = 16  # the differing bits counted for a query value of no evidence: chance

_HANN = np.hanning(WINDOW)
_FULL_SCALE = (_HANN.sum() / 2) ** 2  # a full-scale sine's energy in its bin
_SILENT = _FULL_SCALE * 10 ** (SILENCE_DB / 10)
_EDGES = np.geomspace(LOW_HZ, HIGH_HZ, BANDS + 1)
_BAND_OF_BIN = np.digitize(np.fft.rfftfreq(WINDOW, 1 / SAMPLE_RATE), _EDGES) - 1  # -1 or BANDS: outside
_FIRST_BIN = int(np.searchsorted(_BAND_OF_BIN, 0))  # a band's bins lie side by side, every band has some
_END_BIN = int(np.searchsorted(_BAND_OF_BIN, BANDS))
_BAND_STARTS = np.searchsorted(_BAND_OF_BIN[_FIRST_BIN:_END_BIN], np.arange(BANDS))
_BIT_WEIGHTS = (1 << np.arange(BANDS - 1, dtype=np.uint64)).astype(np.uint64)


def _energies(samples: np.ndarray, windows: int) -> np.ndarray:
    """(windows, BANDS) band energies of the first ``windows`` windows of float ``samples``."""
    starts = np.arange(windows) * HOP
    frames = samples[starts[:, None] + np.arange(WINDOW)[None, :]] * _HANN
    power = np.abs(np.fft.rfft(frames, axis=1)) ** 2
    return np.add.reduceat(power[:, _FIRST_BIN:_END_BIN], _BAND_STARTS, axis=1)


def values_from_energies(energies: np.ndarray) -> np.ndarray:
    """The uint32 values of consecutive windows' (n, BANDS) band ``energies``: n - 1 of them."""
    if len(energies) < 2:
        return np.zeros(0, dtype=np.uint32)
    diff = energies[:, :-1] - energies[:, 1:]
    bits = (diff[1:] - diff[:-1]) > 0
    values = (bits.astype(np.uint64) @ _BIT_WEIGHTS).astype(np.uint32)
    window = energies.sum(axis=1)  # each window's energy over the bands, once
    before, after = window[:-1], window[1:]
    silent = (before < _SILENT) | (after < _SILENT)
    change = np.abs(energies[1:] - energies[:-1]).sum(axis=1)
    flat = change < FLAT_CHANGE * np.maximum(before + after, 1e-300)
    values[silent | flat] = NO_EVIDENCE
    return values


def band_print(samples: np.ndarray) -> np.ndarray:
    """The values of a whole soundtrack: ``samples`` int16 mono at :data:`SAMPLE_RATE` Hz."""
    printer = BandPrinter()
    printer.feed(np.asarray(samples, dtype=np.int16).tobytes())
    return printer.values()


class BandPrinter:
    """Band-print values of int16 mono samples fed in blocks of any size (``feed``), as they come."""

    def __init__(self) -> None:
        self._pending = np.zeros(0, dtype=np.float64)  # samples not yet past every window they are in
        self._last: np.ndarray | None = None  # the band energies of the last window done
        self._odd = b""  # a torn sample at the end of a block
        self._values: list[np.ndarray] = []

    def feed(self, block: bytes) -> None:
        """Take the next bytes of little-endian int16 samples."""
        raw = self._odd + block
        whole = len(raw) // 2 * 2
        self._odd = raw[whole:]
        if not whole:
            return
        samples = np.frombuffer(raw[:whole], dtype="<i2").astype(np.float64) / 32768.0
        pending = np.concatenate([self._pending, samples])
        windows = 0 if len(pending) < WINDOW else 1 + (len(pending) - WINDOW) // HOP
        if windows:
            energies = _energies(pending, windows)
            if self._last is not None:
                energies = np.vstack([self._last, energies])
            self._values.append(values_from_energies(energies))
            self._last = energies[-1:].copy()
            pending = pending[windows * HOP:]
        self._pending = pending

    def values(self) -> np.ndarray:
        """Every value so far, in time order."""
        return np.concatenate(self._values) if self._values else np.zeros(0, dtype=np.uint32)


def bit_error_rate(query: np.ndarray, item: np.ndarray, near: float, speed: float, lo: float, hi: float,
                   shifts: int) -> tuple[float | None, int]:
    """The lowest share of differing bits between the query's values from ``lo`` to ``hi`` seconds of its
    sound and the item's where ``near`` + ``speed`` x t puts them (item seconds at query second 0),
    tried at up to ``shifts`` values either way, among the shifts that compare :data:`MIN_SECONDS` of
    the item's sound or more; and how many values it counts. Only item values that carry evidence are
    compared; a query value of no evidence against one counts as chance (:data:`SILENT_QUERY_BITS`).
    (None, n): no shift compares that much (n: the most any compares)."""
    first, last = max(0, int(np.ceil(lo / STEP))), min(len(query), int(np.floor(hi / STEP)) + 1)
    if last <= first or not len(item):
        return None, 0
    times = np.arange(first, last) * STEP
    base = np.rint((near + speed * times) / STEP).astype(np.int64)
    q = query[first:last]
    enough = int(np.ceil(MIN_SECONDS / STEP))
    best: float | None = None
    best_count = most = 0
    for shift in range(-shifts, shifts + 1):
        j = base + shift
        ok = (j >= 0) & (j < len(item))
        ok[ok] &= item[j[ok]] != NO_EVIDENCE
        count = int(ok.sum())
        most = max(most, count)
        if count < enough:
            continue
        ours, theirs = q[ok], item[j[ok]]
        heard = ours != NO_EVIDENCE
        differing = np.unpackbits((ours[heard] ^ theirs[heard]).view(np.uint8)).sum()
        rate = float(differing + SILENT_QUERY_BITS * np.count_nonzero(~heard)) / (32 * count)
        if best is None or rate < best:
            best, best_count = rate, count
    return (best, best_count) if best is not None else (None, most)


def evidence_seconds(values: np.ndarray) -> float:
    """Seconds of sound in ``values`` that carry evidence."""
    return float(np.count_nonzero(values != NO_EVIDENCE)) * STEP
