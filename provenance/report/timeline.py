"""The timeline picture of one match: query time across, archive time up, one line per segment.

An untouched copy is a line on the dashed diagonal; an offset (the query starts later in the
original) shifts the line up; a speed change tilts it (slope = archive seconds per query second);
a trim shows as the parts of either axis that no segment covers, shaded bars mark what is covered.
Drawn as inline SVG, so the HTML report stays one self-contained file and scales crisply.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape

WIDTH, HEIGHT = 380, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 14, 14, 44


def nice_step(span: float, max_ticks: int = 6) -> float:
    """A tick step of 1, 2 or 5 times a power of ten giving at most ``max_ticks`` intervals over ``span``."""
    if span <= 0:
        return 1.0
    raw = span / max_ticks
    power = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 5, 10):
        if factor * power >= raw:
            return factor * power
    return 10 * power  # pragma: no cover - the loop always returns


def _label(value: float) -> str:
    return f"{value:g}"


def timeline_svg(segments: Sequence[Mapping[str, float]], query_duration: float, archive_duration: float,
                 *, title: str = "") -> str:
    """An SVG (text) plotting each segment from (query_start, archive_start) to (query_end, archive_end)."""
    q_max = max([query_duration, 1.0] + [float(s["query_end"]) for s in segments])
    a_max = max([archive_duration, 1.0] + [float(s["archive_end"]) for s in segments])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: float) -> float:
        return LEFT + plot_w * t / q_max

    def y(t: float) -> float:
        return TOP + plot_h * (1 - t / a_max)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="timeline" width="{WIDTH}" height="{HEIGHT}" '
           f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" data-segments="{len(segments)}">',
           f"<title>{escape(title or 'match timeline')}: query time (across) against archive time (up)</title>",
           f'<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="#fbfbfb" stroke="#888"/>']
    step = nice_step(q_max)
    tick = 0.0
    while tick <= q_max + 1e-9:
        out.append(f'<line x1="{x(tick):.1f}" y1="{TOP + plot_h}" x2="{x(tick):.1f}" y2="{TOP + plot_h + 4}" '
                   f'stroke="#888"/><text x="{x(tick):.1f}" y="{TOP + plot_h + 16}" font-size="10" '
                   f'text-anchor="middle" fill="#444">{_label(tick)}</text>')
        tick += step
    step = nice_step(a_max)
    tick = 0.0
    while tick <= a_max + 1e-9:
        out.append(f'<line x1="{LEFT - 4}" y1="{y(tick):.1f}" x2="{LEFT}" y2="{y(tick):.1f}" stroke="#888"/>'
                   f'<text x="{LEFT - 7}" y="{y(tick) + 3:.1f}" font-size="10" text-anchor="end" '
                   f'fill="#444">{_label(tick)}</text>')
        tick += step
    out.append(f'<text x="{LEFT + plot_w / 2:.1f}" y="{HEIGHT - 6}" font-size="11" text-anchor="middle" '
               f'fill="#222">query time (s)</text>')
    out.append(f'<text x="14" y="{TOP + plot_h / 2:.1f}" font-size="11" text-anchor="middle" fill="#222" '
               f'transform="rotate(-90 14 {TOP + plot_h / 2:.1f})">archive time (s)</text>')
    # the diagonal where an unedited, untrimmed copy would lie
    end = min(q_max, a_max)
    out.append(f'<line x1="{x(0):.1f}" y1="{y(0):.1f}" x2="{x(end):.1f}" y2="{y(end):.1f}" stroke="#999" '
               f'stroke-dasharray="4 4"><title>same time in both (no offset, normal speed)</title></line>')
    for s in segments:
        qs, qe, as_, ae = (float(s[k]) for k in ("query_start", "query_end", "archive_start", "archive_end"))
        # covered spans on each axis: what is outside them was trimmed away
        out.append(f'<rect class="cover-q" x="{x(qs):.1f}" y="{TOP + plot_h - 6}" width="{max(x(qe) - x(qs), 2):.1f}" '
                   f'height="6" fill="#2c7fb8" opacity="0.35"/>')
        out.append(f'<rect class="cover-a" x="{LEFT}" y="{y(ae):.1f}" width="6" height="{max(y(as_) - y(ae), 2):.1f}" '
                   f'fill="#2c7fb8" opacity="0.35"/>')
        text = f"query {qs:.2f}-{qe:.2f} s = archive {as_:.2f}-{ae:.2f} s"
        out.append(f'<line class="segment" x1="{x(qs):.1f}" y1="{y(as_):.1f}" x2="{x(qe):.1f}" y2="{y(ae):.1f}" '
                   f'stroke="#c0392b" stroke-width="3" stroke-linecap="round"><title>{escape(text)}</title></line>')
        for px, py in ((x(qs), y(as_)), (x(qe), y(ae))):
            out.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="#c0392b"/>')
    out.append("</svg>")
    return "".join(out)
