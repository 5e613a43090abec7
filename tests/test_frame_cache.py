"""The archive's searchable frames kept beside it (``ARCHIVE.frames``): same frames as SQLite gives,
rebuilt when the archive changes or the folder is damaged, and checks that answer the same with it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import plain_query, run_ffmpeg
from hypothesis import given, settings
from hypothesis import strategies as st

from provenance.archive import frame_cache
from provenance.archive.frame_cache import frames_from_table, load_frames, open_archive_frames, save_frames, state_key
from provenance.archive.searchable import ArchiveFrames
from provenance.archive.side_files import frames_folder
from provenance.archive.store import ArchiveStore, UsableFrames
from provenance.cli.app import cli
from provenance.fingerprinting import fingerprint
from provenance.hashing.pdq import MIN_QUALITY


def same_frames(a: ArchiveFrames, b: ArchiveFrames) -> bool:
    """Every field equal, arrays by value."""
    arrays = all(np.array_equal(getattr(a, f), getattr(b, f)) for f in ("item_rows", "times", "pdq"))
    facts = all(getattr(a, f) == getattr(b, f) for f in ("sha256", "names", "durations", "stills", "boxes_full", "ids"))
    return arrays and facts


@pytest.fixture()
def archive(archive_location: str, mandelbrot_clip: Path) -> str:
    """An archive of one clip, on each store."""
    with ArchiveStore.open(archive_location) as store:
        store.add(fingerprint(str(mandelbrot_clip)))
    return archive_location


def frames_dir(archive: str) -> Path:
    """Where the archive's frames are kept: beside a SQLite file, in this machine's cache for PostgreSQL."""
    with ArchiveStore.open(archive, create=False) as store:
        return frames_folder(store.path)


def test_frames_are_kept_and_reopened_as_read(archive: str) -> None:
    folder = frames_dir(archive)
    with ArchiveStore.open(archive, create=False) as store:
        kept = open_archive_frames(store)
        first = kept.frames
        key = kept.key
        fresh = frames_from_table(store.frame_table())
        assert key == state_key(store.archive_id(), store.generation())
    assert folder.is_dir() and (folder / "key").read_text() == f"{frame_cache.FORMAT}:{key}"
    assert same_frames(first, fresh) and len(first.pdq) > 0 and first.ids
    stamp = (folder / "key").stat().st_mtime_ns
    with ArchiveStore.open(archive, create=False) as store:
        kept = open_archive_frames(store)
        again = kept.frames
        again_key = kept.key
    assert again_key == key and (folder / "key").stat().st_mtime_ns == stamp  # opened, not rewritten
    assert isinstance(again.pdq, np.memmap) and same_frames(again, fresh)


def test_a_changed_archive_is_read_again(archive: str, testsrc_clip: Path) -> None:
    with ArchiveStore.open(archive, create=False) as store:
        kept = open_archive_frames(store)
        before = kept.frames
        old_key = kept.key
        store.add(fingerprint(str(testsrc_clip)))
        kept = open_archive_frames(store)
        grown = kept.frames
        new_key = kept.key
        assert new_key != old_key and len(grown.ids) == 2 and len(grown.pdq) > len(before.pdq)
        assert same_frames(grown, frames_from_table(store.frame_table()))
        store.remove(grown.sha256[0])
        shrunk = open_archive_frames(store).frames
        assert shrunk.sha256 == grown.sha256[1:]
        assert same_frames(shrunk, frames_from_table(store.frame_table()))


def test_a_damaged_folder_is_rebuilt(archive: str) -> None:
    folder = frames_dir(archive)
    with ArchiveStore.open(archive, create=False) as store:
        kept = open_archive_frames(store)
        key = kept.key
        fresh = frames_from_table(store.frame_table())
        (folder / "pdq.npy").write_bytes(b"not an npy file")
        assert load_frames(folder, key) is None
        again = open_archive_frames(store).frames
    assert same_frames(again, fresh) and load_frames(folder, key) is not None
    (folder / "name_ends.npy").write_bytes((folder / "durations.npy").read_bytes()[:-8])  # a short array
    assert load_frames(folder, key) is None


def test_an_unwritable_folder_still_gives_the_frames(archive: str, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(folder: Path, key: str, arrays: dict[str, np.ndarray]) -> None:
        raise PermissionError(13, "Permission denied", str(folder))

    monkeypatch.setattr(frame_cache, "save_arrays", refuse)
    with ArchiveStore.open(archive, create=False) as store:
        frames = open_archive_frames(store).frames
        assert same_frames(frames, frames_from_table(store.frame_table()))
    assert not frames_dir(archive).exists()


names = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)


@settings(max_examples=60, deadline=None)
@given(
    items=st.lists(st.tuples(names, st.floats(0, 1e6, allow_nan=False), st.booleans(), st.booleans()), max_size=6),
    frames_per_item=st.integers(0, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_frames_round_trip_through_the_folder(tmp_path_factory: pytest.TempPathFactory, items: list,
                                              frames_per_item: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = len(items) * frames_per_item
    frames = ArchiveFrames(
        item_rows=np.repeat(np.arange(len(items), dtype=np.int64), frames_per_item),
        times=rng.random(n) * 100, pdq=rng.integers(0, 256, (n, 32), dtype=np.uint8),
        sha256=tuple(f"{rng.integers(0, 2**63):064x}" for _ in items), names=tuple(i[0] for i in items),
        durations=tuple(i[1] for i in items), stills=tuple(i[2] for i in items),
        boxes_full=tuple(i[3] for i in items), ids=tuple(int(x) for x in rng.permutation(1000)[: len(items)] + 1))
    folder = tmp_path_factory.mktemp("frames") / "a.sqlite.frames"
    save_frames(folder, "id:1:q", frames)
    back = load_frames(folder, "id:1:q")
    assert back is not None and same_frames(back, frames)
    assert load_frames(folder, "id:2:q") is None  # another archive state


def test_check_answers_the_same_from_the_kept_frames(tmp_path: Path, mandelbrot_clip: Path, testsrc_clip: Path) -> None:
    archive = str(tmp_path / "a.sqlite")
    runner = CliRunner()
    added = runner.invoke(cli, ["archive", "add", "--archive", archive, str(mandelbrot_clip), str(testsrc_clip)])
    assert added.exit_code == 0
    first = runner.invoke(cli, ["check", "--archive", archive, "--json", str(mandelbrot_clip)], catch_exceptions=False)
    assert Path(f"{archive}.frames", "key").exists()
    second = runner.invoke(cli, ["check", "--archive", archive, "--json", str(mandelbrot_clip)], catch_exceptions=False)
    one, two = json.loads(first.stdout), json.loads(second.stdout)
    assert one["matches"] == two["matches"] and one["matches"][0]["verdict"] == "identical"


class Reads:
    """Records the ``after_item`` of every read of a store's usable frames (the reads themselves are real)."""

    def __init__(self, store: ArchiveStore, monkeypatch: pytest.MonkeyPatch) -> None:
        self.after: list[int] = []
        read = store.usable_frames

        def recorded(min_quality: int, after_item: int = 0) -> UsableFrames:
            self.after.append(after_item)
            return read(min_quality, after_item)

        monkeypatch.setattr(store, "usable_frames", recorded)


def test_items_added_since_are_read_alone(archive: str, testsrc_clip: Path, still_jpeg: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    with ArchiveStore.open(archive, create=False) as store:
        fresh_read = store.frame_table
        reads = Reads(store, monkeypatch)
        open_archive_frames(store)
        store.add(fingerprint(str(testsrc_clip)))
        store.add(fingerprint(str(still_jpeg)))
        kept = open_archive_frames(store)
        grown = kept.frames
        key = kept.key
        assert reads.after == [0, 1]  # everything once, then only the items after item 1
        assert key == state_key(store.archive_id(), store.generation()) and len(grown.ids) == 3
        assert same_frames(grown, frames_from_table(fresh_read()))
        assert grown.stills == (False, False, True)


@pytest.mark.parametrize(("removed", "marked"), [(1, True), (0, False)])
def test_a_removal_makes_the_next_read_whole(archive: str, testsrc_clip: Path, still_jpeg: Path,
                                             monkeypatch: pytest.MonkeyPatch, removed: int, marked: bool) -> None:
    """Removing the item with the highest id lets the next item added take its id: the mark in meta tells.
    Without the mark (an older version of the tool removed it), the count of the items before tells.
    (PostgreSQL never gives an id twice.)"""
    with ArchiveStore.open(archive, create=False) as store:
        fresh_read = store.frame_table
        store.add(fingerprint(str(testsrc_clip)))
        reads = Reads(store, monkeypatch)
        before = open_archive_frames(store).frames
        store.remove(before.sha256[removed])
        if not marked:
            plain_query(archive, "DELETE FROM meta WHERE key = 'removed_generation'")
        store.add(fingerprint(str(still_jpeg)))
        after = open_archive_frames(store).frames
        assert reads.after[-2:] == [before.ids[-1], 0]  # the removal seen, so read whole
        assert same_frames(after, frames_from_table(fresh_read())) and len(after.ids) == 2
        reused = removed == 1 and not archive.startswith("postgresql://")
        assert (after.ids == before.ids) == reused  # the highest id taken again, on SQLite


def test_flat_frames_are_left_out_as_the_full_read_leaves_them(tmp_path: Path, archive: str) -> None:
    """A clip that fades to black: its flat frames (PDQ quality below MIN_QUALITY) are not searchable."""
    clip = tmp_path / "fade.mp4"
    run_ffmpeg("-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25:duration=3", "-f", "lavfi", "-i",
               "color=black:size=160x120:rate=25:duration=3", "-filter_complex", "[0:v][1:v]concat=n=2:v=1[v]",
               "-map", "[v]", "-c:v", "libx264", "-pix_fmt", "yuv420p", str(clip))
    with ArchiveStore.open(archive, create=False) as store:
        store.add(fingerprint(str(clip)))
        table = store.frame_table()
        assert (table.quality < MIN_QUALITY).any() and (table.quality >= MIN_QUALITY).any()
        kept = open_archive_frames(store).frames
        assert same_frames(kept, frames_from_table(table))
        assert len(kept.pdq) == int((table.quality >= MIN_QUALITY).sum())
