"""One allocation run, start to end: inputs -> energy -> exact allocation -> files (-> InfluxDB).

The CLI (``pvrelief allocate``) is a thin shell over :func:`run`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from allocator.allocate import allocate_compiled
from allocator.carry import CarryIn, read_carry_in
from allocator.compile import compile_period
from allocator.energy import EnergyTable
from allocator.energy_csv import load_energy_csv
from allocator.errors import InputError
from allocator.inputs import load_inputs
from allocator.model import Inputs
from allocator.outputs import write_outputs
from allocator.periods import Period, parse_period
from allocator.result import Allocation

__all__ = ["CarryIn", "InfluxTarget", "allocate", "allocate_periods", "read_carry_in", "run"]


def allocate(inputs: Inputs, period: Period, energy: EnergyTable,
             carry_in: Mapping[str, int] | None = None) -> Allocation:
    """The exact allocation of one period (numpy engine)."""
    return allocate_compiled(compile_period(inputs, period, energy), carry_in)


def allocate_periods(inputs: Inputs, energies: list[EnergyTable],
                     carry_in: Mapping[str, int] | None = None) -> list[Allocation]:
    """Consecutive periods, each taking over the previous one's unpaid deductions."""
    out: list[Allocation] = []
    carry = dict(carry_in or {})
    for energy in energies:
        out.append(allocate(inputs, energy.period, energy, carry))
        carry = out[-1].carry_out()
    return out


@dataclass(frozen=True)
class InfluxTarget:
    url: str
    db: str


def run(config: Path, period_text: str, out: Path, energy_csv: Path | None = None,
        influx: InfluxTarget | None = None, carry_in: Path | None = None) -> Allocation:
    inputs = load_inputs(config)
    period = parse_period(period_text)
    plant_ids = sorted(inputs.plants)
    if energy_csv is not None:
        energy = load_energy_csv(energy_csv, period, plant_ids)
    elif influx is not None:
        from allocator.energy_influx import read_energy  # httpx only when needed

        energy = read_energy(influx.url, influx.db, inputs, period)
    else:
        raise InputError("give --energy-csv FILE or --influx-url URL --influx-db DB")
    carry = read_carry_in(carry_in, period, plant_ids) if carry_in else None
    result = allocate(inputs, period, energy, carry.fen if carry else None)
    write_outputs(out, result, inputs, energy, str(config), carry)
    from allocator.statements import write_statements

    write_statements(out / "statements", result, inputs)
    if influx is not None:
        from allocator.revenue_points import write_revenue_points

        write_revenue_points(influx.url, influx.db, result, inputs)
    return result
