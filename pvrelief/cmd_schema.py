"""`pvrelief schema`: export the JSON Schemas of the config, device profiles and MQTT payload
mappings.

The exported files are checked in (config/jsonschema/); a test fails when they drift from the
pydantic models, so editors and CI validate YAML against what the code really accepts.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from config.dlt645_identifiers import CatalogSpec
from config.mappings import MappingFile
from config.profiles import ProfileSpec
from config.schema import Config

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "config" / "jsonschema"
MODELS = {"pvrelief.schema.json": Config, "profile.schema.json": ProfileSpec,
          "dlt645-identifiers.schema.json": CatalogSpec,
          "mapping.schema.json": MappingFile}


def render(name: str) -> str:
    return json.dumps(MODELS[name].model_json_schema(), indent=2, sort_keys=True,
                      ensure_ascii=False) + "\n"


def register(app: typer.Typer) -> None:
    @app.command()
    def schema(
        out: Path = typer.Option(SCHEMA_DIR, help="folder to write the schema files to"),
    ) -> None:
        """Write the JSON Schemas of the config file, device profiles and payload mappings."""
        out.mkdir(parents=True, exist_ok=True)
        for name in MODELS:
            (out / name).write_text(render(name), encoding="utf-8")
            typer.echo(out / name)
