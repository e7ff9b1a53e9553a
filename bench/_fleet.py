"""The simulated fleet of ``bench/collector.py``: its config, and the server processes.

Plants of 200 devices behind 4 gateways of 50 unit ids each (49 Huawei SUN2000 inverters and a
CHINT DTSU666 meter: two reads per poll each, the register blocks their profiles plan). The
fleet is served from separate processes (``python -m bench._fleet serve FILE``), each one a
share of the gateways on the simulator's lean Modbus TCP server, so the client's process is
measured alone. The register images are computed once at start: stepping the physics of
20,000 devices takes seconds of a server's time per tick, which would stall its answers and
has nothing to do with the collector.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path
from typing import Any

import yaml

from collector.reading import Reading
from config.schema import Config
from localsite.servers import free_port
from simulator.fleet import Fleet
from timebase.clock import Clock

UNITS_PER_GATEWAY = 50
GATEWAYS_PER_PLANT = 4
INVERTER, METER = "huawei-sun2000", "chint-dtsu666"


def fleet_data(n: int, interval_s: float, *, one_plant: bool = False,
               influx_url: str = "http://127.0.0.1:9", spool_dir: str = "var/bench/spool"
               ) -> dict[str, Any]:
    """A config of ``n`` devices (a multiple of 50); a gateway's inverters as one entry with
    ``repeat: 49``, as a site of this size writes them."""
    gateways = []
    ports: set[int] = set()
    for g in range(n // UNITS_PER_GATEWAY):
        while (port := free_port()) in ports:  # free now, but not yet bound: no repeats
            pass
        ports.add(port)
        devices: list[dict[str, Any]] = [
            {"id": f"g{g:03d}-inv", "unit_id": 1, "repeat": UNITS_PER_GATEWAY - 1,
             "profile": INVERTER, "poll_interval_s": interval_s},
            {"id": f"g{g:03d}-meter", "unit_id": UNITS_PER_GATEWAY, "profile": METER,
             "poll_interval_s": interval_s}]
        gateways.append({"id": f"gw{g:03d}", "port": port, "timeout_s": 2.0,
                         "devices": devices})
    per_plant = len(gateways) if one_plant else GATEWAYS_PER_PLANT
    plants = []
    for i in range(0, len(gateways), per_plant):
        share = gateways[i : i + per_plant]
        kw = 100.0 * (UNITS_PER_GATEWAY - 1) * len(share)
        plants.append({"id": f"plant-{i // per_plant:03d}", "capacity_kwp_dc": kw * 1.2,
                       "capacity_kw_ac": kw, "latitude": 36.27, "longitude": 100.62,
                       "gateways": share})
    return {
        "site": {"id": "bench"},
        "collector": {"timeout_s": 2.0, "jitter_s": interval_s},
        "influxdb": {"url": influx_url, "database": "bench", "spool_dir": spool_dir,
                     "fsync": os.environ.get("BENCH_FSYNC", "interval")},
        # 11:00 on the solstice in Gonghe: every inverter running, nobody asleep
        "simulator": {"modbus_server": "lean", "start": "2020-06-21T11:00:00+08:00",
                      "tick_s": 60},
        "counties": [{"id": "gonghe", "plants": plants}],
    }


def simulated_reading(profile_name: str, *, device: str = "d", plant: str = "p",
                      ts_ns: int = 1, p_ac_w: float = 52_000.0, p_dc_w: float = 54_000.0,
                      dt_s: float = 60.0, t_amb: float = 15.0, t_cell: float = 40.0) -> Reading:
    """One simulated device of a fleet profile, as the collector writes it: the simulator's
    registers after ``dt_s`` at ``p_ac_w`` (a meter: the inverters behind it at ``p_ac_w``),
    decoded by the collector's decoder."""
    import struct

    from collector.sources.modbus.decode import DeviceDecoder
    from config.profiles import load_registry
    from simulator.devices import SimInverter, SimMeter

    profile = load_registry()[profile_name]
    decoder = DeviceDecoder(profile)
    sim: SimInverter | SimMeter
    if profile.kind == "inverter":
        sim = SimInverter(id=device, plant=plant, unit_id=1, profile=profile, e_total_wh=4.2e9)
        sim.advance(dt_s, p_ac_w, t_amb, t_cell, p_dc_w)
    else:
        sim = SimMeter(id=device, plant=plant, unit_id=1, profile=profile, e_export_wh=5.1e9)
        sim.advance(dt_s, p_ac_w)
    blocks = [struct.pack(f">{r.count}H", *(sim.image.read(r.table, r.address, r.count) or []))
              for r in decoder.reads]
    d = decoder.decode(blocks)
    return Reading(kind=profile.kind, plant=plant, device=device, ts_ns=ts_ns, fields=d.fields,
                   quality=d.quality, status=d.status, faults=d.faults,
                   counters=decoder.counters, wrap_at=d.wrap_at)


def write_yaml(path: Path, data: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(data, sort_keys=False, default_flow_style=None))
    return path


def server_shares(data: dict[str, Any], parts: int) -> list[dict[str, Any]]:
    """The fleet split by gateway into ``parts`` configs, one per server process."""
    out = []
    for k in range(parts):
        share = json.loads(json.dumps(data))
        for plant in share["counties"][0]["plants"]:
            plant["gateways"] = [g for g in plant["gateways"]
                                 if int(g["id"][2:]) % parts == k]
        share["counties"][0]["plants"] = [p for p in share["counties"][0]["plants"]
                                          if p["gateways"]]
        out.append(share)
    return out


def fleet_at_start(cfg: Config) -> Fleet:
    """The fleet with its register images computed once (see above) at the config's start.
    At the wall clock's instant instead, they were a night's zeros whenever a run fell after
    sunset in Gonghe, and a benchmark's figures depended on the hour it ran."""
    clock = Clock.starting(cfg.simulator.start, 1.0)
    fleet = Fleet(cfg, clock)
    fleet.step(clock.now_ns())
    return fleet


async def serve(path: Path) -> None:
    fleet = fleet_at_start(Config.model_validate(json.loads(path.read_text())))
    for s in fleet.servers:
        await s.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print("ready", flush=True)
    await stop.wait()
    for s in fleet.servers:
        await s.stop()


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        asyncio.run(serve(Path(sys.argv[2])))
