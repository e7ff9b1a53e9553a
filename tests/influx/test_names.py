"""The shared names are the ones the dashboards query and the ones the device profiles write."""

from __future__ import annotations

import re

import pytest

from config.profiles import load_registry
from grafana.dashboards import dashboards
from influx import names

KNOWN = {v for k, v in vars(names).items() if k.isupper() and isinstance(v, str)}
KNOWN |= set(names.REVENUE_FIELDS)  # the yuan twins are derived, not constants


def _queries() -> list[tuple[str, str]]:
    out = []
    for d in dashboards().values():
        out += [(f"{d['uid']}: {p['title']}", t["query"])
                for p in d["panels"] for t in p.get("targets", [])]
        out += [(f"{d['uid']}: variable {v['name']}", v["query"])
                for v in d["templating"]["list"] if v.get("type") == "query"]
    return out


@pytest.mark.parametrize(("where", "query"), _queries(), ids=[w for w, _ in _queries()])
def test_every_name_a_dashboard_queries_is_a_shared_name(where: str, query: str) -> None:
    aliases = set(re.findall(r'AS "([^"]+)"', query))  # a subquery's column, named in place
    referenced = set(re.findall(r'"([^"]+)"', re.sub(r'AS "[^"]+"', "", query)))
    assert referenced - aliases <= KNOWN, f"{where}: not in influx/names.py"
    assert referenced, f"{where}: no quoted name found; the check would pass vacuously"


def test_the_profiles_write_the_device_fields_named_here() -> None:
    registry = load_registry()
    written: dict[str, set[str]] = {names.INVERTER: set(), names.METER: set()}
    for name in registry:
        profile = registry[name]
        written[profile.kind] |= set(profile.fields)
    assert set(names.INVERTER_FIELDS) <= written[names.INVERTER]
    assert set(names.METER_FIELDS) <= written[names.METER]


def test_revenue_fields_pair_fen_with_yuan() -> None:
    assert names.yuan(names.NET_FEN) == "net_yuan"
    assert len(set(names.REVENUE_FIELDS)) == 2 * len(names.FEN_FIELDS) + 1
    with pytest.raises(ValueError):
        names.yuan(names.ENERGY_KWH)
