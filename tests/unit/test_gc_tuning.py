"""The API process's collector settings: request garbage dies young, the set-up state is frozen."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from controller.gc_tuning import OLDER_THRESHOLDS, YOUNG_THRESHOLD, tune_for_serving


@pytest.fixture
def collector_restored() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("collector_restored")
def test_serving_raises_the_young_threshold_and_freezes_what_exists() -> None:
    tune_for_serving()
    tune_for_serving()

    assert gc.get_threshold() == (YOUNG_THRESHOLD, *OLDER_THRESHOLDS)
    assert gc.get_freeze_count() > 0
