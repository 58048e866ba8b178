"""Incentive arithmetic, pure (``shared/kpi/incentives``): properties and boundaries.

- tier boundaries are exact: an attainment exactly on a tier's ``from`` pays that tier
  (retroactive: its rate on everything; marginal: the slices below at the lower rates);
- a marginal table pays what a slice-by-slice recount in Fractions pays;
- more of a KPI never earns less: commission (marginal with any rates, retroactive with
  the non-decreasing rates check_plan demands), the bonus curve (any plan check_plan
  accepts), and a rep's whole earnings (commission + bonus + spiff); a cap holds; a
  failing withholding gate pays exactly 0 on what it applies to, and nothing else moves;
- check_plan rejects each broken rule, naming the field;
- round_money is half up at the currency's minor unit, and a total is its rounded lines.
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from paceline.shared.i18n import L10n, Msg, render
from paceline.shared.i18n.catalogs import catalog
from paceline.shared.kpi.incentives.earnings import (
    Figure,
    RepInputs,
    Segment,
    add_amount,
    rep_earnings,
)
from paceline.shared.kpi.incentives.payout import (
    commission,
    payout,
    resolve_curve,
    round_money,
    tier_index,
)
from paceline.shared.kpi.incentives.plans import Bonus, PlanBody, Spiff, Tier, check_plan
from tests.strategies import KNOWN_KPIS, curves, fixed, paying_plans, tier_tables

D = Decimal
TABLE = [("0", "0.02"), ("1", "0.05"), ("1.2", "0.08")]
amounts = fixed(2, 0, 1_000_000)
quotas = fixed(2, 1, 500_000)


def tiers_of(rows: list[tuple[str, str]] | list[dict[str, str]]) -> list[Tier]:
    out = []
    for row in rows:
        start, rate = (row["from"], row["rate"]) if isinstance(row, dict) else row
        out.append(Tier.model_validate({"from": start, "rate": rate}))
    return out


def body_of(*components: dict[str, Any]) -> PlanBody:
    return PlanBody.model_validate({"name_zh": "计划", "name_en": "Plan", "components": components})


def recount_marginal(amount: Decimal, quota: Decimal | None, tiers: list[Tier]) -> Fraction:
    """Slice by slice, in Fractions: the part of the amount between a tier's start and the
    next one's (times the quota) at the tier's rate."""
    a = Fraction(amount)
    if quota is None or quota <= 0 or a <= 0:
        return a * Fraction(tiers[0].rate)
    q = Fraction(quota)
    total = Fraction(0)
    starts = [Fraction(t.start) * q for t in tiers]
    for i, t in enumerate(tiers):
        lo = starts[i]
        hi = starts[i + 1] if i + 1 < len(tiers) else a
        width = min(a, max(hi, lo)) - lo
        if width > 0:
            total += width * Fraction(t.rate)
    return total


def half_up(x: Fraction, places: int) -> Fraction:
    """Round half away from zero (四舍五入) at ``places`` decimals, in Fractions."""
    scale = 10**places
    n = math.floor(abs(x) * scale + Fraction(1, 2))
    return Fraction(n if x >= 0 else -n, scale)


# -- tier boundaries ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mode", "amount", "tier", "paid"),
    [
        ("retroactive", "99999.99", 0, "1999.9998"),
        ("retroactive", "100000", 1, "5000"),  # exactly 100%: the tier from 1
        ("retroactive", "119999.99", 1, "5999.9995"),
        ("retroactive", "120000", 2, "9600"),  # exactly 120%: the tier from 1.2
        ("marginal", "100000", 1, "2000"),  # the slice below 100% at 2%, none at 5% yet
        ("marginal", "100000.01", 1, "2000.0005"),
        ("marginal", "120000", 2, "3000"),  # 2,000 + 20,000 × 5%
        ("marginal", "130000", 2, "3800"),  # the worked example's Ann
        ("marginal", "0", 0, "0"),
    ],
)
def test_an_attainment_on_a_tier_start_pays_that_tier(
    mode: str, amount: str, tier: int, paid: str
) -> None:
    tiers = tiers_of(TABLE)
    quota = D(100000)
    assert tier_index(tiers, D(amount) / quota) == tier
    assert commission(D(amount), quota, tiers, mode) == D(paid)


@given(
    table=st.sampled_from(["marginal", "retroactive"]).flatmap(
        lambda m: st.tuples(st.just(m), tier_tables(mode=m))
    ),
    quota=quotas,
    data=st.data(),
)
def test_tier_starts_belong_to_their_tier(
    table: tuple[str, list[dict[str, str]]], quota: Decimal, data: st.DataObject
) -> None:
    mode, rows = table
    tiers = tiers_of(rows)
    j = data.draw(st.integers(0, len(tiers) - 1))
    amount = tiers[j].start * quota
    assert tier_index(tiers, amount / quota) == j
    paid = commission(amount, quota, tiers, mode)
    if mode == "retroactive":
        assert paid == amount * tiers[j].rate
    else:
        below = sum(
            (
                (Fraction(tiers[i + 1].start) - Fraction(tiers[i].start))
                * Fraction(quota)
                * Fraction(tiers[i].rate)
                for i in range(j)
            ),
            Fraction(0),
        )
        assert Fraction(paid) == below
    if j > 0:  # a hair below the start: the tier before
        just_below = amount - D("0.0001")
        assert tier_index(tiers, just_below / quota) == j - 1
        if mode == "retroactive":
            assert commission(just_below, quota, tiers, mode) == just_below * tiers[j - 1].rate


@pytest.mark.parametrize(
    ("attainment", "paid"),
    [
        ("0.7999", "0"),
        ("0.8", "0.5"),  # the threshold pays the threshold payout
        ("0.9", "0.75"),
        ("1", "1"),
        ("1.2", "1.5"),  # stretch pays the stretch payout
        ("1.3", "1.75"),  # the accelerator above stretch
        ("1.4", "2"),
        ("2", "2"),  # the cap
    ],
)
def test_curve_points_are_exact(attainment: str, paid: str) -> None:
    c = Bonus.model_validate(
        {
            "type": "bonus",
            "key": "b",
            "basis": "revenue",
            "amount": "10000",
            "threshold": "0.8",
            "threshold_payout": "0.5",
            "stretch": "1.2",
            "stretch_payout": "1.5",
            "accelerator": "2.5",
            "cap": "2",
        }
    )
    assert payout(resolve_curve(c), D(attainment)) == D(paid)


# -- marginal = slice-by-slice recount -----------------------------------------------------


@given(
    rows=tier_tables(mode="marginal"),
    quota=st.one_of(st.none(), st.just(D(0)), quotas),
    amount=st.one_of(amounts, fixed(2, -1000, 0)),
)
def test_marginal_commission_equals_a_slice_recount(
    rows: list[dict[str, str]], quota: Decimal | None, amount: Decimal
) -> None:
    tiers = tiers_of(rows)
    assert Fraction(commission(amount, quota, tiers, "marginal")) == recount_marginal(
        amount, quota, tiers
    )


# -- more never earns less -----------------------------------------------------------------


@given(
    rows=st.lists(
        st.tuples(fixed(2, D("0.01"), 3), fixed(4, 0, D("0.3"))),
        max_size=4,
        unique_by=lambda r: r[0],
    ),
    first_rate=fixed(4, 0, D("0.3")),
    mode=st.sampled_from(["marginal", "retroactive"]),
    quota=st.one_of(st.none(), quotas),
    a=amounts,
    b=amounts,
)
def test_more_revenue_never_earns_less_commission(
    rows: list[tuple[Decimal, Decimal]],
    first_rate: Decimal,
    mode: str,
    quota: Decimal | None,
    a: Decimal,
    b: Decimal,
) -> None:
    """Marginal with any rates; retroactive with non-decreasing rates (check_plan)."""
    rows = sorted(rows)
    rates = [first_rate, *(r for _s, r in rows)]
    if mode == "retroactive":
        rates.sort()
    tiers = tiers_of(
        [(str(s), str(r)) for s, r in zip([D(0), *(s for s, _ in rows)], rates, strict=True)]
    )
    plan = {"type": "commission", "key": "c", "kpi": "revenue", "mode": mode}
    plan["tiers"] = [{"from": str(t.start), "rate": str(t.rate)} for t in tiers]
    assert check_plan(body_of(plan), known_kpis=KNOWN_KPIS) == []
    lo, hi = sorted([a, b])
    assert commission(lo, quota, tiers, mode) <= commission(hi, quota, tiers, mode)


def test_a_decreasing_retroactive_table_would_pay_less_for_more() -> None:
    """Why check_plan refuses it: crossing the tier loses money."""
    tiers = tiers_of([("0", "0.05"), ("1", "0.02")])
    assert commission(D(100), D(100), tiers, "retroactive") < commission(
        D(99), D(100), tiers, "retroactive"
    )


@given(
    curve=curves(),
    baseline=st.one_of(st.none(), fixed(2, 0, 2)),
    stretch=st.one_of(st.none(), fixed(2, 0, 3)),
    a=st.one_of(st.none(), fixed(4, 0, 5)),
    b=fixed(4, 0, 5),
)
def test_the_bonus_curve_never_pays_less_for_more(
    curve: dict[str, str],
    baseline: Decimal | None,
    stretch: Decimal | None,
    a: Decimal | None,
    b: Decimal,
) -> None:
    """Any curve check_plan accepts, with or without a target's baseline and stretch."""
    c = Bonus.model_validate(
        {"type": "bonus", "key": "b", "basis": "revenue", "amount": "1000", **curve}
    )
    assert check_plan(body_of(c.model_dump(by_alias=True)), known_kpis=KNOWN_KPIS) == []
    points = resolve_curve(c, baseline=baseline, stretch=stretch)
    pa, pb = payout(points, a), payout(points, b)
    assert pb >= 0
    if a is None or a <= b:
        assert pa <= pb, (a, b, points)
    else:
        assert pa >= pb, (a, b, points)
    if c.cap is not None:
        assert max(pa, pb) <= c.cap
    # Points: the threshold pays its payout, the target 1, stretch its payout (capped).
    for at, paid in points.points:
        want = paid if c.cap is None else min(paid, c.cap)
        assert payout(points, at) == want
    if points.points[0][0] > 0:
        assert payout(points, points.points[0][0] - D("0.0001")) == 0


DEC = (date(2026, 12, 1), date(2027, 1, 1))


def rep_inputs(
    body: PlanBody,
    *,
    revenue: Decimal,
    target: Decimal | None,
    baseline: Decimal | None,
    stretch: Decimal | None,
    new_customers: int,
    collection: tuple[Decimal, Decimal] | None = None,
    currency: str = "CNY",
) -> RepInputs:
    figures = {
        "revenue": Figure(
            "revenue",
            "value",
            D(1),
            revenue,
            None,
            target=target,
            baseline=baseline,
            stretch=stretch,
        ),
        "new_customers": Figure("new_customers", "value", D(1), D(new_customers), None),
    }
    if collection is not None:
        figures["collection_rate"] = Figure(
            "collection_rate", "ratio", D(1), collection[0], collection[1], sample=1
        )
    return RepInputs(
        rep="r1",
        currency=currency,
        segments=(Segment("p", 1, body, DEC[0], DEC[1], Fraction(1)),),
        figures=figures,
        own={(0, "revenue"): revenue},
        own_period={"revenue": revenue},
        counts={(0, "newcust"): D(new_customers)},
    )


target_parts = st.tuples(
    st.one_of(st.none(), quotas),
    st.one_of(st.none(), fixed(2, 0, 500_000)),
    st.one_of(st.none(), fixed(2, 0, 1_500_000)),
)


@given(
    plan=paying_plans(),
    revenue=amounts,
    more=fixed(2, 0, 500_000),
    target=target_parts,
    new_customers=st.integers(0, 5),
)
def test_more_revenue_never_earns_less(
    plan: dict[str, Any],
    revenue: Decimal,
    more: Decimal,
    target: tuple[Decimal | None, Decimal | None, Decimal | None],
    new_customers: int,
) -> None:
    """Commission + bonus + spiff, no gates or modifiers: every line and the total."""
    body = PlanBody.model_validate(plan)
    assert check_plan(body, known_kpis=KNOWN_KPIS) == []
    quota, baseline, stretch = target
    inputs = rep_inputs(
        body,
        revenue=revenue,
        target=quota,
        baseline=baseline,
        stretch=stretch,
        new_customers=new_customers,
    )
    before = rep_earnings(inputs)
    after = rep_earnings(add_amount(inputs, "revenue", more))
    assert after.total >= before.total
    for key, amount in before.by_component().items():
        assert after.by_component()[key] >= amount, key
    # The spiff does not depend on revenue; the bonus never exceeds its cap.
    spiff = body.components[2]
    assert isinstance(spiff, Spiff)
    assert after.by_component()["newcust"] == round_money(spiff.amount * new_customers, "CNY")
    bonus = body.components[1]
    assert isinstance(bonus, Bonus)
    if bonus.cap is not None:
        assert after.by_component()["attain"] <= round_money(bonus.amount * bonus.cap, "CNY")


@given(
    plan=paying_plans(),
    revenue=amounts,
    more=fixed(2, 0, 500_000),
    target=target_parts,
    applies_to=st.one_of(
        st.none(), st.lists(st.sampled_from(["rev", "attain", "newcust"]), min_size=1, unique=True)
    ),
    rate=st.tuples(fixed(2, 0, 79), fixed(2, 80, 100)),
)
def test_a_failing_withholding_gate_pays_exactly_nothing(
    plan: dict[str, Any],
    revenue: Decimal,
    more: Decimal,
    target: tuple[Decimal | None, Decimal | None, Decimal | None],
    applies_to: list[str] | None,
    rate: tuple[Decimal, Decimal],
) -> None:
    """回款率 below 80% withholds what the gate applies to (by default the bonus), however
    much revenue there is; the other lines are as without the gate."""
    gate: dict[str, Any] = {
        "type": "gate",
        "key": "collect",
        "kpi": "collection_rate",
        "min": "0.8",
    }
    if applies_to is not None:
        gate["applies_to"] = applies_to
    free = PlanBody.model_validate(plan)
    gated = PlanBody.model_validate({**plan, "components": [*plan["components"], gate]})
    assert check_plan(gated, known_kpis=KNOWN_KPIS) == []
    withheld = set(applies_to) if applies_to is not None else {"attain"}
    quota, baseline, stretch = target
    collected, due = rate
    for extra in (D(0), more):
        common: dict[str, Any] = {
            "revenue": revenue,
            "target": quota,
            "baseline": baseline,
            "stretch": stretch,
            "new_customers": 3,
            "collection": (collected, D(100)),
        }
        got = rep_earnings(add_amount(rep_inputs(gated, **common), "revenue", extra))
        want = rep_earnings(add_amount(rep_inputs(free, **common), "revenue", extra))
        for key, amount in got.by_component().items():
            assert amount == (0 if key in withheld else want.by_component()[key]), key
        # Passing (collection at or above 80%): as without the gate.
        common["collection"] = (due, D(100))
        passing = rep_earnings(add_amount(rep_inputs(gated, **common), "revenue", extra))
        assert passing.by_component() == want.by_component()


# -- check_plan ----------------------------------------------------------------------------

COMMISSION = {"type": "commission", "key": "rev", "kpi": "revenue"}
BONUS = {"type": "bonus", "key": "attain", "basis": "revenue", "amount": "1000"}


def tiered(*rows: tuple[str, str], mode: str = "marginal") -> dict[str, Any]:
    return {**COMMISSION, "mode": mode, "tiers": [{"from": f, "rate": r} for f, r in rows]}


@pytest.mark.parametrize(
    ("components", "fields"),
    [
        ([tiered(("0", "0.01"), ("1", "0.02"), ("0.5", "0.03"))], ["components[0].tiers[2].from"]),
        ([tiered(("0", "0.01"), ("1", "0.02"), ("1", "0.03"))], ["components[0].tiers[2].from"]),
        ([tiered(("0.5", "0.01"), ("1", "0.02"))], ["components[0].tiers[0].from"]),
        ([BONUS, {**BONUS, "key": "b2", "cap": "0.9"}], ["components[1].cap"]),
        (
            [{**BONUS, "stretch": "1.5", "stretch_payout": "2", "cap": "1.8"}],
            ["components[0].cap"],
        ),
        (
            [{**BONUS, "threshold": "0.5", "threshold_payout": "0.8", "cap": "0.9"}],
            ["components[0].cap"],
        ),
        ([{**BONUS, "threshold": "1"}], ["components[0].threshold"]),
        ([{**BONUS, "threshold": "1.2"}], ["components[0].threshold"]),
        ([{**BONUS, "stretch": "1"}], ["components[0].stretch"]),
        ([{**BONUS, "stretch": "0.9"}], ["components[0].stretch"]),
        (
            [tiered(("0", "0.03"), ("1", "0.05"), ("1.2", "0.04"), mode="retroactive")],
            ["components[0].tiers[2].rate"],
        ),
        (
            [BONUS, {**COMMISSION, "kpi": "nope", "tiers": [{"from": "0", "rate": "0.1"}]}],
            ["components[1].kpi"],
        ),
        ([{**BONUS, "basis": "nope"}], ["components[0].basis"]),
        (
            [
                BONUS,
                {
                    "type": "gate",
                    "key": "g",
                    "kpi": "collection_rate",
                    "min": "0.8",
                    "applies_to": ["attain", "nope"],
                },
            ],
            ["components[1].applies_to[1]"],
        ),
        (
            [
                BONUS,
                {
                    "type": "modifier",
                    "key": "m",
                    "kpi": "complaints",
                    "per_unit": "-0.1",
                    "applies_to": ["x"],
                },
            ],
            ["components[1].applies_to[0]"],
        ),
    ],
)
def test_check_plan_names_each_broken_rule(
    components: list[dict[str, Any]], fields: list[str]
) -> None:
    findings = check_plan(body_of(*components), known_kpis=KNOWN_KPIS)
    assert [f.field for f in findings] == fields, findings
    # Each reason is a catalog message (pure: a code and parameters), with text in both
    # languages, Chinese in zh-CN.
    for f in findings:
        assert isinstance(f.reason, Msg), f
        assert f.reason.code in catalog("zh-CN"), f.reason.code
        zh = render(f.reason, "zh-CN")
        assert any("\u4e00" <= ch <= "\u9fff" for ch in zh), zh
        assert render(f.reason, "en") != zh


def test_a_kpi_of_the_wrong_kind_is_named_by_its_name() -> None:
    """The reason names the KPI as people know it (收入), the key beside it."""
    names = {"revenue": L10n("收入", "Revenue")}
    (finding,) = check_plan(
        body_of({**COMMISSION, "tiers": [{"from": "0", "rate": "0.1"}]}),
        known_kpis={**KNOWN_KPIS, "revenue": "ratio"},
        kpi_names=names,
    )
    assert finding.field == "components[0].kpi"
    assert isinstance(finding.reason, Msg)
    assert finding.reason.code == "incentives.plan.not_additive"
    assert render(finding.reason, "zh-CN") == "收入（revenue）不是求和或计数类 KPI，不能计提成"
    assert render(finding.reason, "en") == "Revenue (revenue) is not a sum or count KPI"


def test_a_retroactive_table_may_keep_its_rate() -> None:
    same = tiered(("0", "0.03"), ("1", "0.03"), mode="retroactive")
    down_marginal = tiered(("0", "0.03"), ("1", "0.01"))
    assert check_plan(body_of(same, {**down_marginal, "key": "m"}), known_kpis=KNOWN_KPIS) == []


@pytest.mark.parametrize(
    ("component", "loc"),
    [
        (tiered(("0", "0.01"), ("1", "-0.02")), ("tiers", 1, "rate")),
        (tiered(("-0.5", "0.01")), ("tiers", 0, "from")),
        ({**BONUS, "amount": "-1"}, ("amount",)),
        ({**BONUS, "cap": "-1"}, ("cap",)),
        ({**BONUS, "accelerator": "-0.5"}, ("accelerator",)),
    ],
)
def test_negative_rates_and_amounts_fail_the_field_types(
    component: dict[str, Any], loc: tuple[Any, ...]
) -> None:
    with pytest.raises(ValidationError) as info:
        body_of(component)
    (error,) = info.value.errors()
    assert error["loc"][:2] == ("components", 0)
    assert error["loc"][-len(loc) :] == loc


# -- rounding ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "rounded"),
    [
        ("1.005", "CNY", "1.01"),
        ("1.004999", "CNY", "1.00"),
        ("2.675", "CNY", "2.68"),
        ("-1.005", "CNY", "-1.01"),  # a clawback: half away from zero, as its credit
        ("0.5", "JPY", "1"),
        ("2.5", "JPY", "3"),  # half up, not to even
        ("1499.4999", "JPY", "1499"),
        ("0.0005", "KWD", "0.001"),
        ("1.2344999", "KWD", "1.234"),
        ("7", "KWD", "7.000"),
        ("7", "CNY", "7.00"),
    ],
)
def test_round_money_is_half_up_at_the_minor_unit(amount: str, currency: str, rounded: str) -> None:
    got = round_money(D(amount), currency)
    assert (got, str(got)) == (D(rounded), rounded)


@given(
    amount=st.one_of(fixed(6, -(10**7), 10**7), fixed(3, -(10**9), 10**9)),
    currency=st.sampled_from([("CNY", 2), ("JPY", 0), ("KWD", 3), ("USD", 2)]),
)
def test_round_money_equals_half_up_in_fractions(
    amount: Decimal, currency: tuple[str, int]
) -> None:
    code, places = currency
    got = round_money(amount, code)
    assert got.as_tuple().exponent == -places
    assert Fraction(got) == half_up(Fraction(amount), places)
    assert abs(Fraction(got) - Fraction(amount)) <= Fraction(1, 2 * 10**places)


@given(
    plan=paying_plans(),
    revenue=fixed(4, 0, 1_000_000),
    target=target_parts,
    new_customers=st.integers(0, 5),
    currency=st.sampled_from(["CNY", "JPY", "KWD"]),
)
def test_a_total_is_the_sum_of_its_rounded_lines(
    plan: dict[str, Any],
    revenue: Decimal,
    target: tuple[Decimal | None, Decimal | None, Decimal | None],
    new_customers: int,
    currency: str,
) -> None:
    quota, baseline, stretch = target
    earned = rep_earnings(
        rep_inputs(
            PlanBody.model_validate(plan),
            revenue=revenue,
            target=quota,
            baseline=baseline,
            stretch=stretch,
            new_customers=new_customers,
            currency=currency,
        )
    )
    assert [ln.amount for ln in earned.lines] == [
        round_money(ln.exact, currency) for ln in earned.lines
    ]
    assert earned.total == sum(ln.amount for ln in earned.lines)
    # One rounding per line: the total may differ from the rounded exact sum, by at
    # most half a minor unit per line.
    exact = sum(Fraction(ln.exact) for ln in earned.lines)
    assert abs(Fraction(earned.total) - exact) <= Fraction(
        len(earned.lines), 2 * 10 ** {"JPY": 0, "KWD": 3}.get(currency, 2)
    )


def test_a_pro_rata_line_rounds_its_exact_value() -> None:
    """A bonus of 15.75 at 100% for one day of a 30-day month: 0.525, half up 0.53."""
    body = body_of({**BONUS, "amount": "15.75"})
    inputs = rep_inputs(
        body, revenue=D(100), target=D(100), baseline=None, stretch=None, new_customers=0
    )
    share = Fraction(1, 30)  # as shared/readmodel/earnings.py builds it: exact
    inputs = replace(inputs, segments=(Segment("p", 1, body, DEC[0], DEC[1], share),))
    (line,) = rep_earnings(inputs).lines
    assert Fraction(line.amount) == half_up(Fraction(D("15.75")) * Fraction(1, 30), 2)
