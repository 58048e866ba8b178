"""The grouping rules, pure: timers, quiet hours, inhibition, repeats, the rate budget."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from paceline.scoring.delivery.grouping import (
    Change,
    WorkingHours,
    budget,
    group_key,
    group_payload,
    next_free,
    plan,
    source_of,
)
from paceline.scoring.delivery.messages import compose, layout
from paceline.shared.delivery_options import DeliveryOptions, RateLimit, delivery_options
from paceline.shared.kpi.calendar import builtin_calendar

T0 = datetime(2026, 8, 3, 2, 0, tzinfo=UTC)  # Monday 10:00 in Shanghai
HOURS = WorkingHours(
    tz=ZoneInfo("Asia/Shanghai"), calendar=builtin_calendar("cn"), start_hour=9, end_hour=18
)


def alert(
    scope: str,
    *,
    team: str | None,
    kind: str = "lag",
    severity: str = "warning",
    kpi: str = "revenue",
    period: str = "2026-08",
    status: str = "open",
) -> dict[str, Any]:
    return {
        "dedup_key": f"{kind}:{scope}:{kpi}",
        "kind": kind,
        "type": kind,
        "scope": scope,
        "team": team,
        "severity": severity,
        "status": status,
        "title": f"{scope} is behind",
        "detail": {"kpi": kpi, "period": period},
    }


def change(
    i: int,
    a: dict[str, Any],
    at: datetime = T0,
    action: str = "opened",
    labels: tuple[str, ...] = ("team", "kind"),
) -> Change:
    return Change(
        id=i,
        alert_key=str(a["dedup_key"]),
        group_key=group_key(a, action=action, labels=labels),
        action=action,
        created_at=at,
        alert=a,
    )


def run(changes: list[Change], now: datetime, room: int = 100, **kw: Any) -> Any:
    opts = kw.pop("options", DeliveryOptions())
    return plan(
        changes,
        options=opts,
        now=now,
        last_message_at=kw.pop("last", {}),
        last_shown=kw.pop("shown", {}),
        sources=kw.pop("sources", []),
        sole_root=kw.pop("sole_root", None),
        hours=HOURS,
        room=room,
    )


def test_a_burst_waits_group_wait_then_goes_as_one_message_per_group() -> None:
    cs = [
        change(i, alert(f"rep:r{i}", team="north" if i % 2 else "south", kind="data_quality"))
        for i in range(1, 11)
    ]
    early = run(cs, T0 + timedelta(seconds=29))
    assert early.messages == []
    assert early.next_due == T0 + timedelta(seconds=30)
    due = run(cs, T0 + timedelta(seconds=30))
    assert sorted(len(m) for m in due.messages) == [5, 5]
    assert {c.group_key for c in due.messages[0]} in (
        {"team=north|kind=data_quality"},
        {"team=south|kind=data_quality"},
    )


def test_group_interval_follows_the_previous_message() -> None:
    c = change(1, alert("rep:a", team="north"), at=T0)
    last = {c.group_key: T0 - timedelta(seconds=100)}
    p = run([c], T0 + timedelta(seconds=60), last=last)
    assert p.messages == []
    assert p.next_due == T0 + timedelta(seconds=200)
    assert len(run([c], T0 + timedelta(seconds=200), last=last).messages) == 1


def test_more_groups_than_room_fold_the_rest_into_the_last_message() -> None:
    cs = [change(i, alert(f"team:t{i}", team=f"t{i}")) for i in range(1, 8)]
    p = run(cs, T0 + timedelta(minutes=1), room=3)
    assert [len(m) for m in p.messages] == [1, 1, 5]
    assert sorted(c.id for m in p.messages for c in m) == list(range(1, 8))
    none = run(cs, T0 + timedelta(minutes=1), room=0)
    assert none.messages == []
    assert none.next_due is not None


def test_quiet_hours_hold_until_the_next_working_morning_but_not_critical() -> None:
    friday_night = datetime(2026, 9, 25, 14, 0, tzinfo=UTC)  # Friday 22:00 in Shanghai
    warn = change(1, alert("rep:a", team="north"), at=friday_night)
    crit = change(2, alert("rep:b", team="north", severity="critical"), at=friday_night)
    p = run([warn, crit], friday_night + timedelta(minutes=1))
    assert [[c.id for c in m] for m in p.messages] == [[2]]
    # Saturday 2026-09-26 and Sunday are days off; the next working morning is Monday 09:00
    # (the cn calendar's 2026 National Day make-up days fall later).
    monday = datetime(2026, 9, 28, 9, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    assert p.next_due == monday
    assert run([warn], monday - timedelta(minutes=1)).messages == []
    # Released at 09:00, it waits group_wait like any new group's first change.
    assert run([warn], monday).messages == []
    morning = run([warn], monday + timedelta(seconds=30)).messages
    assert [[c.id for c in m] for m in morning] == [[1]]
    off = run(
        [warn], friday_night + timedelta(minutes=1), options=DeliveryOptions(quiet_hours=False)
    )
    assert len(off.messages) == 1


def test_a_team_lag_covers_its_reps_and_the_company_covers_the_sole_top_team() -> None:
    team = change(1, alert("team:north", team="north"))
    rep = change(2, alert("rep:r1", team="north"))
    other_kpi = change(3, alert("rep:r2", team="north", kpi="visits"))
    worse = change(4, alert("rep:r3", team="north", severity="critical"))
    company = change(5, alert("company", team=None))
    hq = change(6, alert("team:hq", team="hq"))
    p = run([team, rep, other_kpi, worse, company, hq], T0 + timedelta(minutes=1), sole_root="hq")
    sent = {c.id for m in p.messages for c in m}
    assert sent == {1, 3, 4, 5}
    assert {k: v[1] for k, v in p.attached.items()} == {2: team.alert_key, 6: company.alert_key}
    # The team's alert went out earlier and is still open: the rep's change is left out.
    src = source_of(team.alert)
    assert src is not None
    later = run([rep], T0 + timedelta(minutes=1), sources=[src])
    assert later.messages == []
    assert later.suppressed == {2: f"covered by {team.alert_key}"}
    off = run(
        [rep], T0 + timedelta(minutes=1), sources=[src], options=DeliveryOptions(inhibit=False)
    )
    assert len(off.messages) == 1


def test_a_repeat_of_what_the_channel_last_saw_is_left_out() -> None:
    c = change(1, alert("rep:a", team="north"), action="reopened")
    shown = {c.alert_key: ("open", "warning", T0 - timedelta(hours=1))}
    assert run([c], T0 + timedelta(minutes=1), shown=shown).suppressed == {1: "repeat"}
    old = {c.alert_key: ("open", "warning", T0 - timedelta(hours=5))}
    assert len(run([c], T0 + timedelta(minutes=1), shown=old).messages) == 1


@given(
    st.lists(st.integers(min_value=0, max_value=600), max_size=80),
    st.sampled_from([(20, 60.0), (5, 1.0), (1, 1.0)]),
)
def test_sending_at_next_free_never_exceeds_the_limit(
    offsets: list[int], lim: tuple[int, float]
) -> None:
    limits = [RateLimit(*lim)]
    sent: list[datetime] = []
    for off in sorted(offsets):
        at = next_free(limits, sent, T0 + timedelta(seconds=off))
        assert budget(limits, sent, at) > 0
        sent.append(at)
    for t in sent:
        inside = [u for u in sent if t <= u < t + timedelta(seconds=lim[1])]
        assert len(inside) <= lim[0]


def test_standard_keeps_one_event_per_change_and_bots_always_group() -> None:
    assert delivery_options("standard", None).grouping is False
    assert delivery_options("standard", {"grouping": True}).grouping is True
    assert delivery_options("wecom", {"grouping": False}).grouping is True


def test_every_alert_is_named_within_wecom_size_by_team_name() -> None:
    cs = [change(i, alert(f"rep:r{i:03d}", team="north")) for i in range(1, 183)]
    payloads = {c.id: {"data": {"alert": dict(c.alert), "event": {"action": "opened"}}} for c in cs}
    body = group_payload(
        tenant_id="t",
        locale="zh-CN",
        key="team=north|kind=lag",
        members=cs,
        covered={},
        payloads=payloads,
        now=T0,
    )
    body["data"]["group"]["names"] = {"team:north": "华北区"}
    title, text = layout(compose(body), "wecom", "zh-CN")
    assert len(f"**{title}**\n{text}".encode()) <= 4096
    assert all(f"rep:r{i:03d}" in text for i in range(1, 183))
    assert title == "华北区 · 进度落后：182 条告警变化"
