"""The service processes' garbage-collector settings (PACELINE_GC_GEN0_THRESHOLD)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from paceline.cli.main import tune_gc
from paceline.shared.settings import Settings


@pytest.fixture
def gc_restored() -> Iterator[None]:
    threshold = gc.get_threshold()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def test_threshold_raised_and_start_up_objects_frozen(gc_restored: None) -> None:
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    tune_gc(Settings().gc_gen0_threshold)
    assert gc.get_threshold() == (50_000, 10, 10)
    assert gc.get_freeze_count() > 0


def test_zero_keeps_pythons_settings(gc_restored: None) -> None:
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)
    tune_gc(0)
    assert gc.get_threshold() == (700, 10, 10)
    assert gc.get_freeze_count() == 0


def test_setting_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PACELINE_GC_GEN0_THRESHOLD", "0")
    assert Settings().gc_gen0_threshold == 0
