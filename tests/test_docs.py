"""The README works as printed, and the help says what the README does (after sqlite-utils' test_docs.py).

- The shell examples of the README's command sections run in order, as a reader pasting them
  would, in a temporary folder holding the sample media under the names the examples use.
- Every command that ``provenance --help`` lists has a README section.
- ``provenance --help`` and every command's help end with a table of the exit codes it can return.
- ``scripts/setup.sh`` run again installs nothing, so it works without a network.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from provenance.cli.app import cli
from provenance.errors import EXIT_CODES

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MEDIA = ROOT / "samples" / "media"

NOT_EXAMPLES = {
    "": "the two set-up commands at the top, which CI and the reader run themselves",
    "Install by hand": "installs OS packages as root",
    "Speed and scale (`bench/`)": "benchmarks that run for minutes and print figures",
    "A team archive on PostgreSQL": "needs a PostgreSQL server at db.desk; tests/test_team_archive.py and "
                                    "tests/test_archive_copy.py run the same commands against a throwaway one",
    "Many machines: `triage --dask`": "starts a Dask scheduler and workers that run until stopped; "
                                      "tests/test_dask.py runs triage on a LocalCluster",
}
"""Sections whose ```bash blocks are not examples to run, and why. Every other block is run."""

SKIPPED = {
    "provenance verify reports/clip.mp4.provenance.json clip.mp4 --key ~/keys/desk.pub --tsa-ca tsa-ca.pem":
        "needs a time-stamping authority's reply (.tsr), which only an exchange over the network gives; "
        "tests/test_evidence.py checks --tsa-ca against a local OpenSSL authority",
    **dict.fromkeys([
        "provenance fetch --into footage/ https://www.youtube.com/watch?v=dQw4w9WgXcQ",
        "provenance fetch --into footage/ --archive cases.sqlite https://t.me/harbourwatch/4411 "
        "https://x.com/harbourwatch/status/1760000000000000001",
        "provenance fetch --into footage/ --json https://example.org/clip.mp4 > fetched.json"],
        "downloads from the internet, which the tests never reach; tests/test_fetch.py runs fetch against a "
        "local HTTP server"),
}
"""Example commands this test cannot run as printed, and why."""

EXPECTED_EXIT = {
    "provenance check clip.mp4 --archive cases.sqlite --fail-on-match": 1,  # clip.mp4 is a clip of video1.mp4
}
"""Examples that exit with another code than 0, as their comment says."""

TRUSTED_KEYS = ".config/provenance/trusted_keys"
"""Where, under HOME, a verifier adds the line ``provenance keygen`` prints last (README's keygen section)."""

SAMPLE_NAMES = {
    "clip.mp4": "reshared_2024.mp4",  # a trimmed, letterboxed re-encode of incident_2020.mp4
    "video1.mp4": "incident_2020.mp4",
    "video1.info.json": "incident_2020.info.json",  # its yt-dlp sidecar: a sighting on 2020-10-05
    "video2.mp4": "market_2022.mp4",
    "photo.jpg": "spiral_still.jpg",
    "downloads/reshared.mp4": "reshared_2024.mp4",
    "downloads/market.mp4": "market_2022.mp4",
    "tg/incident.mp4": "incident_2020.mp4",
    "x/spiral.jpg": "spiral_still.jpg",
    "tiktok dump/reshared copy.mp4": "reshared_2024.mp4",
}
"""The files the examples name, as copies of samples/media."""


def readme_sections() -> list[tuple[str, str]]:
    """(heading, text) of README.md, split at ``##`` and ``###`` headings; the text before the first has ''."""
    sections = [("", "")]
    for line in README.read_text().splitlines(keepends=True):
        heading = re.match(r"#{2,3} (.+)", line)
        if heading:
            sections.append((heading.group(1).strip(), ""))
        else:
            sections[-1] = (sections[-1][0], sections[-1][1] + line)
    return sections


def bash_blocks(text: str) -> list[str]:
    """The contents of the ```bash blocks in ``text``."""
    return re.findall(r"^```bash\n(.*?)^```", text, re.M | re.S)


def commands_of(block: str) -> list[str]:
    """The commands of a block: continuation lines joined, blank and comment-only lines dropped."""
    return [line.strip() for line in block.replace("\\\n", " ").splitlines()
            if line.strip() and not line.strip().startswith("#")]


def without_comment(command: str) -> str:
    """The command without its trailing ``# ...`` comment and the spaces before it."""
    return re.sub(r"\s+#\s.*$", "", command)


def examples() -> list[tuple[str, str]]:
    """(section, command) of every example to run, in README order."""
    return [(heading, command) for heading, text in readme_sections() if heading not in NOT_EXAMPLES
            for block in bash_blocks(text) for command in commands_of(block)]


@pytest.fixture()
def workspace(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A folder with the sample media under the examples' names, and an environment with its own HOME."""
    work = tmp_path / "work"
    for name, sample in SAMPLE_NAMES.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(MEDIA / sample, work / name)
    env = {key: value for key, value in os.environ.items() if not key.startswith(("PROVENANCE_", "XDG_"))}
    env["HOME"] = str(tmp_path / "home")
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    (tmp_path / "home").mkdir()
    bank = subprocess.run(["provenance", "export", "video2.mp4", "--format", "vpdq"], cwd=work, env=env,
                          capture_output=True, text=True, check=True)
    (work / "bank12.txt").write_text(bank.stdout)  # a vPDQ hash list, as a hash bank would hand one out
    return work, env


def test_the_examples_name_only_what_is_skipped_or_excluded() -> None:
    headings = {heading for heading, _ in readme_sections()}
    assert set(NOT_EXAMPLES) <= headings, "a section named in NOT_EXAMPLES is no longer in README.md"
    commands = {without_comment(command) for _, command in examples()}
    for command in [*SKIPPED, *EXPECTED_EXIT]:
        assert command in commands, f"{command!r} is no longer an example in README.md"


def placeholders(work: Path) -> dict[str, str]:
    """What the README's stand-ins for the reader's own things mean here, longest first."""
    photo = hashlib.sha256((work / "photo.jpg").read_bytes()).hexdigest()
    (work / "usb").mkdir(exist_ok=True)
    return {
        "3fa4c1...": photo,  # a whole SHA-256 of the reader's archive: photo.jpg's
        "3fa4c1": photo[:8],  # a unique prefix of one
        "/media/usb/": f"{work / 'usb'}/",  # a removable disk, kept apart from the archive
    }


@pytest.mark.slow
def test_readme_examples_work_as_printed(workspace: tuple[Path, dict[str, str]]) -> None:
    work, env = workspace
    stand_ins = placeholders(work)
    failures = []
    for section, command in examples():
        bare = without_comment(command)
        if bare in SKIPPED or ("| jq " in bare and shutil.which("jq") is None):
            continue  # jq is not a dependency: the example runs where the reader has it
        line = command
        for stand_in, meaning in stand_ins.items():
            line = line.replace(stand_in, meaning)
        result = subprocess.run(["bash", "-o", "pipefail", "-c", line], cwd=work, env=env, capture_output=True,
                                text=True, timeout=900)
        expected = EXPECTED_EXIT.get(bare, 0)
        if result.returncode != expected:
            failures.append(f"[{section}] {command}\n    exit {result.returncode} (expected {expected}): "
                            f"{(result.stderr or result.stdout).strip()[-400:]}")
        elif bare.startswith("provenance keygen "):  # the verifier's step, which the README tells in prose
            trusted = Path(env["HOME"], TRUSTED_KEYS)
            trusted.parent.mkdir(parents=True, exist_ok=True)
            with trusted.open("a") as handle:
                handle.write(result.stdout.splitlines()[-1] + "\n")
    assert not failures, "README examples that do not work as printed:\n" + "\n".join(failures)


def all_commands(group: click.Group = cli, prefix: str = "provenance") -> list[tuple[str, click.Command]]:
    """("provenance archive add", command) for every command and group under ``group``, depth first."""
    found = []
    for name, command in group.commands.items():
        found.append((f"{prefix} {name}", command))
        if isinstance(command, click.Group):
            found.extend(all_commands(command, f"{prefix} {name}"))
    return found


@pytest.mark.parametrize("name", [name for name, _ in all_commands()])
def test_every_command_has_a_readme_section(name: str) -> None:
    sections = readme_sections()
    if any(re.match(rf"`{re.escape(name)}[ `]", heading) for heading, _ in sections):
        return
    group = name.rsplit(" ", 1)[0]  # a group's commands may be shown in the group's own section instead
    group_text = "".join(text for heading, text in sections if re.match(rf"`{re.escape(group)}[ `]", heading))
    assert group != "provenance" and any(without_comment(command).startswith(f"{name} ")
                                         for block in bash_blocks(group_text) for command in commands_of(block)), \
        f"{name} has no section in README.md (a heading '## `{name} ...`', or an example in its group's section)"


def test_readme_starts_with_the_two_commands_and_how_to_get_provenance_on_path() -> None:
    top = readme_sections()[0][1]
    (block, *_) = bash_blocks(top)
    assert [without_comment(c) for c in commands_of(block)] == ["bash samples/demo.sh", "bash tests/run.sh"]
    after = top.split("```", 2)[2]
    first_paragraph = after.strip().split("\n\n", 1)[0]
    assert "source .venv/bin/activate" in first_paragraph and "export PATH=" in first_paragraph


def help_of(name: str) -> str:
    """The --help text of ``provenance ...`` by its full name."""
    result = CliRunner().invoke(cli, [*name.split()[1:], "--help"], catch_exceptions=False)
    assert result.exit_code == 0
    return result.output


def exit_table(text: str) -> dict[int, str]:
    """{code: description} of the "Exit codes:" table of a help text, continuation lines joined."""
    assert text.count("Exit codes:") == 1, "no (or more than one) exit code table"
    table: dict[int, str] = {}
    last = None
    for line in text.split("Exit codes:", 1)[1].splitlines()[1:]:
        row = re.match(r"\s+(\d+)  (\S.*)", line)
        if row:
            last = int(row.group(1))
            table[last] = row.group(2)
        elif line.startswith("       ") and line.strip() and last is not None:
            table[last] += " " + line.strip()
        else:
            break
    return table


def test_top_level_help_has_every_exit_code_as_a_table() -> None:
    table = exit_table(help_of("provenance"))
    assert set(EXIT_CODES) | {70, 130} == set(table)
    for code, text in EXIT_CODES.items():
        assert table[code] == text  # one row per code, with the text of provenance/errors.py, not run together


def test_readme_exit_code_table_has_every_code() -> None:
    (text,) = [text for heading, text in readme_sections() if heading == "Exit codes"]
    documented = {int(code) for code in re.findall(r"^\| (\d+) \|", text, re.M)}
    assert documented == set(EXIT_CODES) | {70, 130}


def scoped_commands(text: str) -> list[str]:
    """The commands an EXIT_CODES text is scoped to: 'verify, custody --verify: ...' -> verify, custody."""
    scope, colon, _ = text.partition(":")
    names = [name.split() for name in scope.split(",")] if colon else []
    if not names or not all(words and all(w.startswith("--") for w in words[1:]) for words in names):
        return []
    return [words[0] for words in names]


@pytest.mark.parametrize("name", [name for name, _ in all_commands()])
def test_every_command_lists_its_exit_codes(name: str) -> None:
    table = exit_table(help_of(name))
    assert {0, 2, 70, 130} <= set(table), "every command can succeed, be misused, meet a bug or be interrupted"
    for code, text in EXIT_CODES.items():  # what errors.py scopes to a command, its help must list
        if name.count(" ") == 1 and name.split()[-1] in scoped_commands(text):
            assert code in table, f"{name} --help lacks exit code {code} ({text})"


def test_setup_run_again_installs_nothing_and_says_how_to_get_provenance_on_path() -> None:
    stamp = ROOT / ".venv" / ".provenance-setup"
    if not stamp.is_file():
        pytest.skip(".venv was not made by scripts/setup.sh (it leaves .venv/.provenance-setup)")
    pyproject = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if f"pyproject {pyproject}" not in stamp.read_text().splitlines():
        pytest.skip("pyproject.toml changed since the last set-up: run bash tests/run.sh")
    env = {key: value for key, value in os.environ.items() if not key.startswith("PIP_")}
    # pip can reach no package index: an install attempt would fail
    env.update(PIP_NO_INDEX="1", PIP_FIND_LINKS=str(ROOT / "no-such-folder"), PIP_CONFIG_FILE=os.devnull,
               PATH=os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep)
                                    if Path(p).resolve() != (ROOT / ".venv" / "bin").resolve()))
    result = subprocess.run(["bash", str(ROOT / "scripts" / "setup.sh")], env=env, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    assert "no pip run" in result.stderr
    hints = [line for line in result.stderr.splitlines() if "source" in line and ".venv/bin/activate" in line]
    assert len(hints) == 1 and "export PATH=" in hints[0]
