"""The ingest tests read English by default: most of them check the words of a reason or
a message (what a person would read) and were written in English. Every stack a test of
this folder uses sends ``Accept-Language: en`` unless a request says otherwise; the tests
of the Chinese texts (test_i18n_ingest.py) send ``Accept-Language: zh-CN`` or none where
the tenant's locale (zh-CN) is the point, per request."""

from __future__ import annotations

from typing import Any

import pytest

_STACKS = ("stack", "embedded_stack", "distributed_stack", "clocked", "clocked_both")


def _english(value: Any) -> None:
    if isinstance(value, tuple):
        for part in value:
            _english(part)
        return
    client = getattr(value, "client", None)
    if client is not None:
        client.headers["Accept-Language"] = "en"


@pytest.fixture(autouse=True)
def _english_by_default(request: pytest.FixtureRequest) -> None:
    if request.module.__name__.endswith("test_i18n_ingest"):
        return
    for name in _STACKS:
        if name in request.fixturenames:
            _english(request.getfixturevalue(name))
