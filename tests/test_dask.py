"""``triage --dask``: the file work on a real ``distributed.LocalCluster`` (processes, 2 workers) gives the
rows of a local run; a worker killed mid-batch loses and doubles nothing; workers of another provenance
version are refused."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import signal
import sqlite3
import sys
from dataclasses import replace
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import X264, run_ffmpeg
from postgres_server import PostgresServer
from test_triage import interrupt_after, journal_rows

from provenance.archive.copy import copy_between
from provenance.archive.store import ArchiveStore
from provenance.cli.app import cli
from provenance.ingest.add import add_files
from provenance.triage import Progress, triage
from provenance.version import __version__

distributed = pytest.importorskip("distributed", reason="dask[distributed] is not installed (the test extra)")


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory, mandelbrot_clip: Path, testsrc_clip: Path,
          still_jpeg: Path) -> dict[str, Path]:
    """An archive of the mandelbrot clip, and a folder of downloads: a trim and a mirrored copy of it, the
    testsrc clip twice (one content), a still, a fresh clip, and a file that is not readable media."""
    base = tmp_path_factory.mktemp("dask")
    folder = base / "downloads"
    folder.mkdir()
    run_ffmpeg("-ss", "2", "-t", "6", "-i", str(mandelbrot_clip), "-vf", "scale=240:180", *X264,
               str(folder / "trim.mp4"))
    run_ffmpeg("-i", str(mandelbrot_clip), "-vf", "hflip", *X264, str(folder / "mirrored.mp4"))
    (folder / "testsrc.mp4").write_bytes(testsrc_clip.read_bytes())
    (folder / "testsrc copy.mp4").write_bytes(testsrc_clip.read_bytes())
    (folder / "still.jpg").write_bytes(still_jpeg.read_bytes())
    run_ffmpeg("-f", "lavfi", "-i", "life=size=320x240:rate=25:seed=5", "-t", "4", *X264, str(folder / "life.mp4"))
    (folder / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 200)
    archive = base / "archive.sqlite"
    assert add_files(str(archive), [str(mandelbrot_clip)]).failed == 0
    local = base / "local"
    result = CliRunner().invoke(cli, ["triage", str(folder), "--archive", str(archive), "--out", str(local),
                                      "--jobs", "2"])
    assert result.exit_code == 4, result.output  # the broken file is an error row
    return {"base": base, "folder": folder, "archive": archive, "local": local}


def summary(out: Path) -> list[dict[str, str]]:
    """The rows of a triage's summary.csv."""
    return list(csv.DictReader(io.StringIO((out / "summary.csv").read_text(encoding="utf-8"), newline="")))


def matches(out: Path) -> dict[str, object]:
    """Each file's frame hashes, matches and verdict from its report, by file name."""
    found = {}
    for row in summary(out):
        if row["report"]:
            record = json.loads((out / row["report"]).read_text(encoding="utf-8"))
            found[Path(row["path"]).name] = (record.get("frames"), record.get("matches"), record["triage"]["verdict"])
    return found


@pytest.fixture(scope="module")
def cluster() -> distributed.LocalCluster:
    """A LocalCluster of 2 worker processes, one thread each, as ``local:2`` starts them."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=50) as made:
        yield made


def test_triage_on_a_local_cluster_gives_the_rows_of_a_local_run(batch: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "dask"
    result = CliRunner().invoke(cli, ["triage", str(batch["folder"]), "--archive", str(batch["archive"]),
                                      "--out", str(out), "--dask", "local:2"])
    assert result.exit_code == 4, result.output
    assert summary(out) == summary(batch["local"])
    assert matches(out) == matches(batch["local"])
    assert len(summary(out)) == 7
    # each file's record names the Dask worker that analysed it, and the versions there
    workers = {json.loads((out / r["report"]).read_text(encoding="utf-8"))["triage"]["worker"]["name"]
               for r in summary(out) if r["verdict"] != "error"}
    local = {json.loads((batch["local"] / r["report"]).read_text(encoding="utf-8"))["triage"]["worker"]["name"]
             for r in summary(batch["local"]) if r["verdict"] != "error"}
    assert all(w.startswith("tcp://127.0.0.1:") for w in workers) and 1 <= len(workers) <= 2
    assert all(not w.startswith("tcp://") and ":" in w for w in local)  # HOST:PID of a local process
    first = next(r for r in summary(out) if r["verdict"] != "error")
    record = json.loads((out / first["report"]).read_text(encoding="utf-8"))
    assert record["triage"]["worker"]["versions"]["provenance"] == __version__
    assert record["triage"]["worker"]["versions"]["numpy"]


def test_a_worker_killed_mid_batch_loses_nothing_and_doubles_nothing(
        batch: dict[str, Path], cluster: distributed.LocalCluster, tmp_path: Path) -> None:
    with distributed.Client(cluster) as client:
        pids = client.run(os.getpid)
    victim = sorted(pids.values())[0]
    killed: list[int] = []

    def kill_once(progress: Progress) -> None:
        if progress.done >= 1 and not killed:  # files are in flight on both workers: one dies under its task
            os.kill(victim, signal.SIGKILL)
            killed.append(victim)

    out = tmp_path / "killed"
    result = triage([str(batch["folder"])], str(out), str(batch["archive"]), progress=kill_once,
                    dask=cluster.scheduler_address)
    assert killed
    assert summary(out) == summary(batch["local"])
    assert sorted(r.path for r in result.rows) == sorted(r["path"] for r in summary(batch["local"]))
    with contextlib.closing(sqlite3.connect(out / "journal.sqlite")) as journal:  # each content journaled once
        (contents,) = journal.execute("SELECT count(*) FROM contents").fetchone()
        (paths,) = journal.execute("SELECT count(*) FROM paths").fetchone()
    assert (contents, paths) == (6, 7)


def _pretend_version() -> None:
    import provenance.version

    provenance.version.__version__ = "0.0.0-other"


def test_workers_of_another_version_are_refused(batch: dict[str, Path], tmp_path: Path) -> None:
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0",
                                  silence_logs=50) as other, distributed.Client(other) as client:
        client.run(_pretend_version)
        result = CliRunner().invoke(cli, ["triage", str(batch["folder"]), "--archive", str(batch["archive"]),
                                          "--out", str(tmp_path / "out"), "--dask", other.scheduler_address])
    said = (result.stdout + result.stderr).strip()
    assert result.exit_code == 2 and len(said.splitlines()) == 1, said
    assert "workers of another provenance version are refused" in said and "runs 0.0.0-other" in said
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("spec", ["lokal", "local:0", "http://scheduler:8786"])
def test_a_bad_cluster_is_one_line_exit_2(batch: dict[str, Path], tmp_path: Path, spec: str) -> None:
    result = CliRunner().invoke(cli, ["triage", str(batch["folder"]), "--archive", str(batch["archive"]),
                                      "--out", str(tmp_path / "out"), "--dask", spec])
    said = (result.stdout + result.stderr).strip()
    assert result.exit_code == 2 and len(said.splitlines()) == 1 and f"--dask {spec}" in said, said


def test_archive_add_on_a_cluster_gives_the_archive_of_a_local_run(batch: dict[str, Path],
                                                                  cluster: distributed.LocalCluster,
                                                                  tmp_path: Path) -> None:
    files = sorted(str(p) for p in batch["folder"].iterdir())
    runs = {}
    for name, extra in (("local", []), ("dask", ["--dask", cluster.scheduler_address]),
                        ("shipped", ["--dask", cluster.scheduler_address, "--ship"])):
        archive = tmp_path / f"{name}.sqlite"
        result = CliRunner().invoke(cli, ["archive", "add", "--archive", str(archive), "--json", *extra, *files])
        assert result.exit_code == 4, result.output  # the broken file fails alone
        listed = json.loads(result.stdout)["files"]
        with ArchiveStore.open(archive, create=False) as store:
            items = [(i.sha256, i.name, i.frames) for i in store.items()]
            fps = [store.get(sha).fingerprint for sha, _, _ in items]
            features = [len(store.features_of(sha)) for sha, _, _ in items]
            pictures = [store.pictures(sha) for sha, _, _ in items]
        runs[name] = ([(f["path"], f["sha256"], f["created"], f["error"]) for f in listed], items, fps, features,
                      pictures)
    # the same records, identity and ffprobe's filename included (the shipped ones analysed from a copy),
    # but for the file's access time, which each reading of it may move
    for name in ("dask", "shipped"):
        listed, items, fps, features, pictures = runs[name]
        assert (listed, items, features, pictures) == runs["local"][:2] + runs["local"][3:], name
        for mine, theirs in zip(fps, runs["local"][2], strict=True):
            assert replace(mine, identity=replace(mine.identity, accessed="")) == replace(
                theirs, identity=replace(theirs.identity, accessed="")), name
    assert len(runs["local"][0]) == 7 and len(runs["local"][1]) == 5  # two copies are one item; one is no media


def test_a_client_killed_mid_batch_resumes_from_the_journal(batch: dict[str, Path],
                                                           cluster: distributed.LocalCluster,
                                                           tmp_path: Path) -> None:
    out = tmp_path / "resumed"
    args = [sys.executable, "-m", "provenance", "triage", str(batch["folder"]), "--archive", str(batch["archive"]),
            "--out", str(out), "--dask", cluster.scheduler_address]
    code, err = interrupt_after(args, out, 2, signal.SIGKILL)  # kill -9 of the client, the workers live on
    assert code == -signal.SIGKILL, err
    before = {r[0]: r[1:] for r in journal_rows(out, "SELECT sha256, run_id, started_at, finished_at FROM contents")}
    assert 2 <= len(before) < 6
    resumed = CliRunner().invoke(cli, ["triage", str(batch["folder"]), "--archive", str(batch["archive"]),
                                       "--out", str(out), "--dask", cluster.scheduler_address])
    assert resumed.exit_code == 4, resumed.output
    assert f"({len(before)} done before)" in resumed.output
    after = {r[0]: r[1:] for r in journal_rows(out, "SELECT sha256, run_id, started_at, finished_at FROM contents")}
    assert all(after[sha] == entry for sha, entry in before.items())  # nothing redone
    assert summary(out) == summary(batch["local"])


def test_shipped_files_give_the_rows_of_a_local_run_against_the_team_archive(
        batch: dict[str, Path], cluster: distributed.LocalCluster, postgres_server: PostgresServer, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    team = postgres_server.new_database()
    copy_between(str(batch["archive"]), team)
    runs = {}
    for name, extra in (("local", ["--jobs", "2"]), ("shipped", ["--dask", cluster.scheduler_address, "--ship"])):
        out = tmp_path / name
        result = CliRunner().invoke(cli, ["triage", str(batch["folder"]), "--archive", team, "--out", str(out), *extra])
        assert result.exit_code == 4, result.output
        runs[name] = out
    assert summary(runs["shipped"]) == summary(runs["local"])
    assert matches(runs["shipped"]) == matches(runs["local"])
    paths_of: dict[str, set[str]] = {}
    for row in summary(runs["local"]):
        paths_of.setdefault(row["sha256"], set()).add(row["path"])
    for row in summary(runs["shipped"]):
        if row["verdict"] != "error":  # the record tells of the evidence file, not of the worker's copy
            shipped = json.loads((runs["shipped"] / row["report"]).read_text(encoding="utf-8"))
            local = json.loads((runs["local"] / row["report"]).read_text(encoding="utf-8"))
            # but for the access time, which each reading of the file may move (relatime)
            assert {**shipped["file"], "accessed": ""} == {**local["file"], "accessed": ""}
            assert shipped["warnings"] == local["warnings"]
            # ffprobe names the copy of the content that was decoded: with byte-identical copies, whichever was
            # hashed first, in either mode; it is always one of the evidence paths, never the worker's copy
            named = {run: record["ffprobe"]["format"].pop("filename") for run, record in (("shipped", shipped),
                                                                                        ("local", local))}
            assert shipped["ffprobe"] == local["ffprobe"]
            assert {name.removeprefix("file:") for name in named.values()} <= paths_of[row["sha256"]], named
            if len(paths_of[row["sha256"]]) == 1:
                assert named["shipped"] == named["local"]


def test_shipped_bytes_that_do_not_hash_as_sent_are_refused(batch: dict[str, Path]) -> None:
    from provenance.distributed.shipping import DAMAGED
    from provenance.media.identity import file_identity
    from provenance.triage.results import AnalyseTask
    from provenance.triage.worker import analyse_shipped

    path = batch["folder"] / "trim.mp4"
    identity = file_identity(str(path))
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01  # one bit flipped on the way
    result = analyse_shipped(AnalyseTask(str(path), identity.sha256, None), bytes(data), identity)
    assert result.error == DAMAGED and result.fingerprint is None


@pytest.mark.parametrize(("extra", "said"), [(["--ship"], "give --dask too"),
                                             (["--ship", "--dask", "local:1"], "give a PostgreSQL team archive")])
def test_ship_needs_dask_and_a_team_archive(batch: dict[str, Path], tmp_path: Path, extra: list[str],
                                            said: str) -> None:
    result = CliRunner().invoke(cli, ["triage", str(batch["folder"]), "--archive", str(batch["archive"]),
                                      "--out", str(tmp_path / "out"), *extra])
    shown = (result.stdout + result.stderr).strip()
    assert result.exit_code == 2 and len(shown.splitlines()) == 1 and said in shown, shown
    assert not (tmp_path / "out").exists()
