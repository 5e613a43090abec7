"""The soundtrack beside the pictures: each picture match's sound compared, and matches by sound alone.

For a match by pictures, the query's sound is aligned on the item's where the pictures put it (along
the speed they found: Chromaprint survives a change of tempo only when the values are compared along
it), then anywhere. The match then says what matched (``Match.matched_by``: "pictures" or "both"), and
its ``soundtrack`` says how (``model.SoundtrackMatch``):

- **matched**: the sound's segments, and whether they lie where the pictures do (``offset_agrees``);
- **differs**: the item has sound that carries evidence over the stretch the pictures match, at least
  :data:`~provenance.audio.align.MIN_SEGMENT_SECONDS` of it, and the query's sound there is not it
  (other sound, or silence where the item has sound), nowhere near as close as the same sound: the
  edit ``audio_replaced``;
- **removed**: the item has such sound and the query has no soundtrack (edit ``audio_removed``);
- **not compared**: either side lacks a fingerprint, or the sound there is silence or hum.

Where Chromaprint cannot compare them (the query's sound or the item's is under about 3 s, too short
for a single value), the band prints (``provenance.audio.bands``) are compared instead, where the
pictures put the sound and at their speed (within :data:`BAND_SPEED_CHANGE` of normal speed: the band
print does not survive a change of speed), shifted by up to :data:`BAND_SHIFT_SECONDS` either way: the
same sound at a bit error rate of ``bands.SAME_BER`` or less is matched, one of ``bands.OTHER_BER`` or
more differs, and between the two nothing is said (not compared, with the rate). The match's
``soundtrack.fingerprint`` says which fingerprint compared them. Matches by the sound alone are
looked for by Chromaprint only: two seconds of sound alone are too little to name an item by.

Items the pictures did not match are looked up in the archive's index of sound keys
(``ArchiveStore.soundtrack_candidates``) and aligned anywhere: a match found so is by the soundtrack
alone (``matched_by`` "soundtrack", edit ``audio_only``), its segments are the sound's, and its verdict,
trim and earliest appearance follow from them as for pictures.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from provenance.archive.searchable import ArchiveFrames
from provenance.archive.store import ArchiveStore, StoredSoundtrack
from provenance.audio import bands
from provenance.audio.align import (
    MATCH_BER,
    MIN_SEGMENT_SECONDS,
    SoundAlignment,
    align,
    informative,
    informative_seconds,
    keys,
    stretch_error,
)
from provenance.match.trim import trim_edit
from provenance.match.verdict import WHOLE_ITEM, coverages, verdict
from provenance.model import (
    SOUND_BY_BANDS,
    SOUND_BY_CHROMAPRINT,
    SOUND_DIFFERS,
    SOUND_MATCHED,
    SOUND_REMOVED,
    SOUND_UNCOMPARED,
    SOUNDTRACK_FINGERPRINTED,
    SOUNDTRACK_NONE,
    Edit,
    Fingerprint,
    Match,
    Segment,
    Sighting,
    SoundtrackMatch,
)

AGREES_WITHIN = 1.0  # seconds: sound this close to where the pictures put it agrees with them
CANDIDATES = 8  # items the sound index proposes for a query, most shared keys first
BAND_SHIFT_SECONDS = AGREES_WITHIN  # how far the band prints are shifted against where the pictures put the
# sound: the pictures of a still scene can place a short clip half a second off
BAND_SPEED_CHANGE = 0.02  # band prints are compared only where the pictures' speed is this close to 1


def _query_values(fp: Fingerprint) -> np.ndarray | None:
    sound = fp.soundtrack
    if fp.is_still or sound is None or sound.status != SOUNDTRACK_FINGERPRINTED or not sound.item_duration:
        return None
    values = np.asarray(sound.items(), dtype=np.uint32)
    return values if len(values) else None  # under about 3 s of sound: Chromaprint gives no value


def with_soundtrack(fp: Fingerprint, matches: Sequence[Match], store: ArchiveStore, frames: ArchiveFrames,
                    make_sightings: Callable[[str], tuple[Sighting, ...]]) -> tuple[Match, ...]:
    """``matches`` (by pictures) with their soundtracks compared, then the matches by sound alone.

    ``frames`` names the archived items and gives their durations, ``make_sightings`` their
    sightings: as the picture matches were made."""
    number = {sha: n for n, sha in enumerate(frames.sha256)}

    def item_duration(sha: str) -> float | None:
        n = number.get(sha)
        return None if n is None or frames.stills[n] else float(frames.durations[n])

    query = _query_values(fp)
    compared = tuple(_compared(fp, query, m, store.soundtrack(m.sha256), item_duration(m.sha256)) for m in matches)
    if query is None:
        return compared
    matched = {m.sha256 for m in matches}
    found = []
    wanted = keys(query[informative(query)])
    for sha, _hits in store.soundtrack_candidates(wanted.tolist(), CANDIDATES + len(matched)):
        if sha in matched:
            continue
        duration = item_duration(sha)
        item = store.soundtrack(sha)
        if item is None or duration is None:
            continue
        alignment = align(query, item.values, item.item_duration)
        if alignment is not None:
            found.append(_sound_match(fp, sha, frames.names[number[sha]], item, alignment, duration,
                                      make_sightings(sha)))
    return compared + tuple(found)


def _segments(fp: Fingerprint, item: StoredSoundtrack, alignment: SoundAlignment,
              duration: float) -> tuple[Segment, ...]:
    """The alignment's stretches on the two video time lines, within both files."""
    assert fp.soundtrack is not None
    q0, a0 = fp.soundtrack.start, item.start
    out = []
    for s in alignment.segments:
        qs, qe = max(0.0, s.query_start + q0), min(fp.duration, s.query_end + q0)
        as_, ae = max(0.0, s.archive_start + a0), min(duration, s.archive_end + a0)
        if qe > qs and ae > as_:
            out.append(Segment(query_start=round(qs, 3), query_end=round(qe, 3),
                               archive_start=round(as_, 3), archive_end=round(ae, 3)))
    return tuple(out)


def _picture_offset(fp: Fingerprint, m: Match, item: StoredSoundtrack) -> float | None:
    """Item sound seconds at query sound second 0, where the match's longest segment puts it."""
    if not m.segments or fp.soundtrack is None:
        return None
    s = max(m.segments, key=lambda seg: seg.query_end - seg.query_start)
    item_video = s.archive_start + m.speed * (fp.soundtrack.start - s.query_start)
    return item_video - item.start


def _compared(fp: Fingerprint, query: np.ndarray | None, m: Match, item: StoredSoundtrack | None,
              duration: float | None) -> Match:
    """One picture match with its soundtrack compared (see the module notes)."""
    if fp.is_still or duration is None:
        return m
    step = item.item_duration if item is not None else 0.0
    item_sound = item is not None and informative_seconds(item.values, step) >= MIN_SEGMENT_SECONDS
    item_band_sound = item is not None and item.bands is not None and \
        bands.evidence_seconds(item.bands) >= bands.MIN_SECONDS
    if query is None:
        if (item_sound or item_band_sound) and fp.soundtrack is not None and \
                fp.soundtrack.status == SOUNDTRACK_NONE:
            edit = Edit("audio_removed", "the archived item has a soundtrack; the query has none")
            return replace(m, edits=(*m.edits, edit), soundtrack=SoundtrackMatch(
                status=SOUND_REMOVED, details="the query has no soundtrack"))
        if item_band_sound:
            return _by_bands(fp, m, item) or _uncompared(fp, m, item)
        return _uncompared(fp, m, item)
    if item is None or not item_sound:
        return (_by_bands(fp, m, item) if item_band_sound else None) or _uncompared(fp, m, item)
    near = _picture_offset(fp, m, item)
    alignment = align(query, item.values, step, speed=m.speed, near=near, within=AGREES_WITHIN)
    agrees = alignment is not None and near is not None
    if alignment is None:
        alignment = align(query, item.values, step, speed=m.speed)
    if alignment is not None:
        segments = _segments(fp, item, alignment, duration)
        if segments:
            return replace(m, matched_by="both", soundtrack=SoundtrackMatch(
                status=SOUND_MATCHED, segments=segments, bit_error_rate=alignment.bit_error_rate,
                offset_agrees=agrees, fingerprint=SOUND_BY_CHROMAPRINT,
                details=("where the pictures are" if agrees else
                         f"{alignment.offset - (near or 0.0):+.1f} s from where the pictures are")))
    return _differs(fp, query, m, item, near, step)


def _uncompared(fp: Fingerprint, m: Match, item: StoredSoundtrack | None) -> Match:
    """A picture match whose soundtrack could not be compared, and why."""
    return replace(m, soundtrack=SoundtrackMatch(status=SOUND_UNCOMPARED, details=_why_not(fp, item)))


def _by_bands(fp: Fingerprint, m: Match, item: StoredSoundtrack | None) -> Match | None:
    """A picture match's soundtrack compared by the band prints (see the module notes); None where they
    cannot compare it (either side has none, the speed changed, or too little sound that carries
    evidence where the pictures match)."""
    sound = fp.soundtrack
    if item is None or item.bands is None or sound is None or not sound.band_step or not sound.band_count:
        return None
    near = _picture_offset(fp, m, item)
    if near is None or abs(m.speed - 1.0) > BAND_SPEED_CHANGE:
        return None
    query = np.asarray(sound.band_items(), dtype=np.uint32)
    shifts = round(BAND_SHIFT_SECONDS / bands.STEP)
    weighted, compared, segments = 0.0, 0, []
    for s in m.segments:
        rate, count = bands.bit_error_rate(query, item.bands, near, m.speed, s.query_start - sound.start,
                                           s.query_end - sound.start, shifts)
        if rate is not None:
            weighted += rate * count
            compared += count
            segments.append(s)
    if not compared:
        return None
    rate = round(weighted / compared, 4)
    seconds = compared * bands.STEP
    if rate <= bands.SAME_BER:
        return replace(m, matched_by="both", soundtrack=SoundtrackMatch(
            status=SOUND_MATCHED, segments=tuple(segments), bit_error_rate=rate, offset_agrees=True,
            details=f"where the pictures are (by the band print: the sound is too short for Chromaprint; "
                    f"{seconds:.1f} s compared, {rate:.0%} of bits differ)", fingerprint=SOUND_BY_BANDS))
    if rate >= bands.OTHER_BER:
        edit = Edit("audio_replaced", f"the pictures match but the soundtrack is not the item's (by the band "
                                      f"print: {seconds:.1f} s compared, {rate:.0%} of bits differ)")
        return replace(m, edits=(*m.edits, edit), soundtrack=SoundtrackMatch(
            status=SOUND_DIFFERS, bit_error_rate=rate, details=edit.details, fingerprint=SOUND_BY_BANDS))
    return replace(m, soundtrack=SoundtrackMatch(
        status=SOUND_UNCOMPARED, bit_error_rate=rate, fingerprint=SOUND_BY_BANDS,
        details=f"by the band print, {rate:.0%} of bits differ over {seconds:.1f} s: neither the same sound "
                f"(at most {bands.SAME_BER:.0%}) nor other sound (at least {bands.OTHER_BER:.0%})"))


def _differs(fp: Fingerprint, query: np.ndarray, m: Match, item: StoredSoundtrack, near: float | None,
             step: float) -> Match:
    """A picture match whose sound matched nowhere: replaced when the item has sound that carries evidence
    where the pictures match, and the query's sound there is not it (other sound, or silence)."""
    assert fp.soundtrack is not None
    if near is None:
        return replace(m, soundtrack=SoundtrackMatch(status=SOUND_UNCOMPARED, details="no picture segment"))
    q0 = fp.soundtrack.start
    spans = [(s.query_start - q0, s.query_end - q0) for s in m.segments]
    rates, compared = [], 0
    for lo, hi in spans:
        rate, count = stretch_error(query, item.values, step, near, m.speed, lo, hi)
        if rate is not None:
            rates.append(rate * count)
            compared += count
    if compared * step < MIN_SEGMENT_SECONDS:
        return replace(m, soundtrack=SoundtrackMatch(
            status=SOUND_UNCOMPARED, details="too little sound that carries evidence where the pictures match"))
    rate = round(sum(rates) / compared, 4)
    if rate <= MATCH_BER:  # as close as the same sound: too little of it agreed in a row for a segment
        return replace(m, soundtrack=SoundtrackMatch(
            status=SOUND_UNCOMPARED, bit_error_rate=rate, fingerprint=SOUND_BY_CHROMAPRINT,
            details="the sound agrees where the pictures match, but too little of it for a segment"))
    edit = Edit("audio_replaced", f"the pictures match but the soundtrack is not the item's "
                                  f"({compared * step:.1f} s compared, {rate:.0%} of bits differ)")
    return replace(m, edits=(*m.edits, edit), soundtrack=SoundtrackMatch(
        status=SOUND_DIFFERS, bit_error_rate=rate, details=edit.details, fingerprint=SOUND_BY_CHROMAPRINT))


def _why_not(fp: Fingerprint, item: StoredSoundtrack | None) -> str:
    """Why a picture match's soundtrack was not compared."""
    if fp.soundtrack is None or fp.soundtrack.status != SOUNDTRACK_FINGERPRINTED:
        return "the query's soundtrack has no fingerprint" if fp.soundtrack is None or \
            fp.soundtrack.status != SOUNDTRACK_NONE else "the query has no soundtrack"
    if not fp.soundtrack.count:
        return "the query's sound is too short for a fingerprint (under about 3 s)"
    if item is None:
        return "the archived item has no soundtrack fingerprint"
    return "silence or hum: no sound that carries evidence"


def _sound_match(fp: Fingerprint, sha: str, name: str, item: StoredSoundtrack, alignment: SoundAlignment,
                 duration: float, sightings: tuple[Sighting, ...]) -> Match:
    """A match by the soundtrack alone."""
    segments = _segments(fp, item, alignment, duration)
    query_cov, archive_cov = coverages(segments, fp.duration, duration, item.item_duration,
                                       query_still=False, item_still=False)
    edits = [Edit("audio_only", "only the soundtrack matches: the pictures are not the item's")]
    trim = trim_edit(segments, duration, archive_cov, WHOLE_ITEM)
    if trim is not None:
        edits.append(trim)
    seconds = sum(s.query_end - s.query_start for s in segments)
    # as sure as the sound is far from chance, and long enough to be more than a coincidence of a few seconds
    score = round(max(0.0, 1.0 - 2.0 * alignment.bit_error_rate) * min(1.0, seconds / 10.0), 4)
    return Match(sha256=sha, item_name=name, score=score, verdict=verdict(False, query_cov, archive_cov),
                 segments=segments, query_coverage=round(query_cov, 4), archive_coverage=round(archive_cov, 4),
                 speed=1.0, matched_frames=0, mean_distance=0.0, edits=tuple(edits), sightings=sightings,
                 matched_by="soundtrack", soundtrack=SoundtrackMatch(
                     status=SOUND_MATCHED, segments=segments, bit_error_rate=alignment.bit_error_rate,
                     fingerprint=SOUND_BY_CHROMAPRINT,
                     details="only the soundtrack matches"))
