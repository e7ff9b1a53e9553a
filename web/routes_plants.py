"""The Plants page: each plant's power against expected, energy today, online rate, devices."""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from influx.errors import InfluxError
from web.http import need
from web.plants_data import PlantNow, plants_now
from web.render import page
from web.svg import bar


def _load(request: Request) -> tuple[list[PlantNow], str]:
    site = request.app.state.site
    try:
        with site.influx() as client:
            return plants_now(client, site.config, site.registry, site.settlement,
                              site.clock.now_ns()), ""
    except InfluxError as e:
        return [], str(e)


async def plants(request: Request) -> Response:
    await need(request, "technician", "finance")
    site = request.app.state.site
    rows, error = await site.state.run(_load, request)
    open_alarms: dict[str, int] = {}
    for a in await site.state.run(site.open_alarms):
        open_alarms[a.plant] = open_alarms.get(a.plant, 0) + 1
    return page(request, "plants.html", plants=rows, error=error, bar=bar,
                open_alarms=open_alarms, now_ns=site.clock.now_ns())


async def plant(request: Request) -> Response:
    await need(request, "technician", "finance")
    site = request.app.state.site
    plant_id = request.path_params["plant"]
    if plant_id not in {p.id for p in site.config.plants()}:
        raise HTTPException(404)
    rows, error = await site.state.run(_load, request)
    found = [p for p in rows if p.plant.id == plant_id]
    alarms = await site.state.run(site.open_alarms, plant_id)
    return page(request, "plant.html", p=found[0] if found else None,
                error=error, bar=bar, plant_id=plant_id, alarms=alarms)
