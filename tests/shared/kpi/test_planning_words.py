"""The words of planning (pure): findings, suggestion steps and flags as catalog messages,
rendered in zh-CN and en with names, money (¥ and 万), percentages and periods."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from paceline.shared.i18n import L10n, Msg, render
from paceline.shared.kpi.periods import parse_period
from paceline.shared.kpi.planning.common import month_index, period_name
from paceline.shared.kpi.planning.smart import (
    PlanFacts,
    PlanKpi,
    PlanTarget,
    check_plan,
    plan_mismatch,
)
from paceline.shared.kpi.planning.suggestions import suggest_additive, suggest_ratio
from paceline.shared.kpi.planning.sums import PlanNode, mismatches

REVENUE = L10n("销售额", "Revenue")
VISITS = L10n("拜访次数", "Visits")
# Latin words a zh-CN text may hold: the names in these tests, codes and formats people type.
ALLOWED = {"KPI", "on_existing", "revise", "Q1", "W09", "PUT", "children", "resplit"}


def latin_words(text: str) -> set[str]:
    """Words of Latin letters in a text (ids, codes and English words)."""
    return set(re.findall(r"[A-Za-z][A-Za-z0-9_]*", text)) - ALLOWED


def target(index: int, **over: object) -> PlanTarget:
    base: dict[str, object] = {
        "index": index,
        "kpi": "revenue",
        "scope": "rep:r1",
        "period": "2027-Q1",
        "period_valid": True,
        "period_ended": False,
        "value": Decimal(100),
        "has_parent": True,
        "recent_events": True,
        "required_growth": None,
        "history_growth": None,
        "scope_name": "张伟",
    }
    base.update(over)
    return PlanTarget(**base)  # type: ignore[arg-type]


KPIS = {
    "revenue": PlanKpi("revenue", True, "result", ("deal",), name=REVENUE),
    "visits": PlanKpi("visits", True, "process", ("quote", "visit"), name=VISITS),
}


def test_periods_are_named_per_locale() -> None:
    cases = {
        "2027": ("2027年", "2027"),
        "2027-Q1": ("2027年第1季度", "Q1 2027"),
        "2027-03": ("2027年3月", "3/2027"),
        "2027-W09": ("2027年第9周", "week 9 of 2027"),
    }
    for key, (zh, en) in cases.items():
        name = period_name(key)
        assert isinstance(name, Msg)
        assert (render(name, "zh-CN"), render(name, "en")) == (zh, en)
    assert period_name("soon") == "soon"
    assert period_name(None) is None


def test_findings_name_reps_and_kpis_with_percentages() -> None:
    plan = PlanFacts(
        items=(("revenue", Decimal(50)), ("visits", Decimal(30)), ("happiness", Decimal(10))),
        kpis={**KPIS, "happiness": PlanKpi("happiness", False, None)},
        targets=(
            target(0, required_growth=Decimal("0.85"), history_growth=Decimal("0.1")),
            target(1, kpi="visits", recent_events=False, has_parent=False),
            target(2, period_ended=True, period="2026-10"),
        ),
    )
    found = {(f.rule, f.target_index): f for f in check_plan(plan)}
    texts = {key: (render(f.message, "zh-CN"), render(f.fix, "zh-CN")) for key, f in found.items()}
    assert texts[("not_achievable", 0)][0] == (
        "张伟的销售额目标需要比去年同期增长85%，而历史年增长为10%"
    )
    assert texts[("not_achievable", 0)][1].startswith("把目标降到增长约30%")
    assert texts[("not_measurable", 1)][0] == (
        "张伟近 90 天没有报价和拜访事件：无法用已记录的数据衡量拜访次数"
    )
    assert texts[("not_relevant", 1)][0] == "张伟的拜访次数目标没有关联上级目标"
    assert texts[("not_time_bound", 2)][0] == "销售额目标的期间2026年10月已经结束"
    assert texts[("weights_not_100", None)][0] == "权重合计为 90，而不是 100"
    assert texts[("not_specific", None)][0] == "“happiness”没有定义：说不清什么才算数"
    assert render(found[("not_measurable", 1)].message, "en") == (
        "no quote and visit events for 张伟 in the last 90 days: Visits cannot be measured "
        "from what is logged"
    )
    for key, (message, fix) in texts.items():
        assert latin_words(message) <= {"happiness"}, (key, message)
        assert latin_words(fix) == set(), (key, fix)


def test_plan_mismatch_in_money_with_names() -> None:
    year = PlanNode(1, None, "revenue", "team:north", "2026", "year", Decimal("12000000"))
    quarters = [
        PlanNode(2 + q, 1, "revenue", "team:north", f"2026-Q{q + 1}", "quarter", Decimal(v))
        for q, v in enumerate(["3000000", "3000000", "3000000", "4140000.5"])
    ]
    [m] = mismatches([year, *quarters], additive=lambda _k: True)
    f = plan_mismatch(m, kpi_name=REVENUE, scope_name="华北区", currency="CNY")
    assert render(f.message, "zh-CN") == (
        "华北区在2026年的销售额目标为¥1200万，但其 4 个季度子目标合计为¥1314万（差额-¥114万）"
    )
    assert render(f.message, "en") == (
        "the Revenue target of 华北区 for 2026 is CN¥12,000,000.00, but its 4 quarter children "
        "sum to CN¥13,140,000.50 (difference -CN¥1,140,000.50)"
    )
    assert render(f.fix, "zh-CN").startswith("重新拆分下级目标：修订目标 #1 时")
    assert f.params["difference"] == "-1140000.5"  # the exact values stay for machines


def _history(months: int, cutoff: int, value: str) -> dict[int, Decimal]:
    return {m: Decimal(value) for m in range(cutoff - months, cutoff)}


def test_suggestion_steps_show_money_in_wan_and_percentages() -> None:
    cutoff = month_index(parse_period("2026-12").start)
    history = {
        m: Decimal(100_000) * (Decimal("1.2") if m >= cutoff - 12 else 1)
        for m in range(cutoff - 24, cutoff)
    }
    s = suggest_additive(
        history=history,
        cutoff=cutoff,
        period=parse_period("2027-03"),
        week_share=None,
        growth=Decimal("0.6"),
        direction="higher",
        places=2,
        currency="CNY",
    )
    zh = [render(step, "zh-CN") for step in s.steps]
    assert zh[0] == "历史：2024年12月至2026年11月（24 个月）；近 12 个月合计¥144万"
    assert zh[2] == "趋势：每年增长20%"
    assert zh[4] == "目标：去年同期¥12万，增长50%，即¥18万"
    assert zh[5].startswith("挑战：¥18万再提高10%")
    assert [render(f.message, "zh-CN") for f in s.flags] == [
        "增长目标60%超过上限50%：目标按50%计算",
        "目标需要增长60%，但历史年增长为20%：超出 40 个百分点（允许 20 个百分点）",
    ]
    en = [render(step, "en") for step in s.steps]
    assert en[0] == ("history 12/2024 to 11/2026 (24 months); last 12 months CN¥1,440,000.00")
    for text in zh:
        assert latin_words(text) == set(), text


@pytest.mark.parametrize(("direction", "word"), [("higher", "提高"), ("lower", "降低")])
def test_ratio_steps_are_percentages(direction: str, word: str) -> None:
    s = suggest_ratio(
        trailing=Decimal("0.25"),
        trailing_sample=40,
        last_year=Decimal("0.2"),
        growth=Decimal("0.2"),
        direction=direction,
        unit="ratio",
    )
    zh = [render(step, "zh-CN") for step in s.steps]
    assert zh[0] == "基准：近 12 个月的值为25%（40 条记录）"
    assert zh[1].startswith(f"目标：相对{word}20%，即")
    assert zh[2].startswith(f"挑战：再{word}10%，即")
    none = suggest_ratio(
        trailing=None,
        trailing_sample=0,
        last_year=None,
        growth=None,
        direction=direction,
        unit="ratio",
    )
    assert [render(f.message, "zh-CN") for f in none.flags] == [
        "该 KPI 在此范围内没有历史数据：无法给出建议"
    ]
