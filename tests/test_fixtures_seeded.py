"""Every lavfi source that the tests, samples and benchmarks generate from is the same on every run.

Some of ffmpeg's sources draw at random unless told otherwise: ``life``, ``cellauto``, ``sierpinski``
and ``anoisesrc`` without ``seed``, and ``gradients`` without its colours (its ``seed`` only places
the points; colours left "random" differ on every run). A test on such a clip passes or fails by
the draw: the hard-cut test failed in CI when the random gradient had the mean grey of the cellular
automaton before it. This reads the sources' texts and fails on any that leaves its draw open.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCANNED = [*sorted(p for p in (ROOT / "tests").glob("*.py") if p.name != Path(__file__).name),
           *sorted((ROOT / "samples").glob("*.py")), *sorted((ROOT / "bench").glob("*.py"))]
# a source's name where a filter graph may start one: after a quote, a comma, a semicolon or a label
SOURCE = re.compile(r"""(?:(?<=["'\],;])|(?<=\]\s))(life|cellauto|sierpinski|anoisesrc|gradients)=([^"'\s,;\[]*)""")
NEEDED = {"life": ("seed",), "cellauto": ("seed",), "sierpinski": ("seed",), "anoisesrc": ("seed",),
          "gradients": ("seed", "c0", "c1")}


def open_draws(text: str) -> list[str]:
    """The random sources in ``text`` that leave one of their draws open, as written."""
    found = []
    for match in SOURCE.finditer(text):
        name, options = match.group(1), match.group(2)
        given = {part.split("=", 1)[0] for part in options.split(":")}
        if name == "cellauto" and ({"pattern", "filename", "f", "p"} & given):
            continue  # a cellular automaton started from a given row draws nothing
        if any(option not in given for option in NEEDED[name]):
            found.append(match.group(0))
    return found


def test_the_check_sees_an_open_draw() -> None:
    assert open_draws('"gradients=size=320x240:rate=25:speed=0.05:seed=6"') == [
        "gradients=size=320x240:rate=25:speed=0.05:seed=6"]
    assert open_draws('run("-i", "cellauto=size=320x240:rate=25:rule=110", "-t")') == [
        "cellauto=size=320x240:rate=25:rule=110"]
    assert open_draws('"[0:v]scale=2,life=size=8x8:rate=5[x]"') == ["life=size=8x8:rate=5"]
    assert open_draws('"anoisesrc=d=2:c=pink:seed=4"') == []
    assert open_draws('"gradients=s=320x240:c0=0x5a5a5a:c1=0x6e6e6e:seed=1"') == []
    assert open_draws('"cellauto=pattern=1001:rate=25"') == []
    assert open_draws("shelf_life=3") == []


@pytest.mark.parametrize("path", SCANNED, ids=lambda p: str(p.relative_to(ROOT)))
def test_generated_sources_are_seeded(path: Path) -> None:
    assert open_draws(path.read_text(encoding="utf-8")) == [], f"{path.name}: give these a seed (and colours)"
