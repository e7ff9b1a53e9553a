"""Inputs.columns: the records as flat arrays, built once when the Inputs is constructed."""

from __future__ import annotations

import pickle
import random
from dataclasses import replace
from datetime import date

import numpy as np
import pytest
from alloc_strategies import scenarios
from hand_case import YAML
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from allocator.columns import DEDUCTION_FIELDS, TARIFF_FIELDS
from allocator.energy import EnergyTable
from allocator.errors import InputError
from allocator.inputs import parse_inputs
from allocator.model import Inputs, ShareRecord
from allocator.periods import Period
from allocator.pipeline import allocate
from allocator.reference import allocate_reference

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _assert_columns_match_records(inputs: Inputs) -> None:
    cols = inputs.columns
    assert cols.plant_ids == tuple(sorted(inputs.plants))
    assert cols.village_ids == tuple(sorted(inputs.villages))
    plants = [inputs.plants[p] for p in cols.plant_ids]
    for dated, attr, fields in ((cols.shares, "shares", ()),
                                (cols.tariffs, "tariffs", TARIFF_FIELDS),
                                (cols.deductions, "deductions", DEDUCTION_FIELDS)):
        records = [r for p in plants for r in getattr(p, attr)]
        assert dated.count.tolist() == [len(getattr(p, attr)) for p in plants]
        assert dated.start.tolist() == [r.start.toordinal() for r in records]
        assert dated.values.shape == (len(records), len(fields))
        assert dated.values.tolist() == [[getattr(r, f) for f in fields] for r in records]
    shares = [r for p in plants for r in p.shares]
    ent = cols.entries
    assert ent.record.size == ent.village.size == ent.numerator.size
    rebuilt: list[list] = [[] for _ in shares]
    for rec, v, n in zip(ent.record.tolist(), ent.village.tolist(), ent.numerator.tolist(),
                         strict=True):
        rebuilt[rec].append((cols.village_ids[v], n))
    assert [tuple(r) for r in rebuilt] == [r.numerators for r in shares]
    assert cols.plant_values.tolist() == [[p.share_basis, p.capacity_w, p.shared_w]
                                          for p in plants]
    splits = [inputs.villages[v].usage_split for v in cols.village_ids]
    assert [cols.usage_kinds[k] for k in cols.village_usage.tolist()] == splits
    for a in (cols.plant_values, cols.village_usage, ent.record, ent.village, ent.numerator,
              cols.shares.start, cols.tariffs.values, cols.deductions.values):
        assert a.dtype == np.int64 and not a.flags.writeable


@FAST
@given(scenarios())
def test_columns_say_what_the_records_say(case: tuple[Inputs, EnergyTable]) -> None:
    _assert_columns_match_records(case[0])


def test_columns_of_the_yaml_hand_case() -> None:
    inputs = parse_inputs(YAML)
    _assert_columns_match_records(inputs)
    cols = inputs.columns
    assert cols.village_ids == ("a", "b", "c")
    assert cols.entries.record.tolist() == [0, 0, 0, 1, 1, 1]
    assert cols.entries.village.tolist() == [0, 1, 2, 0, 1, 2]
    assert cols.entries.numerator.tolist() == [300_000] * 3 + [450_000, 450_000, 0]
    assert cols.tariffs.values.tolist() == [[3247, 4253]]
    assert cols.deductions.values.tolist() == [[0, 0, 366_000, 0, 0]]


@FAST
@given(scenarios(), st.randoms(use_true_random=False))
def test_columns_do_not_depend_on_the_order_of_the_rows(case: tuple[Inputs, EnergyTable],
                                                        rnd: random.Random) -> None:
    inputs, _ = case
    villages, plants = list(inputs.villages.items()), list(inputs.plants.items())
    rnd.shuffle(villages)
    rnd.shuffle(plants)
    shuffled = Inputs(dict(villages), dict(plants))
    a, b = inputs.columns, shuffled.columns
    assert (a.plant_ids, a.village_ids, a.usage_kinds) == (b.plant_ids, b.village_ids,
                                                           b.usage_kinds)
    for x, y in ((a.entries.village, b.entries.village), (a.shares.start, b.shares.start),
                 (a.plant_values, b.plant_values), (a.village_usage, b.village_usage)):
        assert np.array_equal(x, y)


@FAST
@given(scenarios(), st.data())
def test_a_later_window_with_records_out_of_force_equals_reference(
        case: tuple[Inputs, EnergyTable], data: st.DataObject) -> None:
    """Records that ended before the window are dropped, with their villages' pairs."""
    inputs, energy = case
    k = data.draw(st.integers(0, energy.period.days - 1))
    window = Period(energy.period.dates()[k], energy.period.end, "window")
    sub = EnergyTable(window, energy.plant_ids, energy.wh[:, k:])
    fast = allocate(inputs, window, sub)
    assert fast.canonical() == allocate_reference(inputs, window, sub).canonical()


def test_inputs_are_read_only_so_columns_stay_in_step() -> None:
    inputs = parse_inputs(YAML)
    with pytest.raises(TypeError, match="read-only"):
        inputs.plants["q"] = inputs.plants["p"]
    with pytest.raises(TypeError, match="read-only"):
        del inputs.villages["a"]
    with pytest.raises(TypeError, match="read-only"):
        inputs.villages.update({})
    with pytest.raises(ValueError, match="read-only"):
        inputs.columns.entries.numerator[0] = 1
    # a copy of the caller's dicts: changing them afterwards changes nothing
    villages, plants = dict(inputs.villages), dict(inputs.plants)
    copy = Inputs(villages, plants)
    villages.pop("c")
    assert "c" in copy.villages and copy.columns.village_ids == ("a", "b", "c")
    again = pickle.loads(pickle.dumps(copy))
    assert again == copy and again.columns.village_ids == ("a", "b", "c")
    moved = replace(copy, plants={})
    assert moved.columns.plant_ids == ()


def test_hand_built_inputs_naming_an_unknown_village_are_refused() -> None:
    inputs = parse_inputs(YAML)
    plant = inputs.plants["p"]
    bad = replace(plant, shares=(*plant.shares,
                                 ShareRecord.of(date(2020, 9, 1), (("a", 900_000), ("zz", 0)))))
    with pytest.raises(InputError, match=r"plant p: shares from 2020-09-01 name unknown "
                                         r"village\(s\) zz"):
        Inputs(inputs.villages, {"p": bad})


def test_hand_built_records_out_of_order_are_refused() -> None:
    inputs = parse_inputs(YAML)
    plant = inputs.plants["p"]
    bad = replace(plant, shares=plant.shares[::-1])
    with pytest.raises(InputError, match="plant p: share records are not in order"):
        Inputs(inputs.villages, {"p": bad})


def test_the_loader_gives_a_plant_s_records_one_village_tuple() -> None:
    # what lets Inputs.columns look villages up once per plant instead of once per entry
    shares = parse_inputs(YAML).plants["p"].shares
    assert shares[0].villages == ("a", "b", "c")
    assert shares[1].villages is shares[0].villages


def test_a_record_with_more_villages_than_numerators_is_refused() -> None:
    inputs = parse_inputs(YAML)
    plant = inputs.plants["p"]
    bad = replace(plant, shares=(*plant.shares,
                                 ShareRecord(date(2020, 9, 1), ("a", "b"), (900_000,))))
    with pytest.raises(InputError, match=r"plant p: shares from 2020-09-01 name 2 villages "
                                         r"but give 1 numerators"):
        Inputs(inputs.villages, {"p": bad})
