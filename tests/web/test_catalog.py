"""The message catalog: every key the page uses is there in Chinese and English."""

from __future__ import annotations

import re
from pathlib import Path

from web.i18n import LANGS, catalog, translate

WEB = Path(__file__).resolve().parents[2] / "web"
USES = re.compile(r"""\bt\(\s*['"]([a-z_]+\.[a-z_.]+)['"]""")


def test_every_key_used_by_a_template_or_handler_is_in_both_languages() -> None:
    used = set()
    for path in [*WEB.glob("templates/*.html"), *WEB.glob("*.py")]:
        used |= set(USES.findall(path.read_text()))
    assert len(used) > 40
    missing = sorted(used - set(catalog()))
    assert missing == []
    for key in used:
        for lang in LANGS:
            assert catalog()[key][lang].strip(), (key, lang)


def test_placeholders_are_the_same_in_both_languages() -> None:
    for key, texts in catalog().items():
        zh, en = (set(re.findall(r"{(\w+)}", texts[lang])) for lang in LANGS)
        assert zh == en, key
    assert translate("en", "login.throttled", seconds=30).endswith("30 s.")
    assert "30" in translate("zh", "login.throttled", seconds=30)


def test_every_normalised_device_status_has_a_name() -> None:
    """The states the README's InfluxDB schema lists for ``status`` all have a name."""
    readme = (WEB.parent / "README.md").read_text()
    line = readme[readme.index("`status` is the normalised operating state"):]
    states = re.findall(r"`(\w+)`", line[: line.index("\n-")])[1:]
    assert "running" in states and "shutting_down" in states
    assert {f"status.{s}" for s in states} <= set(catalog())


def test_alarm_words_are_the_alarm_stage_s_own() -> None:
    """Severities, states and kinds read the same on the page as in the CLI and in chat."""
    from collector.alarms.builtin import KIND_ZH, SEVERITY_ZH, STATE_ZH

    for prefix, table in (("severity", SEVERITY_ZH), ("state", STATE_ZH), ("kind", KIND_ZH)):
        for key, zh in table.items():
            assert catalog()[f"{prefix}.{key}"]["zh"] == zh, (prefix, key)
