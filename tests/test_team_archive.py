"""A team's archive under load, on real child processes: many writers and a reader at once, and writers
killed at random moments. Run on both stores; PostgreSQL is the team's (a real server, tests/postgres_server.py).

Each writer adds fingerprints one transaction each (``ArchiveStore.add``) and logs each add in the custody
log, as ``archive add`` does; items overlap between writers, so the same SHA-256 and the same sighting arrive
from several of them at once.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import count_rows, plain_query
from postgres_server import PostgresServer
from test_archive_location import COMMANDS, commands, copied_clip
from test_store import child_env, make_fp, wait_for

from provenance.archive.custody import verify_chain
from provenance.archive.store import ArchiveStore
from provenance.cli.app import cli
from provenance.codec import fingerprint_to_json
from provenance.errors import ArchiveError
from provenance.fingerprinting import analyse
from provenance.model import SamplingParams, Sighting

WRITER = """
import pathlib, sys, time
from provenance.archive.custody import Reading, append_entries
from provenance.archive.store import ArchiveStore
from provenance.codec import fingerprint_from_json
from provenance.model import Sighting

archive, fp_lines, ready, go, me = sys.argv[1:6]
fps = [fingerprint_from_json(line) for line in pathlib.Path(fp_lines).read_text().splitlines()]
pathlib.Path(ready).write_text("ready")
while not pathlib.Path(go).exists():
    time.sleep(0.002)
with ArchiveStore.open(archive) as store:
    for fp in fps:
        store.add(fp, [Sighting(label="team", source_url="https://example.org/" + fp.identity.name)])
        append_entries(store, [Reading(fp.identity.sha256, "/evidence/" + fp.identity.name)],
                       command="test writer " + me, examiner=me)
        print(fp.identity.sha256, flush=True)
"""

CHECKER = """
import json, pathlib, subprocess, sys
archive, clip, stop, out = sys.argv[1:5]
answers = []
while not pathlib.Path(stop).exists() or not answers:
    done = subprocess.run([sys.executable, "-m", "provenance", "check", "--archive", archive, "--json", clip],
                          capture_output=True, text=True)
    if done.returncode != 0:
        answers.append({"error": done.returncode, "stderr": done.stderr})
        break
    record = json.loads(done.stdout)
    answers.append([[m["sha256"], [[s["query_start"], s["query_end"], s["archive_start"], s["archive_end"]]
                                   for s in m["segments"]]] for m in record["matches"]])
pathlib.Path(out).write_text(json.dumps(answers))
"""

WRITERS, ITEMS, ROUNDS = 4, 50, 5


def round_items(round_no: int, writer: int) -> list[int]:
    """The seeds writer ``writer`` adds in round ``round_no``: 50, of which 10 are also the next writer's."""
    base = 10_000 * (round_no + 1) + 40 * writer
    return list(range(base, base + ITEMS))


@pytest.mark.slow
def test_four_writers_and_a_checker_five_rounds(archive_location: str, mandelbrot_clip: Path,
                                                tmp_path: Path) -> None:
    clip_analysis = analyse(str(mandelbrot_clip), SamplingParams(fps=2.0), features="archive")
    with ArchiveStore.open(archive_location) as store:
        store.add(clip_analysis.fingerprint, [Sighting(label="known")], clip_analysis.features)
    expected: set[str] = {clip_analysis.fingerprint.identity.sha256}
    adds = 0
    for round_no in range(ROUNDS):
        go, stop = tmp_path / f"go-{round_no}", tmp_path / f"stop-{round_no}"
        procs: list[subprocess.Popen[bytes]] = []
        readies = []
        try:
            for writer in range(WRITERS):
                seeds = round_items(round_no, writer)
                lines = tmp_path / f"fps-{round_no}-{writer}.jsonl"
                lines.write_text("\n".join(fingerprint_to_json(make_fp(s, frames=8)) for s in seeds))
                expected |= {make_fp(s).identity.sha256 for s in seeds}
                adds += len(seeds)
                ready = tmp_path / f"ready-{round_no}-{writer}"
                readies.append(ready)
                procs.append(subprocess.Popen(
                    [sys.executable, "-c", WRITER, archive_location, str(lines), str(ready), str(go), f"w{writer}"],
                    env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE))
            answers = tmp_path / f"answers-{round_no}.json"
            checker = subprocess.Popen([sys.executable, "-c", CHECKER, archive_location, str(mandelbrot_clip),
                                        str(stop), str(answers)], env=child_env(), stderr=subprocess.PIPE)
            for ready, proc in zip(readies, procs, strict=True):
                wait_for(ready, proc)
            go.write_text("go")
            for proc in procs:
                _out, err = proc.communicate(timeout=300)
                assert proc.returncode == 0, err.decode()
            stop.write_text("stop")
            assert checker.wait(timeout=300) == 0
        finally:
            for proc in [*procs, checker]:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
                if proc.stderr:
                    proc.stderr.close()
                if proc.stdout:
                    proc.stdout.close()
        seen = json.loads(answers.read_text())
        assert seen and all(a == seen[0] for a in seen), seen  # every check of the round answered the same
        assert seen[0] and seen[0][0][0] == clip_analysis.fingerprint.identity.sha256

        with ArchiveStore.open(archive_location, create=False) as store:
            shas = {i.sha256 for i in store.items()}
            assert shas == expected  # nothing lost, nothing extra
            assert store.generation() == len(expected)  # one bump per item created, none for a repeated add
            status = verify_chain(store)
            assert status.ok, status.reason
            checks = sum(1 for e in status_entries(store) if e == "provenance check")
            assert status.entries == adds + checks
    # nothing duplicated: one row per item, one sighting per (item, source), every frame once
    assert count_rows(archive_location, "items") == len(expected)
    assert count_rows(archive_location, "sightings") == len(expected)
    assert count_rows(archive_location, "frames") == 8 * (len(expected) - 1) + len(clip_analysis.fingerprint.frames)


def status_entries(store: ArchiveStore) -> list[str]:
    """The command of every custody entry, in order."""
    from provenance.archive.custody import custody_entries

    return [e.command for e in custody_entries(store)]


KILLED_WRITER = """
import pathlib, sys
from provenance.archive.store import ArchiveStore
from provenance.codec import fingerprint_from_json
from provenance.model import Sighting

archive, fp_lines = sys.argv[1:3]
with ArchiveStore.open(archive) as store:
    print("open", flush=True)
    for line in pathlib.Path(fp_lines).read_text().splitlines():
        fp = fingerprint_from_json(line)
        result = store.add(fp, [Sighting(label="batch")])
        print("added" if result.created else "known", flush=True)
"""


@pytest.mark.slow
def test_kill_9_at_random_moments_leaves_no_partial_item_and_the_rerun_finishes(
        archive_location: str, tmp_path: Path) -> None:
    fps = [make_fp(50_000 + k, frames=5_000) for k in range(30)]
    lines = tmp_path / "batch.jsonl"
    lines.write_text("\n".join(fingerprint_to_json(fp) for fp in fps))
    with ArchiveStore.open(archive_location):
        pass  # created before the first child, so each kill lands in adding, not in creating
    rng = random.Random(20)
    archived, mid_batch = 0, 0
    for _ in range(20):
        proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, archive_location, str(lines)],
                                env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        assert proc.stdout is not None
        # killed after a random number of new items (0: while opening or in the first add), a random moment
        # into the next add: inside its transaction or between two
        new_items = rng.randint(0, 2)
        seen = 0
        while seen < new_items and (line := proc.stdout.readline()):
            seen += line == b"added\n"
        time.sleep(rng.uniform(0.0, 0.05))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
        if proc.stderr:
            proc.stderr.close()
        now = assert_items_complete(archive_location, fps)
        assert now >= archived  # nothing committed is lost
        mid_batch += now < len(fps)
        archived = now
    assert mid_batch >= 15  # the kills landed mid-batch, not after it was done
    done = subprocess.run([sys.executable, "-c", KILLED_WRITER, archive_location, str(lines)], env=child_env(),
                          capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode()
    assert assert_items_complete(archive_location, fps) == len(fps)
    assert count_rows(archive_location, "sightings") == len(fps)  # each once, however often it was re-sent


def assert_items_complete(location: str, fps: list) -> int:
    """Check that every archived item of ``fps`` has all its frames, hashes and its sighting (no partial
    item); return how many are archived."""
    by_sha = {fp.identity.sha256: fp for fp in fps}
    rows = plain_query(location, "SELECT i.sha256, (SELECT count(*) FROM frames f WHERE f.item_id = i.id), "
                                 "(SELECT count(*) FROM item_hashes h WHERE h.item_id = i.id), "
                                 "(SELECT count(*) FROM sightings s WHERE s.item_id = i.id) FROM items i")
    for sha, frames, hashes, sightings in rows:
        fp = by_sha[sha]
        assert (frames, hashes, sightings) == (len(fp.frames), len(fp.hash_algorithms), 1), sha
    assert count_rows(location, "frames") == sum(len(by_sha[r[0]].frames) for r in rows)
    generation = plain_query(location, "SELECT value FROM meta WHERE key = 'generation'")[0][0]
    assert int(generation) == len(rows)
    return len(rows)


def test_a_check_against_the_team_archive_logs_custody_in_its_chain(
        archive_location: str, mandelbrot_clip: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    added = runner.invoke(cli, ["archive", "add", "--archive", archive_location, str(mandelbrot_clip)])
    assert added.exit_code == 0, added.output
    checked = runner.invoke(cli, ["check", "--archive", archive_location, "--json", str(mandelbrot_clip)])
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.stdout)["matches"]
    verified = runner.invoke(cli, ["custody", "--archive", archive_location, "--verify"])
    assert verified.exit_code == 0 and "custody log intact: 2 entries" in verified.output, verified.output


def test_a_read_only_analyst_checks_and_is_refused_adding(postgres_server: PostgresServer, mandelbrot_clip: Path,
                                                          testsrc_clip: Path, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    owner = postgres_server.new_database()
    runner = CliRunner()
    assert runner.invoke(cli, ["archive", "add", "--archive", owner, str(mandelbrot_clip)]).exit_code == 0
    role = f"analyst_{uuid.uuid4().hex[:8]}"
    # as the README shows it: a login role that may only read the archive's tables
    postgres_server.sql(owner, f"CREATE ROLE {role} LOGIN")
    postgres_server.sql(owner, f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {role}")
    analyst = owner.replace("postgresql://postgres@", f"postgresql://{role}@")

    checked = runner.invoke(cli, ["check", "--archive", analyst, "--json", str(mandelbrot_clip)])
    assert checked.exit_code == 0, checked.output
    record = json.loads(checked.stdout)
    assert record["matches"] and record["matches"][0]["verdict"] == "identical"
    assert any(w.startswith("custody not logged: cannot write the custody log: your database role may only read")
               for w in record["warnings"]), record["warnings"]
    listed = runner.invoke(cli, ["archive", "list", "--archive", analyst])
    assert listed.exit_code == 0 and "1 item(s)" in listed.output
    verified = runner.invoke(cli, ["custody", "--archive", analyst, "--verify"])
    assert verified.exit_code == 0 and "custody log intact: 1 entries" in verified.output, verified.output

    refused = runner.invoke(cli, ["archive", "add", "--archive", analyst, str(testsrc_clip)])
    said = (refused.stdout + refused.stderr).strip()
    assert refused.exit_code == 5 and len(said.splitlines()) == 1, said
    assert "your database role may only read the archive" in said and "ask its owner for write rights" in said
    removed = runner.invoke(cli, ["archive", "remove", "--archive", analyst, record["sha256"][:12]])
    assert removed.exit_code == 5 and "may only read" in removed.output
    clips = tmp_path / "clips"
    clips.mkdir()
    (clips / "clip.mp4").write_bytes(mandelbrot_clip.read_bytes())
    for args in (["triage", "--archive", analyst, "--out", str(tmp_path / "triage"), str(clips)],
                 ["report", "--archive", analyst, "--out", str(tmp_path / "report"), str(mandelbrot_clip)],
                 ["custody", "--archive", analyst, str(mandelbrot_clip)]):
        result = runner.invoke(cli, args)
        said = (result.stdout + result.stderr).strip()
        assert result.exit_code == 5 and "your database role may only read the archive" in said, (args, said)
        assert len(said.splitlines()) == 1, said
    copied = runner.invoke(cli, ["archive", "copy", "--from", analyst, "--to", str(tmp_path / "mine.sqlite")])
    assert copied.exit_code == 0, copied.output
    assert count_rows(owner, "items") == 1


def test_a_password_in_the_url_is_never_shown_nor_written(postgres_server: PostgresServer, mandelbrot_clip: Path,
                                                          tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    secret = "s3cret-Pw"
    plain = postgres_server.new_database()
    role = f"desk_{uuid.uuid4().hex[:8]}"
    postgres_server.sql(plain, f"CREATE ROLE {role} LOGIN PASSWORD '{secret}' SUPERUSER")
    url = postgres_server.tcp_url(plain, role, secret)  # over TCP, where the server asks for the password
    out = tmp_path / "out"
    clips = tmp_path / "clips"
    clips.mkdir()
    (clips / "clip.mp4").write_bytes(mandelbrot_clip.read_bytes())
    runner = CliRunner()
    said = []
    for args in (["archive", "add", "--archive", url, str(mandelbrot_clip)],
                 ["check", "--archive", url, str(mandelbrot_clip)],
                 ["check", "--archive", url, "--json", str(mandelbrot_clip)],
                 ["archive", "list", "--archive", url], ["archive", "stats", "--archive", url],
                 ["custody", "--archive", url], ["custody", "--archive", url, "--verify"],
                 ["report", "--archive", url, "--out", str(out / "report"), str(mandelbrot_clip)],
                 ["triage", "--archive", url, "--out", str(out / "triage"), str(clips)],
                 ["archive", "copy", "--from", url, "--to", str(out / "copy.sqlite")],
                 ["archive", "show", "--archive", url, "00"]):
        result = runner.invoke(cli, args)
        said.append(result.stdout + result.stderr)
        assert result.exit_code in (0, 2), (args, result.output)
    assert f"postgresql://{role}:***@" in "".join(said)
    assert not [text for text in said if secret in text]
    written = [p for p in out.rglob("*") if p.is_file()]
    assert len(written) > 5
    assert not [p for p in written if secret.encode() in p.read_bytes()]
    logged = plain_query(plain, "SELECT examiner, command, path, case_id FROM custody") + plain_query(
        plain, "SELECT key, value FROM meta")
    assert logged and secret not in repr(logged)


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_that_takes_an_archive_works_on_the_team_archive(
        name: str, postgres_server: PostgresServer, mandelbrot_clip: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    url = postgres_server.new_database()
    clip = copied_clip(tmp_path, mandelbrot_clip)
    runner = CliRunner()
    if name != "archive add":
        assert runner.invoke(cli, ["archive", "add", "--archive", url, str(clip)]).exit_code == 0
    result = runner.invoke(cli, [*commands(clip, tmp_path)[name], "--archive", url])
    said = (result.stdout + result.stderr).strip()
    if name in ("archive show", "archive remove"):  # abc123 is no item's SHA-256
        assert result.exit_code == 2 and said.splitlines()[-1].endswith("no archived item with SHA-256 abc123"), said
    else:
        assert result.exit_code == 0, said
    with ArchiveStore.open(url, create=False) as store:
        assert verify_chain(store).ok
        assert len(store.items()) == (2 if name == "archive import-hashes" else 1)  # the clip was archived first


def test_a_password_from_pgpass_and_a_refused_one(postgres_server: PostgresServer, mandelbrot_clip: Path,
                                                   tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    plain = postgres_server.new_database()
    role = f"desk_{uuid.uuid4().hex[:8]}"
    postgres_server.sql(plain, f"CREATE ROLE {role} LOGIN PASSWORD 'from-the-file'")
    postgres_server.sql(plain, f"GRANT ALL ON SCHEMA public TO {role}")
    url = postgres_server.tcp_url(plain, role)  # no password in the URL
    database = url.rsplit("/", 1)[1]
    runner = CliRunner()
    monkeypatch.setenv("PGPASSFILE", str(tmp_path / "absent"))
    refused = runner.invoke(cli, ["archive", "add", "--archive", url, str(mandelbrot_clip)])
    said = (refused.stdout + refused.stderr).strip()
    assert refused.exit_code == 5 and len(said.splitlines()) == 1, said
    assert said.startswith(f"provenance: error: cannot connect to the archive {url}: ") and "password" in said
    pgpass = tmp_path / "pgpass"
    pgpass.write_text(f"127.0.0.1:{postgres_server.port}:{database}:{role}:from-the-file\n")
    pgpass.chmod(0o600)
    monkeypatch.setenv("PGPASSFILE", str(pgpass))
    added = runner.invoke(cli, ["archive", "add", "--archive", url, str(mandelbrot_clip)])
    assert added.exit_code == 0, added.output
    wrong = postgres_server.tcp_url(plain, role, "wrong-Pw")
    denied = runner.invoke(cli, ["check", "--archive", wrong, str(mandelbrot_clip)])
    said = (denied.stdout + denied.stderr).strip()
    assert denied.exit_code == 5 and len(said.splitlines()) == 1 and "wrong-Pw" not in said, said
    assert f"postgresql://{role}:***@127.0.0.1" in said and "password authentication failed" in said


def test_a_database_of_another_program_is_refused_and_left_alone(postgres_server: PostgresServer,
                                                                 tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    other = postgres_server.new_database()
    plain_query(other, "CREATE TABLE invoices (id integer PRIMARY KEY, total numeric)")
    result = CliRunner().invoke(cli, ["archive", "add", "--archive", other, str(tmp_path)])
    said = (result.stdout + result.stderr).strip()
    assert result.exit_code == 5 and len(said.splitlines()) == 1, said
    assert "holds 1 table(s) of another program, not a provenance archive" in said
    assert plain_query(other, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'") == [("invoices",)]
    with pytest.raises(ArchiveError, match="no archive at"):  # and an empty database is no archive to read
        ArchiveStore.open(postgres_server.new_database(), create=False)
