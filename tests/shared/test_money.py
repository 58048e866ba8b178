"""ISO 4217 codes (issue 17: currency ``ZZZ`` was accepted) and minor units."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from paceline.shared.events import CanonicalEvent
from paceline.shared.money import is_currency, minor_units


@pytest.mark.parametrize("code", ["CNY", "USD", "JPY", "KWD", "HKD", "EUR"])
def test_real_codes_are_currencies(code: str) -> None:
    assert is_currency(code)


@pytest.mark.parametrize("code", ["ZZZ", "XXX", "XTS", "cny", "CN", "RMB"])
def test_made_up_codes_are_not(code: str) -> None:
    assert not is_currency(code)


def test_an_event_in_a_made_up_currency_is_refused() -> None:
    base = {
        "event_id": "e1",
        "type": "deal",
        "occurred_at": "2026-12-01T10:00:00+08:00",
        "rep_id": "r1",
        "stage": "won",
        "amount": "10",
    }
    assert CanonicalEvent.model_validate({**base, "currency": "usd"}).currency == "USD"
    with pytest.raises(ValidationError, match="ISO 4217"):
        CanonicalEvent.model_validate({**base, "currency": "ZZZ"})


def test_minor_units() -> None:
    assert (minor_units("CNY"), minor_units("JPY"), minor_units("KWD")) == (2, 0, 3)
