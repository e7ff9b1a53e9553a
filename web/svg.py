"""Small charts drawn on the server as SVG: no chart library, nothing loaded from elsewhere.

``line_chart`` draws one series against time with its min and max labelled and an optional
vertical marker (the moment an alarm was raised). The markup is built from numbers and
escaped text only, and the page inlines it: the Content-Security-Policy allows no script in it.
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from zoneinfo import ZoneInfo

W, H, PAD_L, PAD_R, PAD_T, PAD_B = 640, 220, 56, 12, 14, 28


def compact(v: float) -> str:
    """An axis label: 86400 -> '86.4k', 0.52 -> '0.52', 1.5e6 -> '1.5M'."""
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(v) >= limit:
            return f"{v / limit:.3g}{suffix}"
    return f"{v:.3g}"


def line_chart(points: list[tuple[int, float]], label: str, tz: str,
               marker_ns: int | None = None, marker_label: str = "") -> str:
    if not points:
        return ""
    t0, t1 = points[0][0], points[-1][0]
    if marker_ns is not None:
        t0, t1 = min(t0, marker_ns), max(t1, marker_ns)
    lo, hi = min(v for _, v in points), max(v for _, v in points)
    if hi - lo < 1e-9:
        lo, hi = lo - 1, hi + 1
    span = max(t1 - t0, 1)

    def x(t: int) -> float:
        return PAD_L + (W - PAD_L - PAD_R) * (t - t0) / span

    def y(v: float) -> float:
        return PAD_T + (H - PAD_T - PAD_B) * (1 - (v - lo) / (hi - lo))

    zone = ZoneInfo(tz)

    def hhmm(t: int) -> str:
        return datetime.fromtimestamp(t / 1e9, zone).strftime("%H:%M")

    path = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in points)
    parts = [
        f'<svg class="chart" viewBox="0 0 {W} {H}" role="img" aria-label="{escape(label)}" '
        'xmlns="http://www.w3.org/2000/svg">',
        f'<rect x="{PAD_L}" y="{PAD_T}" width="{W - PAD_L - PAD_R}" '
        f'height="{H - PAD_T - PAD_B}" class="frame"/>',
        f'<text x="{PAD_L - 4}" y="{PAD_T + 10}" class="axis" text-anchor="end">'
        f'{compact(hi)}</text>',
        f'<text x="{PAD_L - 4}" y="{H - PAD_B}" class="axis" text-anchor="end">'
        f'{compact(lo)}</text>',
        f'<text x="{PAD_L}" y="{H - 8}" class="axis">{hhmm(t0)}</text>',
        f'<text x="{W - PAD_R}" y="{H - 8}" class="axis" text-anchor="end">{hhmm(t1)}</text>',
        f'<text x="{(W + PAD_L) / 2:.0f}" y="{H - 8}" class="axis" text-anchor="middle">'
        f'{escape(label)}</text>',
        f'<polyline points="{path}" class="series"/>',
    ]
    if marker_ns is not None:
        mx = x(marker_ns)
        parts.append(f'<line x1="{mx:.1f}" y1="{PAD_T}" x2="{mx:.1f}" y2="{H - PAD_B}" '
                     'class="marker"/>')
        parts.append(f'<text x="{mx + 3:.1f}" y="{PAD_T + 10}" class="axis marker-label">'
                     f'{escape(marker_label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def bar(value: float | None, target: float, label: str) -> str:
    """A one-line bar: ``value`` against ``target`` (power now against expected)."""
    if value is None or target <= 0:
        return ""
    ratio = max(0.0, min(value / target, 1.5))
    width = 200
    return (f'<svg class="bar" viewBox="0 0 {width} 14" role="img" '
            f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">'
            f'<rect x="0" y="2" width="{width / 1.5:.1f}" height="10" class="bar-target"/>'
            f'<rect x="0" y="4" width="{width * ratio / 1.5:.1f}" height="6" '
            f'class="bar-value{" bar-low" if ratio < 0.5 else ""}"/></svg>')
