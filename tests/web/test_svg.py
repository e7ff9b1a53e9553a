"""The server-drawn charts: numbers and escaped text only, labels people can read."""

from __future__ import annotations

from web.svg import bar, compact, line_chart


def test_axis_labels_are_compact() -> None:
    assert [compact(v) for v in (86400.0, 0.52, 1.5e6, -2500.0, 0.0)] == \
        ["86.4k", "0.52", "1.5M", "-2.5k", "0"]


def test_a_chart_escapes_its_text_and_marks_the_raise() -> None:
    t0 = 1_592_784_000 * 10**9
    svg = line_chart([(t0, 0.0), (t0 + 600 * 10**9, 50_000.0)], "<script>", "Asia/Shanghai",
                     t0 + 300 * 10**9, "▲")
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert svg.count("<polyline") == 1 and 'class="marker"' in svg and "50k" in svg
    assert line_chart([], "p", "Asia/Shanghai") == ""


def test_a_bar_shows_nothing_without_a_target() -> None:
    assert bar(None, 10.0, "x") == "" and bar(5.0, 0.0, "x") == ""
    assert "bar-low" in bar(1.0, 10.0, "x") and "bar-low" not in bar(9.0, 10.0, "x")
