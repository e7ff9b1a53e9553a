"""Hypothesis strategies for small but nasty allocation inputs (shared by the allocator tests)."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
from hypothesis import strategies as st

from allocator.energy import EnergyTable
from allocator.model import (
    DeductionRecord,
    Inputs,
    Plant,
    ShareRecord,
    TariffRecord,
    Village,
    shared_village_lists,
)
from allocator.periods import Period

USAGE = (("collective", 60), ("jobs_and_rewards", 40))


@st.composite
def periods(draw: st.DrawFn) -> Period:
    year = draw(st.sampled_from([2019, 2020]))
    start = date(year, 1, 1) + timedelta(days=draw(st.integers(0, 330)))
    days = draw(st.integers(1, 35))
    end = min(start + timedelta(days=days), date(year + 1, 1, 1))
    return Period(start, end, f"{start}+{(end - start).days}")


@st.composite
def numerators(draw: st.DrawFn, villages: list[str], zero: set[str]) -> tuple:
    chosen = draw(st.lists(st.sampled_from(villages), min_size=1, max_size=len(villages),
                           unique=True))
    values = [0 if v in zero else draw(st.integers(0, 400_000)) for v in chosen]
    if sum(values) == 0:
        live = [i for i, v in enumerate(chosen) if v not in zero]
        if not live:
            extra = next(v for v in villages if v not in zero)
            chosen.append(extra)
            values.append(1)
        else:
            values[live[0]] = draw(st.integers(1, 400_000))
    return tuple(zip(chosen, values, strict=True))


@st.composite
def scenarios(draw: st.DrawFn, deductions: bool = True, usage: bool = True,
              max_plants: int = 3) -> tuple[Inputs, EnergyTable]:
    period = draw(periods())
    n_villages = draw(st.integers(1, 6))
    vids = [f"v{i:02d}" for i in range(n_villages)]
    zero = set(draw(st.lists(st.sampled_from(vids), max_size=n_villages - 1, unique=True)))
    villages = {
        v: Village(v, f"村{v}", USAGE if usage and draw(st.booleans()) else ())
        for v in vids
    }
    plants = {}
    n_plants = draw(st.integers(1, max_plants))
    for p in range(n_plants):
        n_rec = draw(st.integers(1, 3))
        offsets = sorted(set(draw(st.lists(st.integers(1, max(1, period.days - 1)),
                                           min_size=n_rec - 1, max_size=n_rec - 1))))
        starts = [period.start - timedelta(days=draw(st.integers(0, 40)))]
        starts += [period.start + timedelta(days=o) for o in offsets]
        raw = [draw(numerators(vids, zero)) for _ in starts]
        # every record must sum to the same basis: top up the largest live numerator
        basis = max(sum(n for _, n in r) for r in raw)
        shares = []
        for s, r in zip(starts, raw, strict=True):
            r = list(r)
            i = max(range(len(r)), key=lambda j: (r[j][0] not in zero, r[j][1]))
            r[i] = (r[i][0], r[i][1] + basis - sum(n for _, n in r))
            shares.append(ShareRecord.of(s, r))
        if draw(st.booleans()):  # as the loader makes them; else one tuple per record
            shares = list(shared_village_lists(shares))
        tariffs = tuple(
            TariffRecord(s, draw(st.integers(0, 12_000)), draw(st.integers(0, 8_000)))
            for s in [starts[0], *starts[1:2]][: draw(st.integers(1, 2))]
        )
        deds: tuple[DeductionRecord, ...] = ()
        if deductions and draw(st.booleans()):
            deds = tuple(
                DeductionRecord(s, draw(st.integers(0, 600)), draw(st.integers(0, 400_000)),
                                draw(st.integers(0, 10**8)), draw(st.integers(0, 10**7)),
                                draw(st.integers(0, 500)))
                for s in starts[: draw(st.integers(1, len(starts)))]
            )
        capacity = draw(st.integers(1_000, 50_000_000))
        shared = draw(st.one_of(st.just(capacity), st.integers(1, capacity)))
        plants[f"p{p}"] = Plant(f"p{p}", f"电站{p}", "multi-village", capacity, f"m{p}", basis,
                                tuple(shares), tariffs, deds, shared)
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    top = draw(st.sampled_from([0, 10, 3_000_000, 10**9]))
    wh = rng.integers(0, top + 1, size=(len(plants), period.days), dtype=np.int64)
    wh[rng.random(wh.shape) < 0.1] = 0  # cloudy or offline days
    energy = EnergyTable(period, tuple(plants), wh)
    return Inputs(villages, plants), energy
