"""A deliberately plain reference: day by day, village by village, in ``decimal.Decimal``.

It shares no arithmetic with the numpy engine (yuan and kWh instead of integer units; its own
loops), and traps every inexact Decimal operation, so a result it returns is exact. The numpy
engine must equal it to the fen and to the leftover fen.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from decimal import (
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    Inexact,
    InvalidOperation,
    localcontext,
)
from fractions import Fraction

import numpy as np

from allocator.energy import EnergyTable
from allocator.model import Inputs, Plant, record_in_force
from allocator.periods import Period
from allocator.result import Allocation, LeftoverMark

EXACT = Context(prec=200, rounding=ROUND_HALF_UP,
                traps=[Inexact, InvalidOperation, DivisionByZero])
ZERO = Decimal(0)


def _half_up(num: Decimal, den: int) -> int:
    """num / den rounded half-up, exactly (quantize would be flagged Inexact)."""
    q, r = divmod(num, Decimal(den))
    return int(q) + (2 * r >= den)


def _fen(yuan: Decimal) -> int:
    return _half_up(yuan * 100, 1)


def _lr(total: int, weights: list[tuple[object, Decimal, int]], den: Decimal):
    """Largest remainder over (key, weight, tiebreak); returns {key: [amount, rem, rank]}."""
    out, rems = {}, []
    for key, w, tie in weights:
        q, r = divmod(Decimal(total) * w, den) if den else (ZERO, ZERO)
        out[key] = [int(q), r, 0]
        rems.append((-r, tie, key))
    left = total - sum(v[0] for v in out.values())
    for rank, (_, _, key) in enumerate(sorted(rems)[:left], start=1):
        out[key][0] += 1
        out[key][2] = rank
    return out


def _plant(plant: Plant, days: list, wh: list[int], diy: int, carry: int):
    g = s = kwh_total = ZERO
    wg: dict[str, Decimal] = defaultdict(Decimal)
    ws: dict[str, Decimal] = defaultdict(Decimal)
    we: dict[str, Decimal] = defaultdict(Decimal)
    om_e = om_c = land = ins = reserve = ZERO
    # each record's (village, numerator) pairs as plain ints, once per plant, not per day
    shares = {r.start: tuple(zip(r.villages, r.parts, strict=True)) for r in plant.shares}
    for day, e in zip(days, wh, strict=True):
        kwh = Decimal(e).scaleb(-3)
        t = record_in_force(plant.tariffs, day)
        g_day = kwh * Decimal(t.grid_u).scaleb(-4)
        s_day = kwh * Decimal(t.subsidy_u).scaleb(-4)
        g, s, kwh_total = g + g_day, s + s_day, kwh_total + kwh
        for v, n in shares[record_in_force(plant.shares, day).start]:
            wg[v] += g_day * n
            ws[v] += s_day * n
            we[v] += kwh * n
        d = record_in_force(plant.deductions, day)
        if d is not None:
            om_e += kwh * Decimal(d.om_per_kwh_u).scaleb(-4)
            om_c += Decimal(plant.shared_w).scaleb(-3) * Decimal(d.om_per_kwp_year_u).scaleb(-4)
            land += Decimal(d.land_rent_fen_per_year).scaleb(-2)
            ins += Decimal(d.insurance_fen_per_year).scaleb(-2)
            reserve += (g_day + s_day) * Decimal(d.reserve_bp).scaleb(-4)
    q = Decimal(plant.share_basis)
    villages = sorted(wg)
    # villages share only the poverty portion shared/capacity of a centralised plant
    shared, cap = plant.shared_w, plant.capacity_w
    g_fen, s_fen = _half_up(g * 100 * shared, cap), _half_up(s * 100 * shared, cap)
    wh_portion = _half_up(kwh_total * 1000 * shared, cap)
    grid = _lr(g_fen, [(v, wg[v], v) for v in villages], g * q)
    sub = _lr(s_fen, [(v, ws[v], v) for v in villages], s * q)
    energy = _lr(wh_portion, [(v, we[v] * 1000, v) for v in villages], kwh_total * q * 1000)
    due = [carry, _half_up(om_e * 100 * shared, cap), _half_up(om_c * 100, diy),
           _half_up(land * 100, diy), _half_up(ins * 100, diy),
           _half_up(reserve * 100 * shared, cap)]
    gross = g_fen + s_fen
    applied, left = [], gross
    for item in due:
        applied.append(min(item, left))
        left -= applied[-1]
    gross_v = [(v, Decimal(grid[v][0] + sub[v][0]), v) for v in villages]
    ded = _lr(sum(applied), gross_v, Decimal(gross))
    return {
        "energy_wh": wh_portion, "g_exact": int(g.scaleb(7)), "s_exact": int(s.scaleb(7)),
        "g_fen": g_fen, "s_fen": s_fen, "due": due, "applied": applied, "villages": villages,
        "splits": {"energy": energy, "grid": (grid, g * q), "subsidy": (sub, s * q),
                   "deductions": (ded, Decimal(gross))},
    }


def allocate_reference(inputs: Inputs, period: Period, energy: EnergyTable,
                       carry_in: Mapping[str, int] | None = None) -> Allocation:
    plant_ids = sorted(inputs.plants)
    village_ids = sorted(inputs.villages)
    rank = {v: i for i, v in enumerate(village_ids)}
    wh = energy.rows_for(plant_ids)
    days = period.dates()
    cols: dict[str, list] = defaultdict(list)
    marks: dict[str, list] = defaultdict(list)
    usage_names = inputs.usage_categories()
    with localcontext(EXACT):
        for p, pid in enumerate(plant_ids):
            r = _plant(inputs.plants[pid], days, [int(x) for x in wh[p]], period.days_in_year,
                       int((carry_in or {}).get(pid, 0)))
            for key in ("energy_wh", "g_exact", "s_exact", "g_fen", "s_fen", "due", "applied"):
                cols[key].append(r[key])
            for v in r["villages"]:
                pair = len(cols["pair_plant"])
                cols["pair_plant"].append(p)
                cols["pair_village"].append(rank[v])
                cols["pair_energy"].append(r["splits"]["energy"][v][0])
                net = 0
                for part in ("grid", "subsidy", "deductions"):
                    split, den = r["splits"][part]
                    amount, rem, rk = split[v]
                    cols[part].append(amount)
                    net += -amount if part == "deductions" else amount
                    marks[part].append((rk > 0, rk, Fraction(rem) / Fraction(den) if den else 0))
                usage = inputs.villages[v].usage_split
                if usage:
                    total_w = Decimal(sum(w for _, w in usage))
                    weights = [(c, Decimal(w), usage_names.index(c)) for c, w in usage]
                    for c, (amount, rem, rk) in _lr(net, weights, total_w).items():
                        cols["usage_pair"].append(pair)
                        cols["usage_cat"].append(usage_names.index(c))
                        cols["usage_fen"].append(amount)
                        marks["usage"].append((rk > 0, rk, Fraction(rem) / Fraction(total_w)))

    def arr(key: str) -> np.ndarray:
        return np.asarray(cols[key], dtype=np.int64)

    def mark(items: list) -> LeftoverMark:
        fr = [Fraction(f) for _, _, f in items]
        return LeftoverMark(np.array([b for b, _, _ in items], dtype=bool),
                            np.array([k for _, k, _ in items], dtype=np.int64),
                            np.array([f.numerator for f in fr], dtype=object),
                            np.array([f.denominator for f in fr], dtype=object))

    return Allocation(
        period=period, plant_ids=plant_ids, village_ids=village_ids,
        plant_energy_wh=arr("energy_wh"), grid_exact=arr("g_exact"), subsidy_exact=arr("s_exact"),
        grid_fen=arr("g_fen"), subsidy_fen=arr("s_fen"),
        items_due=arr("due").reshape(-1, 6), items_applied=arr("applied").reshape(-1, 6),
        pair_plant=arr("pair_plant"), pair_village=arr("pair_village"),
        energy_wh=arr("pair_energy"), grid_part_fen=arr("grid"), subsidy_part_fen=arr("subsidy"),
        deductions_fen=arr("deductions"), usage_names=usage_names, usage_pair=arr("usage_pair"),
        usage_cat=arr("usage_cat"), usage_fen=arr("usage_fen"),
        marks={k: mark(v) for k, v in marks.items() if k != "energy"},
    )
