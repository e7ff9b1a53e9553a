"""The public notice (公示): HTML from the editable template, PDF from Chromium, seen as PNG."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from hand_case import YAML, energy_csv

from allocator.errors import InputError
from allocator.notice import split_by_items
from allocator.pipeline import FinanceInputs, run


def _july(tmp: Path, **finance: object) -> Path:
    tmp.mkdir(exist_ok=True)
    cfg, june, july = tmp / "alloc.yaml", tmp / "june.csv", tmp / "july.csv"
    cfg.write_text(YAML, encoding="utf-8")
    june.write_text(energy_csv("2020-06"), encoding="utf-8")
    july.write_text(energy_csv("2020-07"), encoding="utf-8")
    run(cfg, "2020-06", tmp / "06", energy_csv=june)
    run(cfg, "2020-07", tmp / "07", energy_csv=july, carry_in=tmp / "06" / "allocation.json",
        finance=FinanceInputs(notices=True, **finance))  # type: ignore[arg-type]
    return tmp / "07" / "notices"


def test_notice_html_holds_the_village_s_figures(tmp_path: Path) -> None:
    notices = _july(tmp_path)
    assert sorted(p.name for p in notices.iterdir()) == [
        "a.html", "a.pdf", "b.html", "b.pdf", "c.html", "c.pdf"]
    html = (notices / "a.html").read_text(encoding="utf-8")
    text = re.sub(r"<[^>]+>", " ", html)
    # July of the hand case (test_allocate_hand): gross 37500 fen, deductions 19250 = the 7500
    # carried from June and 31000 of land rent split by gross, net 18250, usage 60/40
    for want in ("甲村光伏扶贫电站收益公示", "2020-07-01 至 2020-07-31", "联村电站（p）",
                 "500.000", "162.35", "212.65", "375.00", "上期未扣结转", "37.50",
                 "土地租金", "155.00", "192.50", "182.50", "村集体", "109.50",
                 "公益岗位及奖补", "73.00"):
        assert want in text, want
    assert "临时数据" not in text


def test_deductions_by_item_add_up_to_the_village_s_deduction() -> None:
    assert split_by_items(19250, [7500, 31000, 0]) == [3750, 15500, 0]
    assert split_by_items(1, [1, 1]) == [1, 0]  # a tie goes to the earlier item
    assert sum(split_by_items(9999, [3, 7, 11, 0, 5])) == 9999


def test_a_county_s_own_template_is_used_and_its_mistakes_are_reported(tmp_path: Path) -> None:
    own = tmp_path / "own.html.j2"
    own.write_text("<p>{{ village.name }}: {{ totals.net }} 元 <b>{{ village.id }}</b></p>",
                   encoding="utf-8")
    notices = _july(tmp_path, notice_template=own)
    assert (notices / "a.html").read_text(encoding="utf-8") == \
        "<p>甲村: 182.50 元 <b>a</b></p>"
    own.write_text("{{ village.nmae }}", encoding="utf-8")
    with pytest.raises(InputError, match="nmae"):
        _july(tmp_path / "x", notice_template=own)


def test_the_pdf_is_one_a4_page_with_chinese_text_in_a_cjk_font(tmp_path: Path) -> None:
    pdf = _july(tmp_path) / "a.pdf"
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True,
                          check=True).stdout
    assert re.search(r"Pages:\s+1\n", info)
    assert "(A4)" in info
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True,
                           check=True).stdout
    assert "WenQuanYi" in fonts  # not boxes: the CJK font is embedded
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "甲村光伏扶贫电站收益公示" in text and "182.50" in text
    subprocess.run(["pdftoppm", "-png", "-r", "60", "-singlefile", str(pdf),
                    str(tmp_path / "a")], check=True)
    png = (tmp_path / "a.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")
    assert (width, height) == (496, 702)  # A4 at 60 dpi


def test_a_provisional_notice_says_so(tmp_path: Path) -> None:
    from datetime import date

    cfg, june = tmp_path / "alloc.yaml", tmp_path / "june.csv"
    cfg.write_text(YAML, encoding="utf-8")
    june.write_text(energy_csv("2020-06"), encoding="utf-8")
    run(cfg, "2020-06", tmp_path / "06", energy_csv=june, provisional=True,
        today=date(2020, 6, 20), finance=FinanceInputs(notices=True))
    html = (tmp_path / "06" / "notices" / "a.html").read_text(encoding="utf-8")
    assert "临时数据（期间尚未结束）" in html and "2020-06 (provisional)" in html
