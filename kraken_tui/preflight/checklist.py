"""One line of the checklist, and the checklist printed for people or for scripts."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum


class Outcome(StrEnum):
    OK = "ok"
    FAIL = "FAIL"
    SKIPPED = "skip"
    """Not run because a check it depends on failed: it counts as not passed."""


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    outcome: Outcome
    detail: str
    """What was found (ok) or what went wrong (FAIL, skip)."""
    exchange_error: str | None = None
    """The exchange's own error string, verbatim."""
    advice: str | None = None
    """What to do about a failure."""

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.OK


def all_passed(results: Sequence[CheckResult]) -> bool:
    return bool(results) and all(result.passed for result in results)


def checklist_text(results: Sequence[CheckResult], target: str) -> str:
    width = max((len(result.name) for result in results), default=0)
    lines = [f"preflight against {target}"]
    for result in results:
        lines.append(f"  {result.outcome.value:<4}  {result.name:<{width}}  {result.detail}")
        if result.exchange_error:
            lines.append(f"  {'':<4}  {'':<{width}}  exchange said: {result.exchange_error}")
        if result.advice and not result.passed:
            lines.append(f"  {'':<4}  {'':<{width}}  what to do: {result.advice}")
    failed = sum(not result.passed for result in results)
    lines.append(
        "all checks passed" if failed == 0 else f"{failed} of {len(results)} checks did not pass"
    )
    return "\n".join(lines)


def checklist_json(results: Sequence[CheckResult], target: str) -> str:
    return json.dumps(
        {
            "target": target,
            "passed": all_passed(results),
            "checks": [{**asdict(result), "outcome": result.outcome.value} for result in results],
        },
        indent=2,
    )
