"""The `pvrelief` console entry: it only wires the parts together.

Each area registers its commands from a module of its own (``pvrelief/cmd_*.py``), so the
collector, the allocator and the simulator never import each other through the CLI.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="pvrelief",
    help="Monitoring and revenue allocation for PV poverty-relief plants.",
    no_args_is_help=True,
    add_completion=False,
)



@app.callback()
def _root() -> None:
    """Monitoring and revenue allocation for PV poverty-relief plants."""


# Each module has `register(app: typer.Typer) -> None`.
COMMAND_MODULES = (
    "pvrelief.cmd_config",
    "pvrelief.cmd_run",
    "pvrelief.cmd_demo",
    "pvrelief.cmd_schema",
    "pvrelief.cmd_spool",
    "pvrelief.cmd_devices",
    "pvrelief.cmd_allocate",
    "pvrelief.cmd_grafana",
    "pvrelief.cmd_lineloss",
    "pvrelief.cmd_alarms",
    "pvrelief.cmd_kpi",
    "pvrelief.cmd_web",
)

for _name in COMMAND_MODULES:
    importlib.import_module(_name).register(app)


def main() -> None:  # pragma: no cover - console script
    app()
