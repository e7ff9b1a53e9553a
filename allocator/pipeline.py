"""One allocation run, start to end: inputs -> energy -> exact allocation -> files (-> InfluxDB).

The CLI (``pvrelief allocate``) is a thin shell over :func:`run`. InfluxDB is reached with the
same settings as the collector's (the config's ``influxdb:`` section, auth and api included):
meter energy is read from it unless a CSV is given, and revenue points are written to it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from allocator.allocate import allocate_compiled
from allocator.carry import CarryIn, read_carry_in
from allocator.compile import compile_period
from allocator.energy import EnergyTable
from allocator.energy_csv import load_energy_csv
from allocator.errors import InputError
from allocator.finance import FinanceInputs, finance_files
from allocator.inputs import load_inputs, require_meters
from allocator.model import Inputs
from allocator.outputs import output_files
from allocator.periods import Period, check_period_ended, parse_period
from allocator.plausibility import check_plausible
from allocator.publish import publish
from allocator.result import Allocation

if TYPE_CHECKING:
    from config.influx import InfluxSettings
    from influx.client import InfluxClient

__all__ = ["CarryIn", "FinanceInputs", "allocate", "allocate_periods", "read_carry_in", "run"]


def allocate(inputs: Inputs, period: Period, energy: EnergyTable,
             carry_in: Mapping[str, int] | None = None) -> Allocation:
    """The exact allocation of one period (numpy engine)."""
    return allocate_compiled(compile_period(inputs, period, energy), carry_in, energy.source)


def allocate_periods(inputs: Inputs, energies: list[EnergyTable],
                     carry_in: Mapping[str, int] | None = None) -> list[Allocation]:
    """Consecutive periods, each taking over the previous one's unpaid deductions."""
    out: list[Allocation] = []
    carry = dict(carry_in or {})
    for energy in energies:
        out.append(allocate(inputs, energy.period, energy, carry))
        carry = out[-1].carry_out()
    return out


def run(config: Path, period_text: str, out: Path, energy_csv: Path | None = None,
        influx: InfluxSettings | None = None, carry_in: Path | None = None,
        provisional: bool = False, today: date | None = None,
        finance: FinanceInputs | None = None) -> Allocation:
    """One run into ``out``, published atomically. ``today`` (default: the clock, in the
    inputs' time zone) decides whether the period has ended; one that has not is refused
    unless ``provisional``, and then marked as such in every file."""
    args = (config, period_text, out, energy_csv, carry_in, provisional, today, finance)
    if influx is None:
        return _run(*args, None)
    from influx.client import InfluxClient  # httpx only when needed

    with InfluxClient(influx) as client:
        return _run(*args, client)


def _run(config: Path, period_text: str, out: Path, energy_csv: Path | None,
         carry_in: Path | None, provisional: bool, today: date | None,
         finance: FinanceInputs | None, client: InfluxClient | None) -> Allocation:
    inputs = load_inputs(config)
    period = parse_period(period_text)
    check_period_ended(period, inputs.timezone, provisional, today)
    plant_ids = sorted(inputs.plants)
    capacity = {p: inputs.plants[p].capacity_w for p in plant_ids}
    if energy_csv is not None:
        energy = load_energy_csv(energy_csv, period, plant_ids, capacity)
    elif client is not None:
        from allocator.energy_influx import read_energy

        require_meters(inputs)
        energy = read_energy(client, inputs, period)
        check_plausible(energy, capacity)
    else:
        raise InputError("give --energy-csv FILE, or InfluxDB settings (--influx-config FILE "
                         "or --influx-url URL --influx-db DB)")
    carry = read_carry_in(carry_in, period, plant_ids) if carry_in else None
    result = allocate(inputs, period, energy, carry.fen if carry else None)
    if provisional:
        result = replace(result, period=Period(period.start, period.end,
                                               f"{period.label} (provisional)"))
    from allocator.statements import statement_files

    files = output_files(result, inputs, energy, str(config), carry, provisional)
    files.update(statement_files(result, inputs))
    files.update(finance_files(finance or FinanceInputs(), result, inputs, energy, period,
                               provisional))
    publish(out, files)
    if client is not None:
        from allocator.revenue_points import write_revenue_points

        write_revenue_points(client, result, inputs)
    return result
