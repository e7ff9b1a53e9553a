"""What a simulated plant publishes: one device's state as MQTT messages, in three shapes.

Written here from the documented formats, never with the collector's code (the simulator is
the independent party the collector is checked against):

- ``pvrelief``: an edge collector's ``pvrelief.reading/1`` JSON on
  ``<prefix>/<site>/<plant>/<device>/reading`` (README "MQTT");
- ``json``: a SunLog-style logger's object per device on ``sunlog/<plant>/<SERIAL>/data``,
  powers in kW, local time without an offset, a numeric state and a list of alarm codes;
- ``per-topic``: a logger's one value per topic on ``sunlog/<SERIAL>/<channel>/<quantity>``,
  each ``{"v": value, "t": epoch ms}``, energies in Wh.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from simulator.devices import SimDevice, SimInverter

# canonical field -> (key in "data", factor from the canonical unit to the logger's)
JSON_KEYS = {
    "p_ac_w": ("pac", 1e-3), "e_total_kwh": ("etotal", 1.0), "e_day_kwh": ("eday", 1.0),
    "p_dc_w": ("pdc", 1e-3), "v_dc_v": ("udc", 1.0), "t_internal_c": ("tmp", 1.0),
    "f_ac_hz": ("fac", 1.0), "p_w": ("p", 1e-3), "e_export_kwh": ("eexp", 1.0),
    "e_import_kwh": ("eimp", 1.0), "f_hz": ("f", 1.0),
}
JSON_STATES = {"sleeping": 0, "running": 1, "fault": 2}
# canonical field -> (quantity topic, factor from the canonical unit to the logger's)
TOPIC_KEYS = {
    "p_ac_w": ("0/power", 1.0), "e_total_kwh": ("0/yield_total", 1e3),
    "e_day_kwh": ("0/yield_day", 1e3), "t_internal_c": ("0/temperature", 1.0),
    "p_dc_w": ("1/power", 1.0), "v_dc_v": ("1/voltage", 1.0), "p_w": ("grid/power", 1.0),
    "e_export_kwh": ("grid/export_total", 1.0), "e_import_kwh": ("grid/import_total", 1.0),
}

Message = tuple[str, bytes]


def status_of(dev: SimDevice) -> str | None:
    if not isinstance(dev, SimInverter):
        return None
    return "fault" if dev.faults else ("running" if dev.p_ac_w > 0 else "sleeping")


def has_faults(dev: SimDevice) -> bool:
    return any(p.role == "faults" for p in dev.profile.points)


def edge_messages(dev: SimDevice, prefix: str, site: str, village: str | None,
                  ts_ns: int) -> list[Message]:
    obj: dict[str, object] = {"schema": "pvrelief.reading/1", "site": site, "plant": dev.plant,
                              "device": dev.id, "kind": dev.profile.kind}
    if village:
        obj["village"] = village
    obj["ts_ns"] = ts_ns
    obj["fields"] = dict(dev.published)
    status = status_of(dev)
    if status is not None:
        obj["status"] = status
    if has_faults(dev):
        obj["faults"] = list(dev.faults)
    counters = {p.field: p.counter for p in dev.profile.points
                if p.field and p.counter and p.role == "value"}
    if counters:
        obj["counters"] = counters
    topic = f"{prefix}/{site}/{dev.plant}/{dev.id}/reading"
    return [(topic, json.dumps(obj, separators=(",", ":")).encode())]


def logger_json_messages(dev: SimDevice, prefix: str, zone: ZoneInfo,
                         ts_ms: int) -> list[Message]:
    local = datetime.fromtimestamp(ts_ms / 1000, UTC).astimezone(zone).replace(tzinfo=None)
    data = {JSON_KEYS[f][0]: v * JSON_KEYS[f][1] for f, v in dev.published.items()
            if f in JSON_KEYS}
    obj: dict[str, object] = {"sn": dev.id.upper(),
                              "time": local.isoformat(sep=" ", timespec="milliseconds"),
                              "data": data}
    status = status_of(dev)
    if status is not None:
        obj["state"] = JSON_STATES[status]
    if has_faults(dev):
        obj["alarm"] = list(dev.faults)
    topic = f"{prefix}/{dev.plant}/{dev.id.upper()}/data"
    return [(topic, json.dumps(obj, separators=(",", ":")).encode())]


def logger_topic_messages(dev: SimDevice, prefix: str, ts_ms: int) -> list[Message]:
    serial = dev.id.upper()
    return [(f"{prefix}/{serial}/{TOPIC_KEYS[f][0]}",
             json.dumps({"v": v * TOPIC_KEYS[f][1], "t": ts_ms}).encode())
            for f, v in dev.published.items() if f in TOPIC_KEYS]

