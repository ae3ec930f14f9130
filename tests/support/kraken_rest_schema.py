"""Kraken's REST OpenAPI description as a validator of response bodies.

Kraken publishes its spot REST API as an OpenAPI 3.0 document split over many YAML files
(krakenfx/api-specs, `spot-rest/openapi_v3.yaml` and the files it `$ref`s by relative path).
Those files are not vendored in this repository (files fetched from public repositories are
not committed here); they are read from `KRAKEN_API_SPECS` or, by default, from
`../shared/vendor/kraken-api-specs/spot-rest/` beside the clone, where CI lays shared/.

Schemas are checked by `openapi-schema-validator` (OpenAPI 3.0 dialect: `nullable`, and
`example` beside `$ref` ignored) with every `$ref` resolved through a `referencing` registry
that reads the referenced YAML file from disk.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import yaml
from openapi_schema_validator import OAS30Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

SPEC_ENV = "KRAKEN_API_SPECS"
DEFAULT_SPEC_DIR = (
    Path(__file__).resolve().parents[2].parent
    / "shared"
    / "vendor"
    / "kraken-api-specs"
    / "spot-rest"
)
SPEC_FILE = "openapi_v3.yaml"


def spec_dir() -> Path:
    """Where the spec is looked for: `KRAKEN_API_SPECS` when set, else beside the clone."""
    configured = os.environ.get(SPEC_ENV)
    return Path(configured) if configured else DEFAULT_SPEC_DIR


def _pointer_token(text: str) -> str:
    return text.replace("~", "~0").replace("/", "~1")


@cache
def _yaml_file(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def _retrieve(uri: str) -> Resource[Any]:
    if not uri.startswith("file://"):
        raise LookupError(f"only local spec files are read, not {uri}")
    return DRAFT4.create_resource(_yaml_file(Path(unquote(uri.removeprefix("file://")))))


class RestSchema:
    """The 200 `application/json` response schema of every operation in one OpenAPI file."""

    def __init__(self, openapi_file: Path) -> None:
        self.openapi_file = openapi_file.resolve()
        self._uri = self.openapi_file.as_uri()
        document = _yaml_file(self.openapi_file)
        self._registry: Registry[Any] = Registry(retrieve=_retrieve).with_resource(
            self._uri, DRAFT4.create_resource(document)
        )
        self._paths: dict[str, str] = {}
        for path, operations in document.get("paths", {}).items():
            for verb, operation in operations.items():
                content = operation.get("responses", {}).get("200", {}).get("content", {})
                if "application/json" in content:
                    media = _pointer_token("application/json")
                    self._paths[path] = (
                        f"#/paths/{_pointer_token(path)}/{verb}/responses/200/content/{media}/schema"
                    )
                    break

    def knows(self, path: str) -> bool:
        return path in self._paths

    def errors(self, path: str, body: Any) -> list[str]:
        """Why `body` is not a valid 200 answer of `path` (e.g. `/private/AddOrder`, the URL
        path without Kraken's `/0` version prefix); empty when it is."""
        pointer = self._paths.get(path)
        if pointer is None:
            return [f"{path}: no 200 application/json response in {self.openapi_file.name}"]
        validator = OAS30Validator({"$ref": f"{self._uri}{pointer}"}, registry=self._registry)
        return [
            f"{path}: {'/'.join(map(str, error.absolute_path)) or '(body)'}: {error.message}"
            for error in validator.iter_errors(body)
        ]
