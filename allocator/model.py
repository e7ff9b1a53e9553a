"""The validated inputs as plain, exact values: what both engines (numpy and Decimal) consume.

Units are integers chosen so that every product is exact:

    energy          Wh                      (kWh with 3 decimals)
    tariff parts    1e-4 yuan/kWh ("u")     (4 decimals, as the tariff documents print them)
    Wh x u          1e-7 yuan = 1e-5 fen    so fen = half_up(sum(Wh x u) / 100_000)
    shares          integer numerators over the plant's ``share_basis``: W of capacity when
                    shares are capacities, parts per million when they are fractions
    yearly amounts  fen per year;  O&M per kWp-year in u per kWp-year;  reserve in basis points
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Literal, NoReturn

from allocator.columns import InputColumns, build_columns
from allocator.errors import InputError

PlantKind = Literal["village", "multi-village", "centralised"]

FEN_PER_WH_U = 100_000  # Wh x (1e-4 yuan/kWh) = 1e-7 yuan = 1e-5 fen
FRACTION_BASIS = 1_000_000  # fraction shares have at most 6 decimals
# The largest amount of money taken as input (a carry, a payment), in fen: 10^13 yuan, far above
# any plant's revenue, and sums of a few of them stay far inside int64 (9.2 x 10^18)
MAX_FEN = 10**15


@dataclass(frozen=True)
class Village:
    id: str
    name: str
    # usage categories and integer weights, e.g. (("collective", 60), ("jobs_and_rewards", 40))
    usage_split: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class ShareRecord:
    """All of a plant's shares from ``start`` (inclusive) until the next record.

    Two parallel sequences rather than (village, numerator) pairs, shaped for building
    ``Inputs.columns`` at national size (720,000 entries):

    - ``villages``: a plant's records name the same villages month after month, so the loader
      hands them one tuple (see :func:`shared_village_lists`), and the columns look each
      village up once per distinct tuple (60,000 look-ups, not 720,000);
    - ``parts``: the numerators packed as int64 (``array('q')``, 8 bytes each instead of a
      36-byte int object and pointer), so the columns take them all with one ``b"".join``.
      Any sequence of ints is packed here; one outside int64 is an InputError. (A packed array
      is not hashable, so neither is a record.)
    """

    start: date
    villages: tuple[str, ...]  # village ids
    parts: array  # int64: each village's numerator over the plant's share_basis

    def __post_init__(self) -> None:
        if not (isinstance(self.parts, array) and self.parts.typecode == "q"):
            try:
                packed = array("q", self.parts)
            except OverflowError:
                raise InputError(f"shares from {self.start}: a numerator is outside "
                                 f"int64") from None
            object.__setattr__(self, "parts", packed)

    @classmethod
    def of(cls, start: date, numerators: Iterable[tuple[str, int]]) -> ShareRecord:
        """A record from (village id, numerator) pairs."""
        pairs = tuple(numerators)
        return cls(start, tuple(v for v, _ in pairs), [n for _, n in pairs])  # type: ignore

    @property
    def numerators(self) -> tuple[tuple[str, int], ...]:
        """(village id, numerator) pairs, in the record's order."""
        return tuple(zip(self.villages, self.parts, strict=True))


assert array("q").itemsize == 8  # what Inputs.columns reads the packed numerators as


def shared_village_lists(records: Iterable[ShareRecord]) -> tuple[ShareRecord, ...]:
    """The records, each naming the same villages as the one before reusing its tuple."""
    out: list[ShareRecord] = []
    for r in records:
        if out and r.villages is not out[-1].villages and r.villages == out[-1].villages:
            r = ShareRecord(r.start, out[-1].villages, r.parts)
        out.append(r)
    return tuple(out)


@dataclass(frozen=True)
class TariffRecord:
    start: date
    grid_u: int  # grid-company part, 1e-4 yuan/kWh
    subsidy_u: int  # Renewable Energy Development Fund part, 1e-4 yuan/kWh


@dataclass(frozen=True)
class DeductionRecord:
    start: date
    om_per_kwh_u: int = 0  # 1e-4 yuan per kWh of on-grid energy
    om_per_kwp_year_u: int = 0  # 1e-4 yuan per shared kWp per year, prorated by days
    land_rent_fen_per_year: int = 0  # prorated by days
    insurance_fen_per_year: int = 0  # prorated by days
    reserve_bp: int = 0  # basis points of the exact gross revenue


# The documented order in which deductions are taken from the gross (and carried forward).
DEDUCTION_ITEMS = ("carried_in", "om_energy", "om_capacity", "land_rent", "insurance", "reserve")


@dataclass(frozen=True)
class Plant:
    id: str
    name: str
    kind: PlantKind
    capacity_w: int
    meter: str
    share_basis: int
    shares: tuple[ShareRecord, ...]
    tariffs: tuple[TariffRecord, ...]
    deductions: tuple[DeductionRecord, ...] = ()
    # The poverty portion: a centralised plant distributes only shared_w of capacity_w, so its
    # villages share energy x shared_w / capacity_w. Equal to capacity_w for village plants.
    shared_w: int = 0

    def __post_init__(self) -> None:
        if not self.shared_w:
            object.__setattr__(self, "shared_w", self.capacity_w)

    def village_ids(self) -> list[str]:
        """Every village that holds (or held) a share record, zero shares included."""
        return sorted({v for r in self.shares for v in r.villages})


class ReadOnlyDict(dict):
    """A dict that refuses changes: ``Inputs`` keeps its columns in step with its mappings."""

    def _read_only(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError("Inputs are read-only: build a new Inputs instead")

    __setitem__ = __delitem__ = __ior__ = _read_only
    clear = pop = popitem = setdefault = update = _read_only

    def __reduce__(self) -> tuple:
        return (ReadOnlyDict, (dict(self),))


@dataclass(frozen=True)
class Inputs:
    """Validated inputs. The mappings are copied read-only, and :attr:`columns` (the same
    records as flat arrays, see ``allocator/columns.py``) is built here, once."""

    villages: dict[str, Village]
    plants: dict[str, Plant]
    timezone: str = "Asia/Shanghai"
    source_sha256: str = ""  # of the YAML bytes the inputs came from
    extra: dict[str, str] = field(default_factory=dict)
    columns: InputColumns = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        villages, plants = ReadOnlyDict(self.villages), ReadOnlyDict(self.plants)
        object.__setattr__(self, "villages", villages)
        object.__setattr__(self, "plants", plants)
        object.__setattr__(self, "columns", build_columns(villages, plants))

    def usage_categories(self) -> list[str]:
        """Usage-split columns: in the order they first appear, villages sorted by id."""
        names: list[str] = []
        for vid in sorted(self.villages):
            for name, _ in self.villages[vid].usage_split:
                if name not in names:
                    names.append(name)
        return names


def record_in_force(records: tuple, day: date):
    """The last record starting on or before ``day`` (records sorted by start), or None."""
    found = None
    for r in records:
        if r.start <= day:
            found = r
        else:
            break
    return found
