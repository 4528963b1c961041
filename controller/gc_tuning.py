"""The collector's settings for a long-lived server process that holds large caches.

With the default thresholds, objects that live only for one request (a rendered page, a parsed
listing) are often still alive at a young collection, get promoted, and soon trigger a full
collection, which scans every cached mapping and costs ~100 ms at 1,000 mappings: the tail of every
admin page (measured by bench/bench_panels.py). A larger first threshold lets request garbage die
young, and freezing what exists once the process is set up keeps it out of later full scans.
"""

from __future__ import annotations

import gc
from typing import Final

YOUNG_THRESHOLD: Final = 50_000
"""Allocations between young collections (CPython's default is 700)."""
OLDER_THRESHOLDS: Final = (20, 20)


def tune_for_serving() -> None:
    """Call once the process has built its long-lived state; idempotent."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
