"""The schema check of sandbox REST answers, proven on a tiny OpenAPI document.

Kraken's real description is not in the repository (see docs/testing.md, Conformance); these
tests write a small one with the same layout (a main file whose response schema `$ref`s
another YAML file by relative path) and show that a conforming body passes, a wrong one is
named, and that the plugin checks what a real sandbox answers during a pytest session.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from kraken_rest_schema import SPEC_ENV, SPEC_FILE, RestSchema

SUPPORT = Path(__file__).resolve().parents[1] / "support"

TIME_RESULT = """\
type: object
properties:
  unixtime:
    type: {unixtime_type}
  rfc1123:
    type: string
    nullable: true
required: [unixtime]
"""

OPENAPI = """\
openapi: 3.0.0
info: {title: tiny, version: "1"}
paths:
  /public/Time:
    get:
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema:
                type: object
                properties:
                  error: {type: array, items: {type: string}}
                  result:
                    $ref: "./schemas/time.yaml"
                example: {"error": [], "result": {"unixtime": 1}}
"""

INNER_TEST = """\
import json
import urllib.request

from sandbox_harness import sandbox_in_thread


def test_reads_the_time():
    with sandbox_in_thread(rate=0) as box:
        with urllib.request.urlopen(box.server.rest_url + "/0/public/Time") as answer:
            assert "unixtime" in json.load(answer)["result"]
"""


def write_spec(directory: Path, unixtime_type: str) -> Path:
    (directory / "schemas").mkdir(parents=True)
    (directory / "schemas" / "time.yaml").write_text(
        TIME_RESULT.format(unixtime_type=unixtime_type)
    )
    (directory / SPEC_FILE).write_text(OPENAPI)
    return directory / SPEC_FILE


def test_a_body_matching_the_spec_through_a_file_ref_has_no_errors(tmp_path: Path) -> None:
    schema = RestSchema(write_spec(tmp_path, "integer"))
    assert schema.knows("/public/Time")
    assert not schema.knows("/public/Depth")
    body = {"error": [], "result": {"unixtime": 1688669448, "rfc1123": None}}
    assert schema.errors("/public/Time", body) == []


def test_a_body_breaking_the_spec_is_named_by_path_and_field(tmp_path: Path) -> None:
    schema = RestSchema(write_spec(tmp_path, "integer"))
    errors = schema.errors("/public/Time", {"error": [], "result": {"unixtime": "1688669448"}})
    assert errors == ["/public/Time: result/unixtime: '1688669448' is not of type 'integer'"]
    assert schema.errors("/public/Time", {"error": [], "result": {}}) == [
        "/public/Time: result: 'unixtime' is a required property"
    ]


def run_session_with_plugin(tmp_path: Path, spec: Path | None) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_inner.py").write_text(INNER_TEST)
    env = {**os.environ, "PYTHONPATH": str(SUPPORT)}
    env[SPEC_ENV] = str(spec.parent if spec is not None else tmp_path / "no-spec-here")
    return subprocess.run(
        [
            *(sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"),
            *("-p", "kraken_rest_schema_plugin", "test_inner.py"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize(("unixtime_type", "exit_code"), [("integer", 0), ("string", 1)])
def test_plugin_checks_what_the_sandbox_answered_and_fails_the_session_on_a_mismatch(
    tmp_path: Path, unixtime_type: str, exit_code: int
) -> None:
    spec = write_spec(tmp_path / "spot-rest", unixtime_type)
    run = run_session_with_plugin(tmp_path, spec)
    assert run.returncode == exit_code, run.stdout + run.stderr
    assert "1 passed" in run.stdout
    assert "1 distinct sandbox answers on 1 endpoints checked" in run.stdout
    if exit_code:
        assert "/public/Time: result/unixtime:" in run.stdout
        assert "is not of type 'string'" in run.stdout


def test_plugin_without_the_spec_says_where_it_is_expected_and_passes(tmp_path: Path) -> None:
    run = run_session_with_plugin(tmp_path, None)
    assert run.returncode == 0, run.stdout + run.stderr
    assert f"Kraken REST schema: not checked, no spec at {tmp_path / 'no-spec-here'}" in run.stdout
