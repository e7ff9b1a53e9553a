"""The public notice (公示) of each village for a period, as HTML from an editable template.

The template (``allocator/templates/notice.html.j2`` by default, or a county's own copy via
``--notice-template``) is Jinja2 with autoescaping on; it gets only text that pvrelief computed:
village, period, per-plant energy and revenue by part, deductions by item, net, usage split and
the sha256 of the inputs. ``allocator/notice_pdf.py`` prints the HTML to PDF with Chromium.

A village's deduction is one figure in the allocation (its share of the plant's deductions, by
gross); the notice shows it by item, split again by largest remainder in proportion to the
items the plant paid (ties: the earlier item in the documented deduction order), so the items
add up to the village's deduction exactly.
"""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import jinja2

from allocator.energy import EnergyTable
from allocator.errors import InputError
from allocator.model import DEDUCTION_ITEMS, Inputs
from allocator.outputs import code_version, kwh_text
from allocator.result import Allocation
from allocator.statements import USAGE_ZH

DEFAULT_TEMPLATE = Path(__file__).parent / "templates" / "notice.html.j2"
ITEM_ZH = {"carried_in": "上期未扣结转", "om_energy": "运维费（按电量）",
           "om_capacity": "运维费（按容量）", "land_rent": "土地租金", "insurance": "保险费",
           "reserve": "风险准备金"}


def yuan(fen: int) -> str:
    return f"{Decimal(int(fen)).scaleb(-2):,.2f}"


def split_by_items(total: int, weights: list[int]) -> list[int]:
    """``total`` fen in proportion to ``weights``, largest remainder, ties to the earlier item."""
    den = sum(weights)
    if den == 0:
        return [0] * len(weights)
    quotas = [Fraction(total * w, den) for w in weights]
    out = [q.numerator // q.denominator for q in quotas]
    order = sorted(range(len(weights)), key=lambda i: (-(quotas[i] - out[i]), i))
    for i in order[: total - sum(out)]:
        out[i] += 1
    return out


def notice_context(a: Allocation, inputs: Inputs, energy: EnergyTable, rank: int,
                   provisional: bool) -> dict:
    vid = a.village_ids[rank]
    village = inputs.villages[vid]
    pairs = [int(i) for i in (a.pair_village == rank).nonzero()[0]]
    plants, items = [], [0] * len(DEDUCTION_ITEMS)
    for i in pairs:
        p = int(a.pair_plant[i])
        plant = inputs.plants[a.plant_ids[p]]
        gross = int(a.grid_part_fen[i] + a.subsidy_part_fen[i])
        plants.append({"id": plant.id, "name": plant.name, "energy_kwh": kwh_text(a.energy_wh[i]),
                       "grid": yuan(a.grid_part_fen[i]), "subsidy": yuan(a.subsidy_part_fen[i]),
                       "gross": yuan(gross)})
        shares = split_by_items(int(a.deductions_fen[i]), [int(x) for x in a.items_applied[p]])
        items = [x + y for x, y in zip(items, shares, strict=True)]
    usage: dict[str, int] = {}
    for k in range(a.usage_pair.size):
        if int(a.usage_pair[k]) in pairs:
            name = a.usage_names[a.usage_cat[k]]
            usage[name] = usage.get(name, 0) + int(a.usage_fen[k])
    ded = sum(int(a.deductions_fen[i]) for i in pairs)
    gross = sum(int(a.grid_part_fen[i] + a.subsidy_part_fen[i]) for i in pairs)
    return {
        "village": {"id": vid, "name": village.name},
        "period": {"label": a.period.label, "first": str(a.period.start),
                   "last": str(a.period.dates()[-1])},
        "provisional": provisional,
        "plants": plants,
        "deductions": [{"item": k, "label": ITEM_ZH[k], "amount": yuan(x)}
                       for k, x in zip(DEDUCTION_ITEMS, items, strict=True) if x],
        "usage": [{"category": c, "label": USAGE_ZH.get(c, c), "amount": yuan(x)}
                  for c, x in usage.items()],
        "totals": {"energy_kwh": kwh_text(sum(int(a.energy_wh[i]) for i in pairs)),
                   "grid": yuan(sum(int(a.grid_part_fen[i]) for i in pairs)),
                   "subsidy": yuan(sum(int(a.subsidy_part_fen[i]) for i in pairs)),
                   "gross": yuan(gross), "deductions": yuan(ded), "net": yuan(gross - ded)},
        "inputs": {"config_sha256": inputs.source_sha256,
                   "energy_sha256": energy.source_sha256},
        "version": code_version(),
    }


def load_template(path: Path | None = None) -> jinja2.Template:
    path = path or DEFAULT_TEMPLATE
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"--notice-template {path}: cannot read ({e})") from e
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True)
    try:
        return env.from_string(text)
    except jinja2.TemplateSyntaxError as e:
        raise InputError(f"--notice-template {path}:{e.lineno}: {e.message}") from e


def notice_html(a: Allocation, inputs: Inputs, energy: EnergyTable, provisional: bool = False,
                template: Path | None = None) -> dict[str, str]:
    """HTML per village with a row in this allocation, by path under ``--out``."""
    tpl = load_template(template)
    out = {}
    for rank in sorted(set(int(v) for v in a.pair_village)):
        try:
            html = tpl.render(**notice_context(a, inputs, energy, rank, provisional))
        except jinja2.TemplateError as e:
            raise InputError(f"--notice-template {template or DEFAULT_TEMPLATE}: {e}") from e
        out[f"notices/{a.village_ids[rank]}.html"] = html
    return out
