"""Keeping Python's full garbage collections short while the console runs.

A full (generation 2) collection walks every tracked object in the process. Once the engine
has started, the heap holds some 150,000 objects that live as long as the process: Textual's
widget tree and stylesheet, instrument tables, the strategies' warm-up history, loaded modules.
Under a 5,000 msgs/s feed full collections ran every second or two and each took 35-230 ms, a
frozen screen and a late key press every time (measured by benchmarks/bench_ui.py). Moving the
start-up objects into the permanent generation (`gc.freeze`) leaves collections only the
objects made since, and cut them to 5-20 ms.
"""

from __future__ import annotations

import gc

_frozen = False


def freeze_startup_heap() -> int:
    """Collect once, then freeze what survives; later calls do nothing. Returns how many
    objects were frozen (0 when already done)."""
    global _frozen
    if _frozen:
        return 0
    _frozen = True
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()
