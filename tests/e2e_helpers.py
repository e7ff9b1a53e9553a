"""Building blocks for end-to-end tests: a small fleet config on free ports."""

from __future__ import annotations

from pathlib import Path

import yaml

from localsite.servers import free_port


def small_fleet_config(tmp_path: Path, influx_url: str, database: str, *, speed: float = 600,
                       start: str = "2020-06-21T11:00:00+08:00", inverters: int = 3,
                       poll_s: float = 60) -> Path:
    port = free_port()
    cfg = {
        "site": {"id": "test"},
        "influxdb": {"url": influx_url, "database": database, "linger_s": 0.2,
                     "spool_dir": str(tmp_path / "spool")},
        "collector": {"timeout_s": 1.0},
        "simulator": {"start": start, "speed": speed, "seed": 7, "tick_s": 10},
        "counties": [{"id": "gonghe", "townships": [{"id": "t1", "villages": [{
            "id": "v1", "plants": [{
                "id": "p1", "capacity_kwp_dc": 300, "capacity_kw_ac": 250,
                "latitude": 36.27, "longitude": 100.62, "altitude_m": 2800,
                "devices": [
                    {"id": "p1-inv", "profile": "sunspec-inverter", "port": port,
                     "unit_id": 1, "repeat": inverters, "poll_interval_s": poll_s},
                    {"id": "p1-meter", "profile": "sunspec-meter", "port": port,
                     "unit_id": 100, "poll_interval_s": poll_s},
                ],
            }],
        }]}]}],
    }
    path = tmp_path / "fleet.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path
