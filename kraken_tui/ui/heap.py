"""Keeping Python's garbage collector from freezing the console under a fast feed.

A full (generation 2) collection walks every tracked object in the process. Once the engine
has started, the heap holds some 150,000 objects that live as long as the process: Textual's
widget tree and stylesheet, instrument tables, the strategies' warm-up history, loaded modules.
Under a 5,000 msgs/s sandbox feed, full collections came every second or two and each took
35-230 ms: a frozen screen and a late key press each time (benchmarks/bench_ui.py, with a
`gc.callbacks` timer). Two changes, made once the engine runs:

- the start-up objects move to the permanent generation (`gc.freeze`), so a full collection
  walks only what was made since: 5-30 ms instead of 35-230 ms;
- the young generation is collected every `YOUNG_THRESHOLD` container allocations instead of
  CPython's 700. The middle generation is collected every 10 young collections and the whole
  heap every 10 middle ones, so with a feed allocating and dropping thousands of objects a
  second, a larger first step makes every older collection rarer, full ones included.

Together they took the busy p99 key latency from 108-232 ms to about 40 ms in that benchmark.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000

_tuned = False


def tune_gc_after_start() -> int:
    """Collect once, freeze what survives and raise the young threshold; later calls do
    nothing. Returns how many objects were frozen (0 when already done)."""
    global _tuned
    if _tuned:
        return 0
    _tuned = True
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    return gc.get_freeze_count()
