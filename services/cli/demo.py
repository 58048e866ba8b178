"""The demo company: three teams, 21 reps in three roles, two years of CRM history with
seasonality, a decomposed plan for the current year, and a live trickle of events.

Everything goes through the product's own doors, as a real tenant's data would:

* the org chart through the org service (``PUT /v1/org``'s code);
* the history (source ``import:demo``) and the live events (source ``demo``) through the
  canonical intake (``services/ingest/events``: validation, metrics, request ids) into the
  event log, and from there through the scoring worker like any CRM's;
* the plan through the decomposition service (``POST /v1/targets/decompose``'s code): each
  KPI's company goal for the year split to teams and reps by their historical share, and
  to quarters and months by last years' seasonality; one target is then revised mid-period
  with a reason, so the plan has a version history.

The story: the company grows about 12% a year; activity dips around the Spring Festival
and the National Day holidays and peaks in June and December, with a rush of deals in the
last days of each month. ``rep-03`` (an account manager in the north) was as good as
anyone until about six weeks ago and has fallen behind since (a third of the activity); a
new hire, ``rep-22``, logs visits before the org chart names them (a data-quality flag).

Event ids are deterministic (each rep's day comes from its own seeded random generator):
seeding twice, or on a restart, counts nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import math
import random
import time as monotonic_time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import orjson
from fastapi import FastAPI

from paceline.api.org.schemas import OrgIn, RepIn, TeamIn
from paceline.api.org.service import get_org, replace_org
from paceline.api.settings.schemas import TenantSettingsUpdate
from paceline.api.settings.service import update_settings
from paceline.cli import demo_repository as demo_repo
from paceline.ingest.events.service import ingest_events, parse_body
from paceline.shared.clock import Clock
from paceline.shared.crypto import secret_box
from paceline.shared.db import tenants as tenant_repo
from paceline.shared.db.context import tenant_calendar
from paceline.shared.db.models import Tenant
from paceline.shared.eventlog import EventLog
from paceline.shared.kpi.calendar import WorkCalendar
from paceline.shared.kpi.periods import Period, period_of
from paceline.shared.readmodel import targets as targets_repo
from paceline.shared.runtime import Runtime
from paceline.shared.settings import Settings

log = logging.getLogger(__name__)

HISTORY_SOURCE = "import:demo"
LIVE_SOURCE = "demo"
SEED = 7
LAGGARD = "rep-03"
LAGGARD_WEEKS = 6
LAGGARD_FACTOR = 0.3
STAR = "rep-01"
STAR_FACTOR = 1.35
NEW_HIRE = "rep-22"
# Growth is counted from a fixed day, so a demo that runs across a new year (or resumes
# in one) keeps one curve: last year's history and this year's live events agree.
GROWTH_EPOCH = date(2025, 1, 1)
# Deals close and invoices are paid up to ~60 days after the day that started them: to
# know every event of a day, the days this far back are generated too.
LOOKBACK_DAYS = 90
WORK_START = time(9)
WORK_MINUTES = 10 * 60

TEAMS = [
    ("north", "华北大区 North"),
    ("east", "华东大区 East"),
    ("south", "华南大区 South"),
]
# Per team: three account managers, two channel managers, two presales engineers.
ROLE_MIX = [
    "account_manager",
    "account_manager",
    "account_manager",
    "channel_manager",
    "channel_manager",
    "presales",
    "presales",
]
NAMES = [
    "王伟", "李娜", "张磊", "刘洋", "陈静", "杨帆", "黄敏",
    "赵强", "吴芳", "周杰", "徐丽", "孙浩", "马超", "朱琳",
    "胡斌", "郭婷", "何勇", "林雪", "罗军", "高燕", "梁晨",
]  # fmt: skip
# Activity by month (1.0 = an ordinary month): the Spring Festival in Jan/Feb, the June
# mid-year push, the National Day week in October, the December year-end push.
SEASON = {
    1: 0.9, 2: 0.6, 3: 1.0, 4: 1.0, 5: 0.95, 6: 1.15,
    7: 0.9, 8: 0.85, 9: 1.05, 10: 0.8, 11: 1.1, 12: 1.3,
}  # fmt: skip
YEARLY_GROWTH = 0.12

# Rates per working day by role: visits, leads, quotes (each a deal), complaints, surveys,
# training courses taken.
RATE_KINDS = ("visit", "lead", "quote", "complaint", "survey", "training")
RATES = {
    role: dict(zip(RATE_KINDS, rates, strict=True))
    for role, rates in {
        "account_manager": (1.2, 0.30, 0.25, 0.03, 0.04, 0.125),
        "channel_manager": (0.6, 0.60, 0.30, 0.02, 0.04, 0.125),
        "presales": (0.7, 0.08, 0.22, 0.12, 0.25, 0.125),
    }.items()
}
# A day off carries this share of a working day's activity (someone always answers).
DAY_OFF_SHARE = 0.05
# Shares drawn as steady sequences per rep (see _Steady): won deals, new customers among
# them, training passed; per role where it differs.
WIN_SHARE = {"account_manager": 0.5, "channel_manager": 0.5, "presales": 0.56}
NEW_CUSTOMER_SHARE = 0.3
LEAD_NEW_SHARE = 0.4
PASS_SHARE = 0.93
DEAL_SIZE = {"account_manager": 120_000, "channel_manager": 80_000, "presales": 45_000}
PRODUCT_LINES = ["saas", "saas", "services", "hardware"]
COURSES = ["产品认证 Product", "谈判技巧 Negotiation", "合规 Compliance", "CRM 使用 CRM usage"]

# The plan: every KPI of the three role templates. Additive ones split by historical
# share and seasonality; ratios and averages are the same for every scope and period.
PLAN_GROWTH = Decimal("1.10")
PLAN_KPIS = [
    "revenue",
    "deals_won",
    "new_customers",
    "payments_collected",
    "visits",
    "new_opportunities",
    "quotes",
    "win_rate",
    "gross_margin_rate",
    "response_hours",
    "csat",
    "training_pass_rate",
    "crm_active_days",
]
RATIO_GOALS = {
    "win_rate": (Decimal("0.45"), Decimal("0.40"), Decimal("0.52")),
    "gross_margin_rate": (Decimal("0.30"), Decimal("0.27"), Decimal("0.33")),
    "response_hours": (Decimal("8"), Decimal("12"), Decimal("6")),
    "csat": (Decimal("4.1"), Decimal("3.9"), Decimal("4.4")),
    "training_pass_rate": (Decimal("0.85"), Decimal("0.75"), Decimal("0.95")),
    "crm_active_days": (Decimal("0.85"), Decimal("0.75"), Decimal("0.95")),
}


@dataclass(frozen=True, slots=True)
class DemoRep:
    """A rep of the demo company and how active they are."""

    id: str
    name: str
    team: str
    role: str
    ability: float


def demo_reps() -> list[DemoRep]:
    """The 21 reps: seven per team, abilities from 0.75 to 1.3."""
    rng = random.Random(f"{SEED}:abilities")  # noqa: S311  # demo data, not secrets
    reps = []
    for i, name in enumerate(NAMES):
        team = TEAMS[i // len(ROLE_MIX)][0]
        role = ROLE_MIX[i % len(ROLE_MIX)]
        reps.append(
            DemoRep(f"rep-{i + 1:02d}", name, team, role, round(0.75 + rng.random() * 0.55, 2))
        )
    return reps


def demo_org() -> OrgIn:
    """The demo org chart: headquarters with three regional teams."""
    teams = [TeamIn(id="hq", name="总部 Headquarters")] + [
        TeamIn(id=tid, name=name, parent_id="hq") for tid, name in TEAMS
    ]
    reps = [RepIn(id=r.id, name=r.name, team_id=r.team, role=r.role) for r in demo_reps()]
    return OrgIn(teams=teams, reps=reps)


def history_start(today: date) -> date:
    """The first day of history: January 1st of last year."""
    return date(today.year - 1, 1, 1)


def _rng(*parts: object) -> random.Random:
    return random.Random(":".join(str(p) for p in (SEED, *parts)))  # noqa: S311  # demo data


@functools.cache
def _phase(*parts: str) -> float:
    return _rng("phase", *parts).random()


class _Steady:
    """How many of a kind a rep logs on a day: steady, not a Poisson draw.

    A sales team's month is not a lottery: the demo's reps log about their rate every
    day, so a rep's month lands near their plan and only the planted stories (rep-03
    behind, rep-01 ahead) stand out from it. Counts come from the rep's cumulative rate
    since ``GROWTH_EPOCH`` (a low-discrepancy sequence: the count to date is the
    cumulative rate rounded with a fixed per-rep phase), so any day is computed on its
    own and the same day always gives the same count. Shares (won, passed) run the same
    way along the rep's n-th deal or course.
    """

    def __init__(self, calendar: WorkCalendar) -> None:
        self.calendar = calendar
        self._base: dict[tuple[str, str], list[float]] = {}
        self._rush: dict[date, bool] = {}

    def rush(self, day: date) -> bool:
        """One of the last three working days of the month (the 冲单 days)."""
        found = self._rush.get(day)
        if found is None:
            found = self._rush[day] = _month_end_rush(day, self.calendar)
        return found

    def _rate(self, rep: DemoRep, kind: str, day: date) -> float:
        years = max(0, (day - GROWTH_EPOCH).days) / 365.25
        value = RATES[rep.role][kind] * rep.ability * SEASON[day.month]
        value *= math.pow(1 + YEARLY_GROWTH, years)
        if not self.calendar.is_working_day(day):
            value *= DAY_OFF_SHARE
        elif kind == "quote" and self.rush(day):
            value *= 1.5
        return value

    def _cumulative_base(self, rep: DemoRep, kind: str, day: date) -> float:
        """The rate summed from the epoch through ``day``, without the story's factors."""
        sums = self._base.setdefault((rep.id, kind), [])
        index = (day - GROWTH_EPOCH).days
        if index < 0:
            return 0.0
        while len(sums) <= index:
            previous = sums[-1] if sums else 0.0
            sums.append(previous + self._rate(rep, kind, GROWTH_EPOCH + timedelta(len(sums))))
        return sums[index]

    def _cumulative(self, rep: DemoRep, kind: str, day: date, today: date) -> float:
        total = self._cumulative_base(rep, kind, day)
        factor = {LAGGARD: LAGGARD_FACTOR, STAR: STAR_FACTOR}.get(rep.id)
        start = today - timedelta(weeks=LAGGARD_WEEKS)
        if factor is None or day < start:
            return total
        before = self._cumulative_base(rep, kind, start - timedelta(days=1))
        return before + factor * (total - before)

    def count(self, rep: DemoRep, kind: str, day: date, today: date) -> tuple[int, int]:
        """The rep's number of ``kind`` before ``day`` and on it."""
        phase = _phase(rep.id, kind)
        done = math.floor(self._cumulative(rep, kind, day - timedelta(days=1), today) + phase)
        upto = math.floor(self._cumulative(rep, kind, day, today) + phase)
        return done, max(0, upto - done)

    @staticmethod
    def share(rep: DemoRep, what: str, index: int, share: float) -> bool:
        """Whether the rep's ``index``-th item is among the ``share`` (e.g. won)."""
        phase = _phase(rep.id, what)
        return math.floor((index + 1) * share + phase) > math.floor(index * share + phase)


def _month_end_rush(day: date, calendar: WorkCalendar) -> bool:
    """One of the last three working days of the month."""
    nxt = day + timedelta(days=1)
    left = 0
    while nxt.month == day.month:
        left += calendar.is_working_day(nxt)
        nxt += timedelta(days=1)
    return left < 3


def _working_time(
    rng: random.Random, at: datetime, *, tz: ZoneInfo, calendar: WorkCalendar
) -> datetime:
    """``at`` if it falls in working hours on a working day, else a time in the working
    hours of the next working day (CRMs record closes and payments in office hours)."""
    local = at.astimezone(tz)
    start = datetime.combine(local.date(), WORK_START, tzinfo=tz)
    if calendar.is_working_day(local.date()) and start <= local < start + timedelta(
        minutes=WORK_MINUTES
    ):
        return local
    day = local.date() + timedelta(days=1) if local >= start else local.date()
    while not calendar.is_working_day(day):
        day += timedelta(days=1)
    return datetime.combine(day, WORK_START, tzinfo=tz) + timedelta(
        minutes=rng.randrange(0, WORK_MINUTES)
    )


def rep_day_events(
    rep: DemoRep,
    day: date,
    *,
    tz: ZoneInfo,
    steady: _Steady,
    today: date,
) -> list[dict[str, Any]]:
    """Every event that a rep's activity on ``day`` leads to (later versions included,
    e.g. the deal's close and the invoice's payment), before any filtering by time."""
    rng = _rng(rep.id, day.isoformat())
    base = datetime.combine(day, WORK_START, tzinfo=tz)

    def at(hours: float = WORK_MINUTES / 60) -> datetime:
        return base + timedelta(minutes=rng.randrange(0, int(hours * 60)))

    def office(moment: datetime) -> datetime:
        return _working_time(rng, moment, tz=tz, calendar=steady.calendar)

    def customer() -> str:
        return f"cust-{rep.team}-{rng.randrange(1, 160)}"

    def count(kind: str) -> tuple[int, int]:
        return steady.count(rep, kind, day, today)

    stem = f"{rep.id}-{day.isoformat()}"
    out: list[dict[str, Any]] = []
    _, visits = count("visit")
    # One visit per customer and day (two would be flagged as a duplicate visit).
    for n, number in enumerate(rng.sample(range(1, 160), min(visits, 8))):
        out.append(
            {
                "event_id": f"visit-{stem}-{n}",
                "type": "visit",
                "occurred_at": at(),
                "rep_id": rep.id,
                "customer_id": f"cust-{rep.team}-{number}",
                "channel": rng.choice(["onsite", "onsite", "phone", "video"]),
                "duration_min": rng.choice([20, 30, 45, 60, 90]),
            }
        )
    before, leads = count("lead")
    for n in range(leads):
        out.append(
            {
                "event_id": f"lead-{stem}-{n}",
                "type": "lead",
                "occurred_at": at(),
                "rep_id": rep.id,
                "customer_id": customer(),
                "is_new_customer": steady.share(rep, "lead_new", before + n, LEAD_NEW_SHARE),
                "source": rng.choice(["website", "referral", "trade_fair", "partner"]),
            }
        )
    rush = steady.rush(day)
    before, quotes = count("quote")
    for n in range(quotes):
        k = before + n
        out.extend(
            _deal_events(
                rng,
                rep,
                f"{stem}-{n}",
                at(8),
                customer(),
                rush=rush,
                office=office,
                won=steady.share(rep, "won", k, WIN_SHARE[rep.role]),
                new_customer=steady.share(rep, "new_customer", k, NEW_CUSTOMER_SHARE),
            )
        )
    for n in range(count("complaint")[1]):
        opened = at()
        first_response = opened + timedelta(hours=round(rng.lognormvariate(1.75, 0.35), 1))
        out.append(
            {
                "event_id": f"complaint-{stem}-{n}",
                "type": "complaint",
                "occurred_at": opened,
                "rep_id": rep.id,
                "customer_id": customer(),
                "severity": rng.choice(["low", "low", "medium", "high"]),
                "opened_at": opened,
                "first_response_at": first_response,
                "resolved_at": first_response + timedelta(hours=rng.randrange(2, 96)),
            }
        )
    for n in range(count("survey")[1]):
        out.append(
            {
                "event_id": f"survey-{stem}-{n}",
                "type": "survey",
                "occurred_at": at(),
                "rep_id": rep.id,
                "customer_id": customer(),
                "score": rng.choices([1, 2, 3, 4, 5], [0, 1, 8, 45, 46])[0],
                "nps": rng.choices(range(11), [1, 1, 1, 2, 2, 4, 6, 10, 20, 25, 28])[0],
            }
        )
    before, courses = count("training")
    for n in range(courses):
        out.append(
            {
                "event_id": f"training-{stem}" + (f"-{n}" if n else ""),
                "type": "training",
                "occurred_at": at(),
                "rep_id": rep.id,
                "course": rng.choice(COURSES),
                "passed": steady.share(rep, "passed", before + n, PASS_SHARE),
                "score": rng.randrange(55, 100),
            }
        )
    return out


def _deal_events(
    rng: random.Random,
    rep: DemoRep,
    ident: str,
    sent: datetime,
    customer: str,
    *,
    rush: bool,
    office: Callable[[datetime], datetime],
    won: bool,
    new_customer: bool,
) -> list[dict[str, Any]]:
    """A quote, its deal and, for a won deal, its invoice, each as the CRM last sent it.

    A deal still open (closing after "now") is sent as open, then again as won or lost
    once it closes (:func:`_visible` drops what has not happened yet); an invoice is sent
    unpaid, then again when paid. Every later version carries ``version`` + 1.
    """
    size = DEAL_SIZE[rep.role]
    amount = Decimal(max(5, round(rng.lognormvariate(0, 0.15) * size / 1000))) * 1000
    product = rng.choice(PRODUCT_LINES)
    deal = f"deal-{ident}"
    closed = sent + timedelta(days=rng.randrange(3, 26), hours=rng.randrange(0, 7))
    if rush and rng.random() < 0.7:
        closed = sent + timedelta(hours=rng.randrange(2, 30))  # 冲单: closed before month end
    closed = office(closed)
    margin = (amount * Decimal(str(round(0.29 + rng.random() * 0.06, 3)))).quantize(Decimal(1))
    common = {"rep_id": rep.id, "customer_id": customer, "amount": str(amount)}
    out: list[dict[str, Any]] = [
        {"event_id": f"quote-{ident}", "type": "quote", "occurred_at": sent, "status": "sent"}
        | common,
        {
            "event_id": f"{deal}-v1",
            "type": "deal",
            "entity_id": deal,
            "version": 1,
            "occurred_at": sent,
            "stage": "open",
            "product_line": product,
            "until": closed,  # superseded then: sent only while the deal is open
        }
        | common,
        {
            "event_id": f"{deal}-v2",
            "type": "deal",
            "entity_id": deal,
            "version": 2,
            "occurred_at": closed,
            "closed_at": closed,
            "stage": "won" if won else "lost",
            "margin": str(margin),
            "is_new_customer": new_customer,
            "product_line": product,
        }
        | common,
    ]
    if won:
        invoice = f"inv-{ident}"
        due = (closed + timedelta(days=30)).date()
        paid = None
        if rng.random() < 0.93:
            paid = office(
                closed + timedelta(days=30 + rng.randrange(-8, 25), hours=rng.randrange(0, 8))
            )
        bill = {"invoice_id": invoice, "amount_due": str(amount), "due_date": due}
        out.append(
            {
                "event_id": f"{invoice}-v1",
                "type": "payment",
                "entity_id": invoice,
                "version": 1,
                "occurred_at": closed,
                "rep_id": rep.id,
                "customer_id": customer,
                "amount_paid": "0",
                "until": paid,
            }
            | bill
        )
        if paid is not None:
            out.append(
                {
                    "event_id": f"{invoice}-v2",
                    "type": "payment",
                    "entity_id": invoice,
                    "version": 2,
                    "occurred_at": paid,
                    "rep_id": rep.id,
                    "customer_id": customer,
                    "amount_paid": str(amount),
                    "paid_at": paid,
                }
                | bill
            )
    return out


def _visible(event: dict[str, Any], now: datetime) -> dict[str, Any] | None:
    """The event as a CRM would have sent it by ``now`` (None: not happened yet, or an
    intermediate version already superseded by then, which a history export leaves out)."""
    if event["occurred_at"] > now:
        return None
    out = dict(event)
    until = out.pop("until", None)
    if until is not None and until <= now:
        return None
    for name in ("first_response_at", "resolved_at"):
        if name in out and out[name] > now:
            del out[name]
    return out


def origin_day_events(
    day: date, *, tz: ZoneInfo, steady: _Steady, today: date
) -> list[dict[str, Any]]:
    """Every event that the activity of ``day`` leads to, for every rep and the new hire
    (later versions included, each with its own time), before any filtering by time."""
    out: list[dict[str, Any]] = []
    for rep in demo_reps():
        out.extend(rep_day_events(rep, day, tz=tz, steady=steady, today=today))
    if day >= today - timedelta(days=9) and steady.calendar.is_working_day(day):
        # The new hire, not yet in the org chart: counted under their id and flagged.
        rng = _rng(NEW_HIRE, day.isoformat())
        customers = rng.sample(range(1, 160), rng.randrange(1, 4))
        for n, number in enumerate(customers):
            out.append(
                {
                    "event_id": f"visit-{NEW_HIRE}-{day.isoformat()}-{n}",
                    "type": "visit",
                    "occurred_at": datetime.combine(day, WORK_START, tzinfo=tz)
                    + timedelta(minutes=rng.randrange(0, WORK_MINUTES)),
                    "rep_id": NEW_HIRE,
                    "customer_id": f"cust-east-{number}",
                    "channel": "onsite",
                    "duration_min": 45,
                }
            )
    return out


def _in_order(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(events, key=lambda e: (e["occurred_at"], e["event_id"]))


def demo_events(
    *,
    now: datetime,
    tz: ZoneInfo,
    calendar: WorkCalendar,
    after: datetime | None = None,
) -> list[dict[str, Any]]:
    """What the demo CRM has sent by ``now`` (after ``after``, if given), in time order.

    From the first day of history, or the days whose activity can still lead to events
    after ``after``. Sent in time order, the newest stored event is a watermark: a
    restart resumes after it and sends nothing twice.
    """
    today = now.astimezone(tz).date()
    first = history_start(today)
    if after is not None:
        first = max(first, after.astimezone(tz).date() - timedelta(days=LOOKBACK_DAYS))
    out: list[dict[str, Any]] = []
    steady = _Steady(calendar)
    day = first
    while day <= today:
        for event in origin_day_events(day, tz=tz, steady=steady, today=today):
            shown = _visible(event, now)
            if shown is not None and (after is None or shown["occurred_at"] > after):
                out.append(shown)
        day += timedelta(days=1)
    return _in_order(out)


class LiveFeed:
    """The demo CRM's live events: the same model as the history, so the live day follows
    the plan's daily expectation (each rep's share, working hours, quiet weekends and
    holidays, rep-03 behind and rep-01 ahead), with the model's own noise.

    A day's events are generated once (every origin day that can lead to them) and then
    handed out as their times pass.
    """

    def __init__(self, *, tz: ZoneInfo, calendar: WorkCalendar) -> None:
        self.tz = tz
        self._steady = _Steady(calendar)
        self._days: dict[date, list[dict[str, Any]]] = {}

    def _day(self, day: date) -> list[dict[str, Any]]:
        cached = self._days.get(day)
        if cached is None:
            found = [
                event
                for origin in (day - timedelta(days=n) for n in range(LOOKBACK_DAYS, -1, -1))
                for event in origin_day_events(origin, tz=self.tz, steady=self._steady, today=day)
                if event["occurred_at"].astimezone(self.tz).date() == day
            ]
            self._days = {d: e for d, e in self._days.items() if d >= day - timedelta(days=1)}
            cached = self._days[day] = _in_order(found)
        return cached

    def between(self, after: datetime, until: datetime) -> list[dict[str, Any]]:
        """The events with ``after`` < time <= ``until``, as the CRM sends them at ``until``."""
        out: list[dict[str, Any]] = []
        day = after.astimezone(self.tz).date()
        while day <= until.astimezone(self.tz).date():
            for event in self._day(day):
                if after < event["occurred_at"] <= until:
                    shown = _visible(event, until)
                    if shown is not None:
                        out.append(shown)
            day += timedelta(days=1)
        return out


def _json(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    raise TypeError(type(value).__name__)


async def send_events(
    eventlog: EventLog,
    events: Sequence[dict[str, Any]],
    *,
    tenant_id: str,
    source: str,
    now: datetime,
    request_id: str,
) -> int:
    """Send events through the canonical intake (validation, metrics, the log); accepted."""
    body = orjson.dumps(list(events), default=_json)
    items = parse_body(body, "application/json", max_events=len(events) + 1)
    answer = await ingest_events(
        items=items,
        tenant_id=tenant_id,
        source=source,
        eventlog=eventlog,
        now=now,
        request_id=request_id,
    )
    if answer.rejected:
        bad = [r for r in answer.results if r.status == "rejected"][:3]
        log.warning("demo: %d events rejected, e.g. %s", answer.rejected, bad)
    return answer.accepted


async def _tenant(runtime: Runtime, tenant_id: str) -> Tenant:
    async with runtime.db.transaction(write=False) as session:
        tenant = await tenant_repo.get_tenant(session, tenant_id=tenant_id)
    if tenant is None:
        raise RuntimeError(f"no tenant {tenant_id!r}")
    return tenant


async def prepare_org(runtime: Runtime, *, tenant_id: str) -> bool:
    """Load the demo org chart unless the tenant has one; True if it was loaded now."""
    now = runtime.clock.now()
    async with runtime.db.transaction() as session:
        tenant = await tenant_repo.get_tenant(session, tenant_id=tenant_id)
        if tenant is None:
            raise RuntimeError(f"no tenant {tenant_id!r}")
        if (await get_org(session, tenant_id=tenant_id)).reps:
            return False
        # Expected-to-date follows last years' curve (the December push is no false alarm).
        await update_settings(
            session, tenant=tenant, update=TenantSettingsUpdate(pace_method="seasonal"), now=now
        )
        # A rep's first team applies to all their history.
        await replace_org(
            session,
            tenant_id=tenant_id,
            org=demo_org(),
            today=now.astimezone(ZoneInfo(tenant.timezone)).date(),
            now=now,
        )
    return True


async def demo_watermark(runtime: Runtime, *, tenant_id: str) -> tuple[datetime | None, set[str]]:
    """The time of the newest demo event stored (history or live), and the ids stored at
    exactly that time: everything the demo CRM sent up to then is there."""
    async with runtime.db.transaction(write=False) as session:
        return await demo_repo.watermark(
            session, tenant_id=tenant_id, sources=(HISTORY_SOURCE, LIVE_SOURCE)
        )


async def seed_history(
    runtime: Runtime, *, tenant_id: str, now: datetime, batch: int = 1000
) -> int:
    """Send the history up to ``now`` as an import (what no earlier run sent); events sent."""
    eventlog = runtime.eventlog
    if eventlog is None:
        raise RuntimeError("the demo needs the event log")
    tenant = await _tenant(runtime, tenant_id)
    tz = ZoneInfo(tenant.timezone)
    async with runtime.db.transaction(write=False) as session:
        calendar = await tenant_calendar(session, tenant=tenant)
    last, at_last = await demo_watermark(runtime, tenant_id=tenant_id)
    # From the watermark's own instant on (another event may share it), less what is stored.
    after = None if last is None else last - timedelta(microseconds=1)
    events = [
        e
        for e in demo_events(now=now, tz=tz, calendar=calendar, after=after)
        if e["event_id"] not in at_last
    ]
    sent = 0
    for number, start in enumerate(range(0, len(events), batch), start=1):
        sent += await send_events(
            eventlog,
            events[start : start + batch],
            tenant_id=tenant_id,
            source=HISTORY_SOURCE,
            now=now,
            request_id=f"demo-history-{number:04d}",
        )
    return sent


async def wait_scored(runtime: Runtime, *, timeout_s: float = 600.0, poll_s: float = 0.25) -> bool:
    """Wait until the scoring group has applied everything the log holds now."""
    eventlog = runtime.eventlog
    if eventlog is None:
        return True
    settings = runtime.settings
    ends = await eventlog.end_offsets()
    deadline = monotonic_time.monotonic() + timeout_s
    while True:
        async with runtime.db.transaction(write=False) as session:
            done = await demo_repo.stored_offsets(
                session, group_id=settings.consumer_group, topic=settings.topic
            )
        if all(done.get(p, 0) >= end for p, end in ends.items() if end > 0):
            return True
        if monotonic_time.monotonic() > deadline:
            return False
        await asyncio.sleep(poll_s)


async def plan_targets(runtime: Runtime, *, tenant_id: str) -> int:
    """Decompose the current year's goals (unless the year has targets); targets made.

    Each company goal is last year's actual grown by 10% (baseline: last year's level,
    stretch: +25%), split to teams and reps by their share of last year and to quarters
    and months by the seasonality of the last two years. Then the company's revenue goal
    for the current quarter is revised upwards with a reason (a second version).
    """
    from paceline.api.planning.decomposition import decompose_goal
    from paceline.api.planning.schemas import DecomposeIn, OrgSplit, TimeSplit
    from paceline.api.targets.schemas import TargetRevision
    from paceline.api.targets.service import revise_target
    from paceline.shared.db.context import find_kpi
    from paceline.shared.readmodel.progress import kpi_value_for
    from paceline.shared.readmodel.scopes import Scope
    from paceline.shared.web.deps import Auditor

    tenant = await _tenant(runtime, tenant_id)
    now = runtime.clock.now()
    today = now.astimezone(ZoneInfo(tenant.timezone)).date()
    year = period_of(today, "year", fiscal_year_start_month=tenant.fiscal_year_start_month)
    last_start = period_of(
        year.start - timedelta(days=1),
        "year",
        fiscal_year_start_month=tenant.fiscal_year_start_month,
    ).start
    made = 0
    async with runtime.db.transaction() as session:
        if await demo_repo.has_targets(session, tenant_id=tenant_id, period=year.key):
            return 0
        calendar = await tenant_calendar(session, tenant=tenant)
        for key in PLAN_KPIS:
            kpi = await find_kpi(session, tenant_id=tenant_id, key=key)
            if kpi is None:
                continue
            if key in RATIO_GOALS:
                target, baseline, stretch = RATIO_GOALS[key]
            else:
                last = await kpi_value_for(
                    session,
                    tenant=tenant,
                    kpi=kpi,
                    scope=Scope("company", None),
                    start=last_start,
                    end=year.start,
                    calendar=calendar,
                )
                level = last.value or Decimal(0)
                if level <= 0:
                    continue
                places = Decimal(1) if kpi.unit != "currency" else Decimal("1000")
                target = (level * PLAN_GROWTH / places).quantize(Decimal(1)) * places
                baseline = (level / places).quantize(Decimal(1)) * places
                stretch = (level * Decimal("1.25") / places).quantize(Decimal(1)) * places
            plan = await decompose_goal(
                session,
                tenant=tenant,
                body=DecomposeIn(
                    kpi=key,
                    scope="company",
                    period=year.key,
                    target=target,
                    baseline=baseline,
                    stretch=stretch,
                    org=OrgSplit(method="historical_share", down_to="rep"),
                    time=TimeSplit(method="seasonality", levels=["quarter", "month"]),
                    preview=False,
                    reason="演示计划：去年 +10%，按占比和季节性拆分",
                ),
                auditor=Auditor(
                    session=session,
                    actor="demo",
                    tenant_id=tenant_id,
                    request_id=None,
                    clock=runtime.clock,
                ),
                now=now,
            )
            made += len(plan.targets)
        quarter = period_of(
            today, "quarter", fiscal_year_start_month=tenant.fiscal_year_start_month
        )
        revised = await targets_repo.find(
            session, tenant_id=tenant_id, kpi="revenue", scope="company", period=quarter.key
        )
        if revised is not None:
            current = await targets_repo.version_in_force(
                session, tenant_id=tenant_id, target_id=revised.id, at=now
            )
            if current is not None:
                value = (Decimal(current.target) * Decimal("1.05")).quantize(Decimal(1000))
                await revise_target(
                    session,
                    tenant=tenant,
                    target_id=revised.id,
                    body=TargetRevision(
                        target=value,
                        baseline=Decimal(current.baseline) if current.baseline else None,
                        stretch=max(value, Decimal(current.stretch)) if current.stretch else None,
                        reason="董事会在秋季展会后上调本季度目标",
                    ),
                    author="demo",
                    now=now,
                )
    return made


# The incentive plans (激励方案), assigned by role from the start of the plan year: account
# managers earn tiered commission on revenue, an attainment bonus gated on 回款率, a spiff
# per new customer in the reference month and a share of their team's pool; channel
# managers earn on payments collected and their scorecard; presales on their scorecard.
INCENTIVE_PLANS: list[dict[str, Any]] = [
    {
        "key": "am",
        "role": "account_manager",
        "name_zh": "客户经理激励",
        "name_en": "Account managers",
        "components": [
            {
                "type": "commission",
                "key": "rev",
                "kpi": "revenue",
                "mode": "marginal",
                "tiers": [
                    {"from": "0", "rate": "0.02"},
                    {"from": "1", "rate": "0.05"},
                    {"from": "1.2", "rate": "0.08"},
                ],
            },
            {
                "type": "bonus",
                "key": "attain",
                "basis": "revenue",
                "amount": "10000",
                "threshold": "0.8",
                "threshold_payout": "0.5",
                "stretch": "1.2",
                "stretch_payout": "1.5",
                "cap": "2",
            },
            {"type": "gate", "key": "collect", "kpi": "collection_rate", "min": "0.8"},
            # "spiff": added with the reference month's days (:func:`incentive_plans`).
            {
                "type": "pool",
                "key": "teampool",
                "basis": "revenue",
                "amount": "15000",
                "split": "attainment",
            },
        ],
    },
    {
        "key": "cm",
        "role": "channel_manager",
        "name_zh": "渠道经理激励",
        "name_en": "Channel managers",
        "components": [
            {
                "type": "commission",
                "key": "collected",
                "kpi": "payments_collected",
                "tiers": [{"from": "0", "rate": "0.015"}, {"from": "1", "rate": "0.03"}],
            },
            {
                "type": "bonus",
                "key": "score",
                "basis": "scorecard",
                "amount": "6000",
                "threshold": "0.6",
                "cap": "1.5",
            },
        ],
    },
    {
        "key": "presales",
        "role": "presales",
        "name_zh": "售前激励",
        "name_en": "Presales",
        "components": [
            {
                "type": "bonus",
                "key": "score",
                "basis": "scorecard",
                "amount": "5000",
                "threshold": "0.6",
                "cap": "1.5",
            },
        ],
    },
]
SPIFF_PER_NEW_CUSTOMER = "500"


def incentive_plans(reference: Period) -> list[dict[str, Any]]:
    """The demo's plans, the account managers' spiff on the reference month's days."""
    spiff = {
        "type": "spiff",
        "key": "newcust",
        "kpi": "new_customers",
        "amount": SPIFF_PER_NEW_CUSTOMER,
        "start": reference.start.isoformat(),
        "end": (reference.end - timedelta(days=1)).isoformat(),
    }
    plans = orjson.loads(orjson.dumps(INCENTIVE_PLANS))
    am = plans[0]["components"]
    am.insert(3, spiff)
    return list(plans)


async def plan_incentives(runtime: Runtime, *, tenant_id: str) -> int:
    """Create the demo's incentive plans and assign them by role from the plan year's
    start (unless the tenant has plans); plans made.

    The reference month (the spiff's days) is the month the dashboard opens on
    (``focus_month``): the current month once enough of it has passed, else the last one.
    Months already closed (demo data from before the plans) get draft statements.
    """
    from paceline.api.dashboard.service import focus_month
    from paceline.api.incentives import service as incentives
    from paceline.api.incentives.schemas import AssignmentIn, PlanIn, StatementsIn
    from paceline.shared.alert_options import alert_options
    from paceline.shared.db.context import close_book
    from paceline.shared.web.deps import Auditor

    tenant = await _tenant(runtime, tenant_id)
    now = runtime.clock.now()
    today = now.astimezone(ZoneInfo(tenant.timezone)).date()
    fiscal = tenant.fiscal_year_start_month
    year = period_of(today, "year", fiscal_year_start_month=fiscal)
    async with runtime.db.transaction() as session:
        if (await incentives.list_plans(session, tenant=tenant)).plans:
            return 0
        calendar = await tenant_calendar(session, tenant=tenant)
        reference = focus_month(
            today,
            calendar=calendar,
            fiscal_year_start_month=fiscal,
            min_share=alert_options(tenant).min_elapsed_share,
        )
        month = period_of(date.fromisoformat(f"{reference}-01"), "month")
        auditor = Auditor(
            session=session, actor="demo", tenant_id=tenant_id, request_id=None, clock=runtime.clock
        )
        plans = incentive_plans(month)
        for plan in plans:
            role = plan.pop("role")
            await incentives.create_plan(
                session,
                tenant=tenant,
                body=PlanIn.model_validate({**plan, "reason": "演示方案"}),
                now=now,
                auditor=auditor,
            )
            await incentives.create_assignment(
                session,
                tenant=tenant,
                body=AssignmentIn(plan=plan["key"], role=role, valid_from=year.start),
                now=now,
                auditor=auditor,
            )
        book = close_book(tenant)
        for key in sorted({c.period for c in book.closes if book.closed_now(c.period)}):
            await incentives.generate_statements(
                session, tenant=tenant, body=StatementsIn(period=key), now=now, auditor=auditor
            )
    return len(plans)


async def seed_demo(
    runtime: Runtime,
    *,
    tenant_id: str,
    echo: Callable[[str], None] = lambda _line: None,
) -> tuple[int, datetime]:
    """Org chart, history (scored), then the plan; events sent (0 when already seeded)
    and the instant the history runs to (where the live events take over)."""
    started = monotonic_time.monotonic()
    if await prepare_org(runtime, tenant_id=tenant_id):
        echo("demo: org chart loaded (3 teams, 21 reps)")
    until = runtime.clock.now()
    sent = await seed_history(runtime, tenant_id=tenant_id, now=until)
    if sent:
        echo(f"demo: sent {sent} events of history; scoring them")
    if not await wait_scored(runtime):
        echo("demo: scoring has not caught up after 10 minutes; planning anyway")
    made = await plan_targets(runtime, tenant_id=tenant_id)
    if made:
        echo(f"demo: planned {made} targets for the year")
    if await plan_incentives(runtime, tenant_id=tenant_id):
        echo("demo: incentive plans assigned (account managers, channel managers, presales)")
    echo(f"demo: ready in {monotonic_time.monotonic() - started:.1f} s")
    return sent, until


# -- the live trickle --------------------------------------------------------------------


async def trickle(
    runtime: Runtime,
    *,
    tenant_id: str,
    since: datetime,
    every_s: float = 3.0,
    ticks: int | None = None,
) -> int:
    """Every ``every_s`` seconds (``ticks`` times, or forever), send the demo CRM's events
    whose time has come since the last tick (from ``since``); events sent.

    The events follow the same model as the history (:class:`LiveFeed`): a quiet night
    sends nothing, a working day a few dozen events, each at the time it happens.
    """
    eventlog = runtime.eventlog
    if eventlog is None:
        raise RuntimeError("the demo needs the event log")
    tenant = await _tenant(runtime, tenant_id)
    async with runtime.db.transaction(write=False) as session:
        calendar = await tenant_calendar(session, tenant=tenant)
    feed = LiveFeed(tz=ZoneInfo(tenant.timezone), calendar=calendar)
    tick = sent = 0
    last = since
    while ticks is None or tick < ticks:
        tick += 1
        now = runtime.clock.now()
        events = feed.between(last, now)
        try:
            if events:
                sent += await send_events(
                    eventlog,
                    events,
                    tenant_id=tenant_id,
                    source=LIVE_SOURCE,
                    now=now,
                    request_id=f"demo-live-{now:%Y%m%dT%H%M%S}-{tick}",
                )
            last = now
        except Exception:  # the log may be briefly down: these events go with the next tick
            log.warning("demo: could not send live events", exc_info=True)
        if ticks is None or tick < ticks:
            await asyncio.sleep(every_s)
    return sent


# -- wiring: ``paceline serve --demo`` and ``paceline demo`` ------------------------------


async def _demo_task(
    runtime: Runtime, *, tenant_id: str, trickle_every_s: float, echo: Callable[[str], None]
) -> None:
    try:
        _sent, until = await seed_demo(runtime, tenant_id=tenant_id, echo=echo)
        if trickle_every_s > 0:
            echo(f"demo: live events every {trickle_every_s:g} s (rep-03 is falling behind)")
            await trickle(runtime, tenant_id=tenant_id, since=until, every_s=trickle_every_s)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("demo: seeding failed")


def attach_demo(
    app: FastAPI,
    settings: Settings,
    *,
    trickle_every_s: float,
    echo: Callable[[str], None],
) -> None:
    """Seed the demo company while the app serves, then keep the live trickle going.

    The org chart is loaded before the app answers (so the dashboard has its teams at
    once); the history, the plan and the trickle run in a background task, so the
    dashboard fills up as scoring applies the history.
    """
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def with_demo(a: FastAPI) -> AsyncIterator[None]:
        async with inner(a):
            state = a.state.paceline
            runtime = Runtime(
                settings=settings,
                db=state.db,
                clock=state.clock,
                keys=state.keys,
                eventlog=state.eventlog,
                box=state.box or secret_box(settings),
            )
            if await prepare_org(runtime, tenant_id=settings.default_tenant):
                echo("demo: org chart loaded (3 teams, 21 reps)")
            task = asyncio.create_task(
                _demo_task(
                    runtime,
                    tenant_id=settings.default_tenant,
                    trickle_every_s=trickle_every_s,
                    echo=echo,
                ),
                name="demo",
            )
            try:
                yield
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app.router.lifespan_context = with_demo


async def run_demo(
    settings: Settings,
    *,
    trickle_every_s: float,
    echo: Callable[[str], None],
    clock: Clock | None = None,
) -> int:
    """``paceline demo``: seed the stores (scoring in this process until caught up), then
    send live events until interrupted if ``trickle_every_s`` > 0."""
    from paceline.scoring.worker import ScoringWorker
    from paceline.shared.runtime import bootstrap, open_runtime

    runtime = await open_runtime(settings, with_log=True, clock=clock)
    worker: ScoringWorker | None = None
    task: asyncio.Task[None] | None = None
    try:
        await bootstrap(runtime)
        assert runtime.eventlog is not None
        worker = ScoringWorker(
            db=runtime.db,
            eventlog=runtime.eventlog,
            clock=runtime.clock,
            group_id=settings.consumer_group,
            batch_max=settings.scoring_batch_max,
            poll_timeout_s=settings.scoring_poll_timeout_s,
        )
        task = asyncio.create_task(worker.run(), name="demo-scoring")
        sent, until = await seed_demo(runtime, tenant_id=settings.default_tenant, echo=echo)
        if trickle_every_s > 0:
            echo(f"demo: live events every {trickle_every_s:g} s; Ctrl-C to stop")
            await trickle(
                runtime,
                tenant_id=settings.default_tenant,
                since=until,
                every_s=trickle_every_s,
            )
        return sent
    finally:
        if worker is not None and task is not None:
            worker.stop()
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, 15)
        await runtime.close()
