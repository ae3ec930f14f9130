"""The SDK's own reconnect loop, under a real sandbox that goes away: whatever its tasks end
with, nothing reaches the log as an unhandled task traceback or a multi-line stack dump."""

from __future__ import annotations

import asyncio
import gc
import logging
from typing import Any

import pytest
from exchange_session import connected
from loguru import logger
from sandbox_harness import running_sandbox

SDK_RECONNECT_WAIT_MAX_S = 2.0
"""The SDK sleeps 1-2 s before its first reconnect after a drop, then recovers its
subscriptions on the new connection."""


async def test_closing_while_the_sdk_recovers_from_a_drop_leaves_no_unhandled_task_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    loop = asyncio.get_running_loop()
    unhandled: list[dict[str, Any]] = []
    loop.set_exception_handler(lambda _loop, context: unhandled.append(context))
    ours: list[str] = []
    sink = logger.add(lambda m: ours.append(str(m)), level="WARNING")
    caplog.set_level(logging.DEBUG, logger="kraken")
    try:
        async with running_sandbox(rate=50) as sandbox, connected(sandbox) as (exchange, _):
            await exchange.subscribe_market(["BTC/USD"], depth=10)
            await asyncio.sleep(0.5)
            # The drop: the server goes away, so each reconnect ends in ConnectionRefusedError
            # while the SDK's subscription recovery waits for a connection that never comes.
            await sandbox.stop()
            await asyncio.sleep(0.3)
        # The SDK's reconnect tasks outlive the close; let them finish, then be collected.
        await asyncio.sleep(SDK_RECONNECT_WAIT_MAX_S + 0.5)
        gc.collect()
        await asyncio.sleep(0)
    finally:
        logger.remove(sink)
        loop.set_exception_handler(None)

    assert [c.get("message") for c in unhandled] == []
    sdk_records = [r for r in caplog.records if r.name.startswith("kraken")]
    assert sdk_records, "the SDK logged nothing: the drop did not happen"
    multi_line = [
        r.getMessage()
        for r in sdk_records
        if "\n" in r.getMessage() or r.exc_info is not None or r.stack_info is not None
    ]
    assert multi_line == []
    assert [line for line in ours if "Traceback" in line] == []
