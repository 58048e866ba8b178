"""Grouping, pacing, quiet hours and inhibition of alert changes: pure, clock given.

The dispatcher's grouping step (:mod:`.dispatcher`) loads a subscription's held alert
changes and what it sent lately, asks this module what to send now, and persists the
answer. Nothing here reads the clock or the database.

* **Groups** (Prometheus Alertmanager's ``group_by``): the values of the subscription's
  labels (``team``, ``kind``...) make a group key; a group is due ``group_wait`` after
  its oldest waiting change and ``group_interval`` after its previous message,
  whichever is later.
* **Quiet hours**: outside the tenant's working hours on working days, only critical
  changes are released; the rest wait until the morning (they stay held, never dropped).
* **Inhibition** (Alertmanager's inhibit rules): a team's open lag alert covers its reps'
  lag alerts on the same KPI and period (no higher severity); a company lag alert covers
  the sole top-level team's (the same people, the same figures).
* **Repeats**: a change that leaves an alert as the last message to this subscription
  already showed it (same status and severity) within ``repeat_interval`` is not sent again.
* **Pacing**: at most the vendor's count per window (:class:`RateLimit`); when more
  groups are due than the budget allows, the last message allowed carries all the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from paceline.shared.delivery_options import DeliveryOptions, RateLimit
from paceline.shared.kpi.calendar import WorkCalendar

SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}


@dataclass(frozen=True, slots=True)
class Change:
    """One held alert change of one subscription."""

    id: int
    alert_key: str
    group_key: str
    action: str
    created_at: datetime
    alert: Mapping[str, Any]  # the alert's snapshot after the change

    @property
    def severity(self) -> str:
        """The alert's severity after the change."""
        return str(self.alert.get("severity", "info"))

    @property
    def status(self) -> str:
        """The alert's status after the change."""
        return str(self.alert.get("status", ""))


@dataclass(frozen=True, slots=True)
class Source:
    """An alert that may cover others (an open lag alert of a team or the company)."""

    alert_key: str
    scope: str
    severity: str
    kpi: str | None
    period: str | None


@dataclass(slots=True)
class Plan:
    """What to do with a subscription's held changes now."""

    messages: list[list[Change]] = field(default_factory=list)  # one list per message
    suppressed: dict[int, str] = field(default_factory=dict)  # change id -> reason
    # Covered changes that go with their source's message: change id -> (message, key).
    attached: dict[int, tuple[int, str]] = field(default_factory=dict)
    next_due: datetime | None = None  # when something held becomes due (None: nothing)


def group_key(alert: Mapping[str, Any], *, action: str, labels: Sequence[str]) -> str:
    """The group of an alert change: its values of the subscription's ``group_by``."""
    values = {
        "team": alert.get("team") or "-",
        "kind": alert.get("kind") or "-",
        "type": alert.get("type") or "-",
        "severity": alert.get("severity") or "-",
        "scope": alert.get("scope") or "-",
        "action": action,
    }
    return "|".join(f"{label}={values[label]}" for label in labels) or "*"


def group_labels(key: str) -> dict[str, str]:
    """The labels of a group key (``{}`` for the one group of everything)."""
    if key == "*":
        return {}
    return dict(part.split("=", 1) for part in key.split("|"))


@dataclass(frozen=True, slots=True)
class WorkingHours:
    """The tenant's working time: calendar days, hours, zone."""

    tz: ZoneInfo
    calendar: WorkCalendar
    start_hour: int
    end_hour: int

    def is_working_time(self, at: datetime) -> bool:
        """Whether ``at`` falls within working hours of a working day."""
        local = at.astimezone(self.tz)
        return (
            self.calendar.is_working_day(local.date())
            and self.start_hour <= local.hour < self.end_hour
        )

    def next_start(self, at: datetime) -> datetime:
        """The next start of working hours after ``at`` (``at`` if it is working time)."""
        if self.is_working_time(at):
            return at
        local = at.astimezone(self.tz)
        day = local.date()
        if local.hour >= self.start_hour:
            day += timedelta(days=1)
        for _ in range(60):  # the longest Chinese holiday run is 8-9 days
            if self.calendar.is_working_day(day):
                return datetime.combine(day, time(self.start_hour), tzinfo=self.tz)
            day += timedelta(days=1)
        return datetime.combine(day, time(self.start_hour), tzinfo=self.tz)


def released_at(change: Change, *, hours: WorkingHours | None) -> datetime:
    """When a change may be sent: at once if critical or outside quiet hours."""
    if hours is None or change.severity == "critical":
        return change.created_at
    return hours.next_start(change.created_at)


def _lag_key(alert: Mapping[str, Any]) -> tuple[str, str] | None:
    if alert.get("kind") != "lag":
        return None
    detail = alert.get("detail") or {}
    kpi, period = detail.get("kpi"), detail.get("period")
    if kpi is None or period is None:
        return None
    return str(kpi), str(period)


def source_of(alert: Mapping[str, Any]) -> Source | None:
    """The alert as a possible inhibition source (open lag of a team or the company)."""
    lag = _lag_key(alert)
    scope = str(alert.get("scope") or "")
    if lag is None or alert.get("status") == "resolved":
        return None
    if not (scope == "company" or scope.startswith("team:")):
        return None
    return Source(
        alert_key=str(alert.get("dedup_key")),
        scope=scope,
        severity=str(alert.get("severity", "info")),
        kpi=lag[0],
        period=lag[1],
    )


def covering(change: Change, *, sources: Iterable[Source], sole_root: str | None) -> Source | None:
    """The open alert that covers this change, if any (see the module docstring)."""
    lag = _lag_key(change.alert)
    if lag is None:
        return None
    scope = str(change.alert.get("scope") or "")
    if scope.startswith("rep:"):
        wanted = f"team:{change.alert.get('team')}" if change.alert.get("team") else None
    elif sole_root is not None and scope == f"team:{sole_root}":
        wanted = "company"
    else:
        return None
    if wanted is None:
        return None
    for s in sources:
        if (
            s.scope == wanted
            and (s.kpi, s.period) == lag
            and s.alert_key != change.alert_key
            and SEVERITY_RANK.get(change.severity, 0) <= SEVERITY_RANK.get(s.severity, 0)
        ):
            return s
    return None


def budget(limits: Sequence[RateLimit], sent: Sequence[datetime], now: datetime) -> int:
    """Messages that may still go out now: the tightest limit minus what it counted."""
    if not limits:
        return 1_000_000
    return max(
        0,
        min(
            lim.count - sum(1 for t in sent if t > now - timedelta(seconds=lim.window_s))
            for lim in limits
        ),
    )


def next_free(limits: Sequence[RateLimit], sent: Sequence[datetime], now: datetime) -> datetime:
    """The first instant at which a message may go out (``now`` if one may)."""
    if budget(limits, sent, now) > 0:
        return now
    at = now
    for lim in limits:
        inside = sorted(t for t in sent if t > now - timedelta(seconds=lim.window_s))
        over = len(inside) - lim.count + 1
        if over > 0:
            at = max(at, inside[over - 1] + timedelta(seconds=lim.window_s))
    return at


def plan(
    changes: Sequence[Change],
    *,
    options: DeliveryOptions,
    now: datetime,
    last_message_at: Mapping[str, datetime],
    last_shown: Mapping[str, tuple[str, str, datetime]],
    sources: Sequence[Source],
    sole_root: str | None,
    hours: WorkingHours | None,
    room: int,
) -> Plan:
    """Decide which held changes go out now, in how many messages (at most ``room``)."""
    out = Plan()
    live: list[Change] = []
    covered: dict[int, str] = {}  # change id -> the alert key that covers it
    batch_sources = [s for c in changes if (s := source_of(c.alert)) is not None]
    all_sources = [*sources, *batch_sources]
    for c in changes:
        shown = last_shown.get(c.alert_key)
        repeat = timedelta(seconds=options.repeat_interval_s)
        if shown is not None and shown[:2] == (c.status, c.severity) and now - shown[2] < repeat:
            out.suppressed[c.id] = "repeat"
            continue
        if options.inhibit:
            src = covering(c, sources=all_sources, sole_root=sole_root)
            if src is not None:
                covered[c.id] = src.alert_key
                continue
        live.append(c)
    # Covered changes travel with their source when it goes now; otherwise they are
    # suppressed (the channel already has the source's message).
    groups: dict[str, list[Change]] = {}
    quiet = hours if options.quiet_hours else None
    for c in live:
        groups.setdefault(c.group_key, []).append(c)
    due: list[tuple[datetime, str, list[Change]]] = []
    for key, members in groups.items():
        ready = [c for c in members if released_at(c, hours=quiet) <= now]
        waiting = [c for c in members if released_at(c, hours=quiet) > now]
        for c in waiting:
            _sooner(out, released_at(c, hours=quiet))
        if not ready:
            continue
        first = min(c.created_at for c in ready)
        # A held change released by the morning counts as arriving then.
        first = max(first, min(released_at(c, hours=quiet) for c in ready))
        at = first + timedelta(seconds=options.group_wait_s)
        last = last_message_at.get(key)
        if last is not None:
            at = max(at, last + timedelta(seconds=options.group_interval_s))
        if at > now:
            _sooner(out, at)
            continue
        due.append((at, key, sorted(ready, key=lambda c: c.id)))
    due.sort(key=lambda d: (d[0], d[1]))
    if due and room <= 0:
        _sooner(out, now + timedelta(seconds=1))
        due = []
    if len(due) > room:
        head, rest = due[: room - 1], due[room - 1 :]
        merged = [c for _, _, members in rest for c in members]
        due = [*head, (rest[0][0], "*", merged)]
    out.messages = [members for _, _, members in due]
    _place_covered(out, changes, covered, live)
    return out


def _place_covered(
    out: Plan, changes: Sequence[Change], covered: dict[int, str], live: Sequence[Change]
) -> None:
    """Covered changes go with their source's message, wait for it, or are left out."""
    in_message = {c.alert_key: i for i, msg in enumerate(out.messages) for c in msg}
    waiting = {c.alert_key for c in live}
    chain = {c.alert_key: covered[c.id] for c in changes if c.id in covered}
    for change_id, key in covered.items():
        seen: set[str] = set()
        while key in chain and key not in seen:  # rep -> team:hq -> company
            seen.add(key)
            key = chain[key]
        if key in in_message:
            out.attached[change_id] = (in_message[key], key)
        elif key not in waiting:
            out.suppressed[change_id] = f"covered by {key}"


def _sooner(out: Plan, at: datetime) -> None:
    if out.next_due is None or at < out.next_due:
        out.next_due = at


MENTION_ACTIONS = ("opened", "reopened", "escalated")


def wants_mention(change: Change) -> bool:
    """Whether a change calls its manager: a critical alert opened, reopened or escalated,
    or a lag alert opened or reopened (resolutions and acknowledgements call nobody)."""
    if change.action not in MENTION_ACTIONS:
        return False
    if change.severity == "critical":
        return True
    return change.alert.get("kind") == "lag" and change.action in ("opened", "reopened")


def mention_for(
    changes: Iterable[Change], options: DeliveryOptions, parents: Mapping[str, str | None]
) -> dict[str, list[str]]:
    """Whom a message @-mentions: for each change that calls its manager, the
    subscription's ``mentions`` entry of the alert's team (a rep's team, a team alert's
    own), else of the nearest parent team that has one, else ``company``'s."""
    if not options.mentions:
        return {}
    mobiles: list[str] = []
    ids: list[str] = []
    for c in changes:
        if not wants_mention(c):
            continue
        scope = str(c.alert.get("scope") or "")
        team = scope[5:] if scope.startswith("team:") else c.alert.get("team")
        entry = None
        seen: set[str] = set()
        while team and team not in seen and entry is None:
            seen.add(team)
            entry = options.mentions.get(team)
            team = parents.get(team)
        entry = entry or options.mentions.get("company")
        if entry is None:
            continue
        mobiles += [m for m in entry.mobiles if m not in mobiles]
        ids += [u for u in entry.user_ids if u not in ids]
    out = {"mobiles": mobiles, "user_ids": ids}
    return {k: v for k, v in out.items() if v}


def group_payload(
    *,
    tenant_id: str,
    locale: str,
    key: str,
    members: Sequence[Change],
    covered: Mapping[str, Sequence[Change]],
    payloads: Mapping[int, Mapping[str, Any]],
    now: datetime,
) -> dict[str, Any]:
    """The JSON of one group message: each alert once (its latest change), what it covers."""
    by_alert: dict[str, list[Change]] = {}
    for c in sorted(members, key=lambda c: c.id):
        by_alert.setdefault(c.alert_key, []).append(c)
    alerts = []
    for alert_key, changes in by_alert.items():
        last = changes[-1]
        data = payloads[last.id].get("data", {})
        alerts.append(
            {
                "event": data.get("event", {}),
                "alert": data.get("alert", dict(last.alert)),
                "changes": len(changes),
                "actions": [c.action for c in changes],
                "covers": [
                    {
                        "dedup_key": c.alert_key,
                        "scope": c.alert.get("scope"),
                        "title": c.alert.get("title"),
                        "severity": c.severity,
                        "action": c.action,
                    }
                    for c in covered.get(alert_key, [])
                ],
            }
        )
    n_covered = sum(len(v) for v in covered.values())
    return {
        "type": "alert.group",
        "timestamp": now.isoformat(),
        "tenant": tenant_id,
        "data": {
            "group": {
                "key": key,
                "labels": group_labels(key),
                "locale": locale,
                "count": len(members) + n_covered,
                "alerts": alerts,
            }
        },
    }
