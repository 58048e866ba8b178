"""Miss drivers, pure: where the plan comes from, the split, and its rounding."""

from __future__ import annotations

from decimal import Decimal

import pytest

from paceline.api.reviews.drivers import (
    DriverData,
    deals_miss,
    quantized,
    revenue_miss,
    split_misses,
)
from paceline.api.reviews.schemas import AttainmentRow, MissOut
from paceline.shared.i18n import render
from paceline.shared.kpi.planning.drivers import DriverEffect

D = Decimal
TEAM = "team:north"
DRIVER_KEYS = ("revenue", "deals_won", "quotes")
# r1 this period: 60,000 from 12 deals out of 30 quotes (a 40% win rate, 5,000 a deal).
R1_NOW = {"revenue": {"rep:r1": "60000"}, "deals_won": {"rep:r1": "12"}, "quotes": {"rep:r1": "30"}}


def _data(
    actual: dict[str, dict[str, str]],
    history: dict[str, dict[str, str]] | None = None,
    planned: dict[tuple[str, str], str] | None = None,
    locale: str = "en",
) -> DriverData:
    def figures(src: dict[str, dict[str, str]]) -> dict[str, dict[str, Decimal]]:
        return {k: {s: D(v) for s, v in src.get(k, {}).items()} for k in DRIVER_KEYS}

    return DriverData(
        team=TEAM,
        actual=figures(actual),
        history=figures(history or {}),
        planned={k: D(v) for k, v in (planned or {}).items()},
        locale=locale,
    )


def _effects(miss: MissOut) -> dict[str, tuple[Decimal | None, Decimal | None, Decimal]]:
    return {d.driver: (d.planned, d.actual, d.effect) for d in miss.drivers}


def test_quantized_effects_add_up_to_the_rounded_gap() -> None:
    effects = [
        DriverEffect("quotes", None, None, D("1.00005")),  # half-even: 1.0000
        DriverEffect("win_rate", None, None, D("2.00015")),  # half-even: 2.0002
        DriverEffect("average_deal", D("1"), D("2"), D("0.0001")),
    ]
    out = quantized(effects, D("3.00004"))
    assert [(d.driver, d.effect) for d in out] == [
        ("quotes", D("1.0000")),
        ("win_rate", D("2.0002")),
        ("average_deal", D("-0.0002")),  # the rest of the rounded gap 3.0000
    ]
    assert (out[2].planned, out[2].actual) == (D("1.0000"), D("2.0000"))


@pytest.mark.parametrize(
    ("scope", "history", "actual", "ratio", "source"),
    [
        (
            "rep:r1",
            {"deals_won": {"rep:r1": "8", TEAM: "1"}, "quotes": {"rep:r1": "20", TEAM: "10"}},
            {},
            D("0.4"),
            "the rep's last 12 months",
        ),
        (
            "rep:r1",
            {"deals_won": {TEAM: "1"}, "quotes": {TEAM: "10"}},
            {"deals_won": {"rep:r1": "1"}, "quotes": {"rep:r1": "2"}},
            D("0.1"),
            "the team's last 12 months",
        ),
        (
            TEAM,
            {"deals_won": {TEAM: "3"}, "quotes": {TEAM: "4"}},
            {},
            D("0.75"),
            "the team's last 12 months",
        ),
        (
            "rep:r1",
            {"deals_won": {"rep:r1": "5"}, "quotes": {"rep:r1": "0"}},
            {"deals_won": {"rep:r1": "1"}, "quotes": {"rep:r1": "2"}},
            D("0.5"),
            "this period (no history)",
        ),
        ("rep:r1", {}, {"deals_won": {"rep:r1": "1"}}, None, "unknown"),
    ],
)
def test_ratio_falls_back(
    scope: str,
    history: dict[str, dict[str, str]],
    actual: dict[str, dict[str, str]],
    ratio: Decimal | None,
    source: str,
) -> None:
    data = _data(actual, history)
    got, label = data.ratio(scope, "deals_won", "quotes")
    assert (got, render(label, "en")) == (ratio, source)


def test_revenue_miss_against_the_driver_targets() -> None:
    # Planned: 40 quotes (target) -> 10 deals (target) -> 10,000 a deal (100,000 / 10).
    data = _data(R1_NOW, planned={("deals_won", "rep:r1"): "10", ("quotes", "rep:r1"): "40"})
    miss = revenue_miss(data, scope="rep:r1", target=D("100000"))
    assert (miss.scope, miss.kpi, miss.gap) == ("rep:r1", "revenue", D("-40000.0000"))
    assert _effects(miss) == {
        "quotes": (D("40.0000"), D("30.0000"), D("-25000.0000")),
        "win_rate": (D("0.2500"), D("0.4000"), D("45000.0000")),
        "average_deal": (D("10000.0000"), D("5000.0000"), D("-60000.0000")),
    }
    assert miss.planned_from == {
        "deals_won": "the rep's deals won target",
        "quotes": "the rep's quotes target",
    }
    assert miss.planned_from_codes["deals_won"] == {
        "code": "reviews.planned.deals_target",
        "params": {"whose": {"$msg": "reviews.whose.rep", "params": {}}},
    }
    assert miss.formula_code == "reviews.formula.revenue"
    assert miss.largest == "average_deal"


def test_a_miss_in_chinese() -> None:
    history = {
        "revenue": {"rep:r1": "160000"},
        "deals_won": {"rep:r1": "20"},
        "quotes": {"rep:r1": "50"},
    }
    miss = revenue_miss(_data(R1_NOW, history, locale="zh-CN"), scope="rep:r1", target=D("1e5"))
    assert miss.formula == "销售额 = 报价单数 × 赢单率（签单数 ÷ 报价单数）× 平均单笔金额"
    assert miss.planned_from == {
        "deals_won": "目标 ÷ 该销售近 12 个月的平均单笔金额",
        "quotes": "计划签单数 ÷ 该销售近 12 个月的赢单率",
    }


def test_revenue_miss_planned_from_history() -> None:
    # Last 12 months: 160,000 from 20 deals out of 50 quotes (8,000 a deal, 40%). The plan:
    # 100,000 / 8,000 = 12.5 deals, 12.5 / 0.4 = 31.25 quotes. The win rate held (40%):
    # 1.25 quotes short x 0.4 x 8,000 = -4,000; the rest is the smaller deals.
    history = {
        "revenue": {"rep:r1": "160000"},
        "deals_won": {"rep:r1": "20"},
        "quotes": {"rep:r1": "50"},
    }
    miss = revenue_miss(_data(R1_NOW, history), scope="rep:r1", target=D("100000"))
    assert _effects(miss) == {
        "quotes": (D("31.2500"), D("30.0000"), D("-4000.0000")),
        "win_rate": (D("0.4000"), D("0.4000"), D("0.0000")),
        "average_deal": (D("8000.0000"), D("5000.0000"), D("-36000.0000")),
    }
    assert miss.planned_from == {
        "deals_won": "target / average deal of the rep's last 12 months",
        "quotes": "planned deals / win rate of the rep's last 12 months",
    }
    assert miss.largest == "average_deal"


def test_deals_miss_planned_from_this_period() -> None:
    # No quotes target, no history: this period's 55% win rate plans 15 / 0.55 quotes; the
    # rate held, so the whole gap of 4 deals is quotes.
    now = {"deals_won": {TEAM: "11"}, "quotes": {TEAM: "20"}}
    miss = deals_miss(_data(now), scope=TEAM, target=D("15"))
    assert (miss.scope, miss.kpi, miss.gap) == (TEAM, "deals_won", D("-4.0000"))
    assert _effects(miss) == {
        "quotes": (D("27.2727"), D("20.0000"), D("-4.0000")),
        "win_rate": (D("0.5500"), D("0.5500"), D("0.0000")),
    }
    assert miss.planned_from == {"quotes": "target / win rate of this period (no history)"}
    assert miss.largest == "quotes"


def test_deals_miss_with_nothing_to_plan_from() -> None:
    now = {"deals_won": {"rep:r5": "0"}, "quotes": {"rep:r5": "0"}}
    miss = deals_miss(_data(now), scope="rep:r5", target=D("2"))
    assert _effects(miss) == {
        "quotes": (D("0.0000"), D("0.0000"), D("0.0000")),
        "win_rate": (D("0.0000"), None, D("-2.0000")),
    }
    assert miss.planned_from == {"quotes": "target / win rate of unknown"}
    assert miss.largest == "win_rate"


def test_split_misses_by_kpi_in_row_order() -> None:
    data = _data(
        {
            "revenue": {"rep:r1": "60000", TEAM: "60000"},
            "deals_won": {"rep:r1": "12", TEAM: "12"},
            "quotes": {"rep:r1": "30", TEAM: "30"},
        }
    )

    def row(scope: str, kpi: str, target: str) -> AttainmentRow:
        return AttainmentRow(
            scope=scope,
            name=None,
            kpi=kpi,
            actual=None,
            target=D(target),
            baseline=None,
            stretch=None,
            attainment=None,
            raw_attainment=None,
            tier="below_baseline",
            met=False,
            status="scored",
            sample=0,
        )

    misses = split_misses(data, [row(TEAM, "deals_won", "20"), row("rep:r1", "revenue", "90000")])
    assert [(m.scope, m.kpi, m.gap, len(m.drivers)) for m in misses] == [
        (TEAM, "deals_won", D("-8.0000"), 2),
        ("rep:r1", "revenue", D("-30000.0000"), 3),
    ]
