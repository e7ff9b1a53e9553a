"""The Alarms page: active and recent alarms, filters, one alarm's story, acknowledging.

Built on the alarm state the collector keeps (collector/alarms/store.py). An acknowledgement goes
through ``AlarmStore.acknowledge``, the function ``pvrelief alarms ack`` calls, with the
logged-in user as who took it; the running collector publishes it (InfluxDB, notifications)
as it does the CLI's. Technicians and admins acknowledge; finance may look, but an
acknowledgement from finance is refused (403).
"""

from __future__ import annotations

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from collector.alarms.errors import AckRefused
from collector.alarms.model import SEVERITY_RANK
from web.alarms_data import AlarmStory, load_list, load_story
from web.http import need, read_form, redirect, translator
from web.render import page

SHOW = ("active", "recent")


async def alarms(request: Request) -> Response:
    await need(request, "technician", "finance")
    site = request.app.state.site
    q = request.query_params
    plant = q.get("plant") or None
    if plant is not None and plant not in {p.id for p in site.config.plants()}:
        plant = None
    severity = q.get("severity") if q.get("severity") in SEVERITY_RANK else None
    show = q.get("show") if q.get("show") in SHOW else "active"
    found = await site.state.run(load_list, site, plant, severity, show == "active")
    return page(request, "alarms.html", alarms=found, plant=plant or "",
                severity=severity or "", show=show, plants=site.config.plants(),
                severities=list(SEVERITY_RANK), now_ns=site.clock.now_ns())


async def alarm(request: Request) -> Response:
    await need(request, "technician", "finance")
    site = request.app.state.site
    try:
        alarm_id = int(request.path_params["id"])
        story: AlarmStory = await site.state.run(load_story, site, alarm_id)
    except (ValueError, AckRefused):
        raise HTTPException(404) from None
    return page(request, "alarm.html", s=story, a=story.alarm, error="",
                acked=request.query_params.get("acked") == "1")


async def acknowledge(request: Request) -> Response:
    session = await need(request, "technician")
    site = request.app.state.site
    form = await read_form(request, session.csrf)
    try:
        alarm_id = int(request.path_params["id"])
    except ValueError:
        raise HTTPException(404) from None
    note = " ".join(form.get("note", "").split())[:500]  # one line: it goes into chat messages
    try:
        await site.state.run(site.acknowledge, alarm_id, session.user.name, note)
    except AckRefused as e:
        t = translator(request)
        try:
            story = await site.state.run(load_story, site, alarm_id)
        except AckRefused:
            raise HTTPException(404) from None
        return page(request, "alarm.html", status=409, s=story, a=story.alarm,
                    error=t("alarms.ack_refused", reason=str(e)), acked=False)
    site.metrics.inc("acknowledgements")
    return redirect(f"/alarms/{alarm_id}?acked=1")
