"""The columnar form of the inputs: every plant's dated records as flat int64 arrays.

Built once, when an :class:`allocator.model.Inputs` is constructed (after the YAML is parsed
and validated, or when a caller builds the records by hand), never per period. Only the numpy
engine needs it, so the benchmark counts it on the numpy side. The record tuples
(``Plant.shares`` etc.) stay the mapping view the Decimal reference and the validation read;
these arrays say the same thing, in the order ``compile_period`` needs:

    plants      sorted by id (index = plant number in every result)
    villages    sorted by id (index = village rank, the tie-break)
    records     per kind (shares, tariffs, deductions): plant by plant, each plant's by start
    entries     every (village, numerator) of every share record: record by record, in the
                record's own order

A village rank depends on the whole village set, so these live on ``Inputs``, not on a
``Plant``. The arrays are read-only, and ``Inputs`` holds read-only mappings, so the two
views cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import chain
from operator import attrgetter, itemgetter
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from allocator.errors import InputError

if TYPE_CHECKING:
    from allocator.model import Plant, Village

I64 = npt.NDArray[np.int64]

TARIFF_FIELDS = ("grid_u", "subsidy_u")
DEDUCTION_FIELDS = ("om_per_kwh_u", "om_per_kwp_year_u", "land_rent_fen_per_year",
                    "insurance_fen_per_year", "reserve_bp")
PLANT_FIELDS = ("share_basis", "capacity_w", "shared_w")
_VILLAGES, _PARTS, _SPLIT = attrgetter("villages"), attrgetter("parts"), attrgetter("usage_split")


@dataclass(frozen=True, eq=False)
class DatedColumns:
    """One kind of dated record of every plant, flattened plant by plant (plants by id)."""

    count: I64  # [P] records per plant
    start: I64  # [R] first day of each record, as date.toordinal()
    values: I64  # [R, k] the record's integer fields (k = 0 for shares)


@dataclass(frozen=True, eq=False)
class ShareEntries:
    """Every (village, numerator) entry of every share record, record by record."""

    record: I64  # [E] the entry's share record: index into InputColumns.shares
    village: I64  # [E] village rank: index into InputColumns.village_ids
    numerator: I64  # [E] over the plant's share_basis


@dataclass(frozen=True, eq=False)
class InputColumns:
    plant_ids: tuple[str, ...]  # sorted
    village_ids: tuple[str, ...]  # sorted; a village's rank is its index
    plant_values: I64  # [P, 3] share_basis, capacity_w, shared_w
    shares: DatedColumns
    entries: ShareEntries
    tariffs: DatedColumns
    deductions: DatedColumns
    # distinct usage splits, in order of first appearance over villages by id, and each
    # village's (by rank): provinces use one or two splits for tens of thousands of villages
    usage_kinds: tuple[tuple[tuple[str, int], ...], ...]
    village_usage: I64  # [V] index into usage_kinds


def _ints(values: Iterable[int], count: int) -> I64:
    return np.fromiter(values, dtype=np.int64, count=count)


def _frozen(a: I64) -> I64:
    a.setflags(write=False)
    return a


def _dated(per_plant: Sequence[tuple], fields: tuple[str, ...], what: str,
           plant_ids: Sequence[str]) -> tuple[DatedColumns, list]:
    """The columns of one record kind, and its records in the same flat order."""
    count = _ints(map(len, per_plant), len(per_plant))
    records = list(chain.from_iterable(per_plant))
    start = _ints(map(date.toordinal, map(attrgetter("start"), records)), len(records))
    width = len(fields)
    if width == 0:
        values = np.zeros((len(records), 0), dtype=np.int64)
    else:
        # one flat fromiter over a chain: np.array on a list of tuples is four times slower
        getter = attrgetter(*fields) if width > 1 else (lambda r: (getattr(r, fields[0]),))
        flat = chain.from_iterable(map(getter, records))
        values = _ints(flat, len(records) * width).reshape(-1, width)
    # a plant's records must be in order of their start (the YAML loader sorts them): both
    # engines take the last record starting on or before a day
    same_plant = np.repeat(np.arange(count.size), count)
    bad = np.flatnonzero((np.diff(start) < 0) & (same_plant[1:] == same_plant[:-1]))
    if bad.size:
        p = int(same_plant[bad[0]])
        raise InputError(f"plant {plant_ids[p]}: {what} records are not in order of their "
                         f"start dates")
    cols = DatedColumns(_frozen(count), _frozen(start), _frozen(values))
    return cols, records


def _unknown_village(records: list, rank: Mapping[str, int], plant_ids: Sequence[str],
                     share_count: I64) -> InputError:
    rec_plant = np.repeat(np.arange(share_count.size), share_count)
    for i, r in enumerate(records):
        unknown = sorted(set(r.villages) - rank.keys())
        if unknown:
            return InputError(
                f"plant {plant_ids[int(rec_plant[i])]}: shares from {r.start} name unknown "
                f"village(s) {', '.join(unknown)}")
    raise AssertionError("a village look-up failed, yet every record names known villages")


def _entries(records: list, rank: dict[str, int], plant_ids: Sequence[str],
             share_count: I64) -> ShareEntries:
    """Entries record by record. The numerators come packed (one join for the 720,000 of
    national size); village ids are looked up once per distinct ``villages`` tuple (one per
    plant when the records share it, as the loader makes them) and gathered."""
    parts = list(map(_PARTS, records))
    lens = _ints(map(len, parts), len(parts))
    total = int(lens.sum())
    # the packed int64 numerators of every record, in one C-speed join (see ShareRecord)
    numerator = np.frombuffer(b"".join(parts), dtype=np.int64)
    if numerator.size != total:
        raise InputError("share records' numerators are not packed as int64")
    lists = list(map(_VILLAGES, records))
    # runs of records holding the same tuple object (a plant's records, from the loader): no
    # sort needed, and a tuple two runs share is merely looked up twice
    ids = _ints(map(id, lists), len(lists))
    new_run = np.ones(ids.size, dtype=bool)
    np.not_equal(ids[1:], ids[:-1], out=new_run[1:])
    which = np.cumsum(new_run) - 1
    distinct = [lists[i] for i in np.flatnonzero(new_run).tolist()]
    distinct_len = _ints(map(len, distinct), len(distinct))
    if not np.array_equal(distinct_len[which], lens):
        i = int(np.flatnonzero(distinct_len[which] != lens)[0])
        p = int(np.repeat(np.arange(share_count.size), share_count)[i])
        raise InputError(f"plant {plant_ids[p]}: shares from {records[i].start} name "
                         f"{distinct_len[which[i]]} villages but give {lens[i]} numerators")
    names = list(chain.from_iterable(distinct))
    try:
        ranks = itemgetter(*names)(rank) if len(names) > 1 else tuple(rank[v] for v in names)
    except KeyError:
        raise _unknown_village(records, rank, plant_ids, share_count) from None
    distinct_rank = _ints(ranks, len(names))
    record_first = np.zeros(lens.size, dtype=np.int64)
    np.cumsum(lens[:-1], out=record_first[1:])
    distinct_first = np.zeros(distinct_len.size, dtype=np.int64)
    np.cumsum(distinct_len[:-1], out=distinct_first[1:])
    within = np.arange(total, dtype=np.int64) - np.repeat(record_first, lens)
    village = distinct_rank[np.repeat(distinct_first[which], lens) + within]
    record = np.repeat(np.arange(len(parts), dtype=np.int64), lens)
    return ShareEntries(_frozen(record), _frozen(village), _frozen(numerator))


def build_columns(villages: Mapping[str, Village], plants: Mapping[str, Plant]) -> InputColumns:
    village_ids = tuple(sorted(villages))
    plant_ids = tuple(sorted(plants))
    ordered = [plants[p] for p in plant_ids]
    rank = dict(zip(village_ids, range(len(village_ids)), strict=True))

    shares, share_records = _dated([p.shares for p in ordered], (), "share", plant_ids)
    entries = _entries(share_records, rank, plant_ids, shares.count)
    tariffs, _ = _dated([p.tariffs for p in ordered], TARIFF_FIELDS, "tariff", plant_ids)
    deductions, _ = _dated([p.deductions for p in ordered], DEDUCTION_FIELDS, "deduction",
                           plant_ids)
    plant_values = _ints(chain.from_iterable(map(attrgetter(*PLANT_FIELDS), ordered)),
                         3 * len(ordered)).reshape(-1, 3)

    in_order = itemgetter(*village_ids)(villages) if len(village_ids) > 1 else \
        tuple(villages[v] for v in village_ids)
    splits = list(map(_SPLIT, in_order))
    kinds = tuple(dict.fromkeys(splits))
    kind_of = dict(zip(kinds, range(len(kinds)), strict=True))
    village_usage = _ints(map(kind_of.__getitem__, splits), len(splits))
    return InputColumns(plant_ids, village_ids, _frozen(plant_values), shares, entries, tariffs,
                        deductions, kinds, _frozen(village_usage))
