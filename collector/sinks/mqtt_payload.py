"""The edge's MQTT messages: topics and the versioned JSON schema ``pvrelief.reading/1``.

    <prefix>/<site>/<plant>/<device>/reading   one message per reading, QoS 1
    <prefix>/<site>/<plant>/<device>/status    the device's state, retained, on change
    <prefix>/<site>/_edge/<client_id>/status   the edge collector online/offline, retained
                                               (the last will says offline)

A reading message (every key but ``village``, ``quality``, ``status``, ``faults``,
``counters`` and ``wrap_at`` is always there)::

    {"schema": "pvrelief.reading/1", "site": "hainan", "plant": "village-b",
     "device": "vb-inv-01", "kind": "inverter", "village": "village-b",
     "ts_ns": 1592712000123000000,
     "fields": {"p_ac_w": 61234.5, "e_total_kwh": 152301.7, "t_internal_c": null},
     "quality": {"t_internal_c": "not_implemented"},
     "status": "running", "faults": [2032],
     "counters": {"e_total_kwh": "lifetime"}, "wrap_at": {"e_total_kwh": 429496729.5}}

Field names carry their unit; a field that is not a good number is ``null`` with its quality
(absent quality means good). ``faults`` is ``[]`` when the fault registers were read and none
is active, and absent when the device has none. The timestamp is the reading's own, so a
message sent twice makes the same InfluxDB point twice, never two points. A consumer must
refuse a ``schema`` it does not know; a later version that only adds keys keeps the major
number (``pvrelief.reading/1``), one that changes a key's meaning takes the next.
"""

from __future__ import annotations

import json
import math

from collector.reading import Quality, Reading

SCHEMA = "pvrelief.reading/1"
STATUS_SCHEMA = "pvrelief.status/1"
EDGE_SCHEMA = "pvrelief.edge/1"
EDGE_LEVEL = "_edge"  # no id can start with "_", so this never names a plant

_dumps = json.JSONEncoder(separators=(",", ":"), allow_nan=False, ensure_ascii=False).encode


def reading_topic(prefix: str, site: str, r: Reading) -> str:
    return f"{prefix}/{site}/{r.plant}/{r.device}/reading"


def status_topic(prefix: str, site: str, r: Reading) -> str:
    return f"{prefix}/{site}/{r.plant}/{r.device}/status"


def edge_topic(prefix: str, site: str, client_id: str) -> str:
    return f"{prefix}/{site}/{EDGE_LEVEL}/{client_id}/status"


def reading_payload(r: Reading, site: str) -> str:
    fields: dict[str, float | None] = {}
    quality = {k: q.value for k, q in r.quality.items() if q is not Quality.GOOD}
    for name, value in r.fields.items():
        if value is None or not math.isfinite(value):
            fields[name] = None
            if name not in quality:
                quality[name] = Quality.INVALID.value
        else:
            fields[name] = value
    obj: dict[str, object] = {"schema": SCHEMA, "site": site, "plant": r.plant,
                              "device": r.device, "kind": r.kind}
    if r.village:
        obj["village"] = r.village
    obj["ts_ns"] = r.ts_ns
    obj["fields"] = fields
    if quality:
        obj["quality"] = quality
    if r.status is not None:
        obj["status"] = r.status
    if r.faults is not None:
        obj["faults"] = list(r.faults)
    if r.counters:
        obj["counters"] = dict(r.counters)
    if r.wrap_at:
        obj["wrap_at"] = dict(r.wrap_at)
    return _dumps(obj)


def status_payload(r: Reading, site: str) -> str:
    return _dumps({"schema": STATUS_SCHEMA, "site": site, "plant": r.plant, "device": r.device,
                   "ts_ns": r.ts_ns, "status": r.status,
                   "faults": None if r.faults is None else list(r.faults)})


def edge_payload(client_id: str, online: bool, ts_ns: int | None = None) -> bytes:
    return _dumps({"schema": EDGE_SCHEMA, "client_id": client_id, "online": online,
                   "ts_ns": ts_ns}).encode()
