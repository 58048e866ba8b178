"""A lag warning needs evidence: a count KPI expected below ``lag_min_expected`` is not
judged, and a count's shortfall within counting noise (``lag_noise_z`` x sqrt(expected))
is not a lag."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from types import SimpleNamespace
from typing import cast

import orjson
import pytest

from paceline.scoring.alerts.lag import LEVELS, _detail, _title, _too_few, _within_noise
from paceline.scoring.alerts.words import period_label
from paceline.shared.alert_options import AlertOptions
from paceline.shared.db.models import Target
from paceline.shared.i18n import Msg, from_json, render, to_json
from paceline.shared.kpi.catalog import builtin
from paceline.shared.kpi.pace import PaceResult, Thresholds
from paceline.shared.kpi.periods import parse_period
from paceline.shared.kpi.values import KpiValue
from paceline.shared.readmodel.evaluation import pace_of
from paceline.shared.readmodel.progress import ProgressResult
from paceline.shared.readmodel.scopes import Scope


def result(kpi: str, expected: str | None, actual: str = "1") -> ProgressResult:
    pace = PaceResult(
        expected=None if expected is None else Decimal(expected),
        expected_method="working_days",
        elapsed_share=Decimal("0.5"),
        pace=Decimal("0.5"),
        projection_linear=None,
        projection_seasonal=None,
        status="at_risk",
    )
    return ProgressResult(
        kpi=builtin(kpi),
        scope=Scope("rep", "r1"),
        period=parse_period("2026-11", fiscal_year_start_month=1),
        as_of=datetime(2026, 11, 16, tzinfo=UTC),
        end=date(2026, 11, 16),
        value=KpiValue(value=Decimal(actual), numerator=None, denominator=None, sample=1),
        pace=pace,
    )


@pytest.mark.parametrize(
    ("kpi", "expected", "too_few"),
    [
        ("new_customers", "2", True),  # one of an expected two: not judged
        ("new_customers", "4.99", True),
        ("new_customers", "5", False),  # the boundary is judged
        ("visits", "30", False),
        ("revenue", "2", False),  # money is not a count
        ("win_rate", "0.45", False),  # ratios have their own minimum sample
    ],
)
def test_counts_below_the_minimum_expected_are_not_judged(
    kpi: str, expected: str, too_few: bool
) -> None:
    assert _too_few(builtin(kpi), result(kpi, expected), AlertOptions()) is too_few


def test_the_minimum_is_a_tenant_option() -> None:
    options = AlertOptions(lag_min_expected=1)
    assert _too_few(builtin("new_customers"), result("new_customers", "2"), options) is False


@pytest.mark.parametrize(
    ("kpi", "expected", "actual", "noise"),
    [
        # 12 quotes of an expected 13.2: short by 1.2, sqrt(13.2) = 3.63 -> noise.
        ("quotes", "13.2", "12", True),
        # 27 leads of an expected 29.93: short by 2.93 < 5.47 -> noise.
        ("new_opportunities", "29.93", "27", True),
        # Six weeks at a third of the usual rate: 8 of 13.2 is short by 5.2 -> a lag.
        ("quotes", "13.2", "8", False),
        ("visits", "100", "90", True),  # the boundary (10 = 1 x sqrt(100)) is noise
        ("visits", "100", "89.9", False),
        ("revenue", "100", "99", False),  # money has no counting noise
        ("win_rate", "0.45", "0.44", False),
        # A lower-is-better count (a tenant's own, e.g. lost deals): 14 of an expected 9
        # is 5 over, sqrt(9) = 3 -> a lag; 11 is within noise.
        ("lower:visits", "9", "14", False),
        ("lower:visits", "9", "11", True),
    ],
)
def test_a_shortfall_within_counting_noise_is_not_a_lag(
    kpi: str, expected: str, actual: str, noise: bool
) -> None:
    definition = builtin(kpi.removeprefix("lower:"))
    if kpi.startswith("lower:"):
        definition = replace(definition, direction="lower")
    got = _within_noise(definition, result(definition.key, expected, actual), AlertOptions())
    assert got is noise


def test_the_noise_band_is_a_tenant_option() -> None:
    strict = AlertOptions(lag_noise_z=0)
    assert _within_noise(builtin("quotes"), result("quotes", "13.2", "12"), strict) is False
    assert _within_noise(builtin("quotes"), result("quotes", "13.2", "13.2"), strict) is True


@pytest.mark.parametrize(
    ("kpi", "actual", "sample", "level", "pace", "code", "zh_end"),
    [
        # 5 hours against a ceiling of 4: pace 4 / 5, behind (it read 125% before issue 13).
        (
            "response_hours",
            "5",
            3,
            1,
            "0.8000",
            "alerts.lag.behind_lower",
            "进度落后：当前为 5 小时，按进度应不高于 4 小时，为预期进度的 80%",
        ),
        (
            "response_hours",
            "3.2",
            3,
            0,
            "1.2500",
            "alerts.lag.on_track_lower",
            "已回到正常进度：当前为 3.2 小时，按进度应不高于 4 小时，为预期进度的 125%",
        ),
        # No complaints at all: no pace to show, and on track (ahead).
        ("complaint_rate", "0", 12, 0, None, "alerts.lag.on_track", "已回到正常进度"),
    ],
)
def test_lag_of_a_lower_is_better_kpi_reads_the_direction_aware_pace(
    kpi: str,
    actual: str,
    sample: int,
    level: int,
    pace: str | None,
    code: str,
    zh_end: str,
) -> None:
    definition = builtin(kpi)
    value = KpiValue(value=Decimal(actual), numerator=None, denominator=None, sample=sample)
    judged = pace_of(
        definition,
        value,
        target=Decimal(4),
        thresholds=Thresholds(),
        elapsed_working_days=10,
        total_working_days=20,
    )
    assert LEVELS[judged.status] == level
    progress = replace(result(kpi, "4", actual), value=value, pace=judged)
    target = cast(
        Target,
        SimpleNamespace(id=7, kpi=kpi, scope="rep:r1", period="2026-11", end=date(2026, 12, 1)),
    )
    assert _detail(target, progress, level)["pace"] == pace
    title = _title(target, progress, level, scope="张伟")
    assert title.code == code
    assert render(title, "zh-CN") == f"张伟的{definition.name_zh}（2026年11月）{zh_end}"
    english = render(title, "en")
    assert english.startswith(f"张伟 is {'behind' if level else 'back on track'} on ")
    assert (pace is None) == ("% of the expected pace" not in english)


def _money_progress(actual: str, expected: str, pace: str) -> ProgressResult:
    judged = PaceResult(
        expected=Decimal(expected),
        expected_method="working_days",
        elapsed_share=Decimal("0.5"),
        pace=Decimal(pace),
        projection_linear=None,
        projection_seasonal=None,
        status="at_risk",
    )
    value = KpiValue(value=Decimal(actual), numerator=None, denominator=None, sample=1)
    return replace(result("revenue", expected, actual), value=value, pace=judged)


def test_a_lag_title_names_the_rep_the_kpi_and_the_money_in_each_language() -> None:
    """Names, not ids; money in ¥ with 万 in zh-CN prose; the pace as a percentage; the
    period as people say it. The message round-trips through its stored JSON."""
    target = cast(
        Target,
        SimpleNamespace(
            id=7, kpi="revenue", scope="rep:r1", period="2026-11", end=date(2026, 12, 1)
        ),
    )
    progress = _money_progress("180000", "452380.9524", "0.3979")
    title = _title(target, progress, 2, scope="张伟", currency="CNY")
    assert title.code == "alerts.lag.at_risk"
    zh = (
        "张伟的销售额（2026年11月）有完不成的风险："
        "已完成 ¥18万，按进度应完成 ¥45.24万，仅为预期进度的 40%"
    )
    assert render(title, "zh-CN") == zh
    assert render(title, "en") == (
        "张伟 is at risk on Revenue for Nov 2026: CN¥180,000.00 of CN¥452,380.95 expected "
        "(40% of the expected pace)"
    )
    stored = orjson.loads(orjson.dumps(to_json(title)))  # as the alerts.message column keeps it
    assert stored["params"]["actual"] == {"$money": "180000", "currency": "CNY"}
    assert stored["params"]["kpi"] == {"$l10n": {"zh-CN": "销售额", "en": "Revenue"}}
    assert render(from_json(stored), "zh-CN") == zh
    behind = _title(target, progress, 1, scope="张伟", currency="CNY")
    assert render(behind, "zh-CN").startswith("张伟的销售额（2026年11月）进度落后：已完成 ¥18万")


@pytest.mark.parametrize(
    ("period", "zh", "en"),
    [
        ("2026", "2026年度", "2026"),
        ("2026-Q4", "2026年第4季度", "Q4 2026"),
        ("2026-03", "2026年3月", "Mar 2026"),
        ("2026-W48", "2026年第48周", "week 48 of 2026"),
    ],
)
def test_periods_are_named_as_people_say_them(period: str, zh: str, en: str) -> None:
    label = period_label(period)
    assert isinstance(label, Msg)
    assert (render(label, "zh-CN"), render(label, "en")) == (zh, en)
