"""Is the restaurant open, and when does it open next: a pure function of its week, its exceptions,
its manual switch and an instant. No database, no clock (the caller passes `now`).

The week is a set of intervals, each belonging to the weekday it starts on (0 = Monday):

    Mon 12:00–15:00, Mon 18:00–02:00      two intervals on Monday; the second ends Tuesday 02:00
    Fri 00:00–00:00                        closes <= opens means "the next day": this one is 24 hours

A date with an exception replaces that date's intervals: closed all day, or one special interval
(which may cross midnight as well). An interval that started the evening before still runs into an
exception day (Eid closed on the 10th does not cut the 9th's 18:00–02:00 short).

No intervals at all means always open (a restaurant that never set its hours keeps working), so
exceptions then close single days out of an otherwise open week.

Wall times are read in the restaurant's zone and compared as UTC instants, so a day that gains or
loses an hour (Europe/Berlin in March and October) has the right length: 18:00–02:00 on the night
the clocks go back lasts nine hours. A time the clocks skip (02:30 on the spring-forward night)
counts as the same instant an hour later, Python's reading of a nonexistent time (fold=0).

The manual switch (`ordering_state`) lies over the hours:

    OPEN     follow the hours
    BUSY     follow the hours; while open, orders are taken with a warning of longer waits
    CLOSED   closed, whatever the hours say; with `until`, the hours apply again from then

A BUSY or CLOSED switch whose `until` has passed counts as OPEN.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

ManualState = Literal["OPEN", "BUSY", "CLOSED"]
Status = Literal["open", "busy", "closed"]

HORIZON_DAYS = 400  # how far ahead a next opening is looked for (exceptions cover at most a year)


@dataclass(frozen=True, slots=True)
class Interval:
    """Open from `opens` on `weekday` (0 = Monday) to `closes`, the next day when closes <= opens."""

    weekday: int
    opens: time
    closes: time


@dataclass(frozen=True, slots=True)
class SpecialDay:
    """A date's own hours: closed all day when `opens` is None, else one special interval."""

    day: date
    opens: time | None = None
    closes: time | None = None
    note: str = ""

    @property
    def closed(self) -> bool:
        return self.opens is None or self.closes is None


@dataclass(frozen=True, slots=True)
class Manual:
    state: ManualState = "OPEN"
    until: datetime | None = None  # aware; None = until switched back


@dataclass(frozen=True, slots=True)
class Opening:
    """The answer. Times are aware datetimes in the restaurant's zone."""

    status: Status
    next_opens_at: datetime | None = None  # when closed: the next opening (None: not known)
    closes_at: datetime | None = None  # when open: the end of the current opening (None: never)
    note: str = ""  # the exception's note when an exception day closes it (e.g. "Eid")
    manual: bool = False  # closed by the switch rather than by the hours

    @property
    def is_open(self) -> bool:
        return self.status != "closed"


def length(opens: time, closes: time) -> timedelta:
    """How long an interval lasts on a day of 24 hours (24 hours when closes == opens)."""
    minutes = (closes.hour * 60 + closes.minute) - (opens.hour * 60 + opens.minute)
    return timedelta(minutes=minutes if minutes > 0 else minutes + 24 * 60)


def _instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def _spans(
    day: date,
    week: dict[int, list[tuple[time, time]]],
    exceptions: dict[date, SpecialDay],
    zone: ZoneInfo,
) -> list[tuple[datetime, datetime]]:
    """The UTC spans of the intervals that start on local `day`."""
    exception = exceptions.get(day)
    if exception is not None:
        if exception.closed:
            return []
        assert exception.opens is not None and exception.closes is not None
        pairs = [(exception.opens, exception.closes)]
    else:
        pairs = week.get(day.weekday(), []) if week else [(time(0), time(0))]
    spans = []
    for opens, closes in pairs:
        end_day = day if closes > opens else day + timedelta(days=1)
        spans.append((_instant(day, opens, zone), _instant(end_day, closes, zone)))
    return spans


class _Schedule:
    def __init__(self, hours: Iterable[Interval], exceptions: Iterable[SpecialDay], zone: ZoneInfo):
        self.zone = zone
        self.week: dict[int, list[tuple[time, time]]] = {}
        for interval in hours:
            self.week.setdefault(interval.weekday, []).append((interval.opens, interval.closes))
        self.exceptions = {e.day: e for e in exceptions}

    def spans_from(self, day: date, days: int) -> list[tuple[datetime, datetime]]:
        """Every span starting on the local days `day` .. `day + days - 1`, in start order."""
        spans = []
        for offset in range(days):
            spans.extend(_spans(day + timedelta(days=offset), self.week, self.exceptions, self.zone))
        return sorted(spans)

    def covering(self, at: datetime) -> tuple[datetime, datetime] | None:
        local_day = at.astimezone(self.zone).date()
        for start, end in self.spans_from(local_day - timedelta(days=1), 2):
            if start <= at < end:
                return start, end
        return None

    def open_at(self, at: datetime) -> bool:
        return self.covering(at) is not None

    def next_opening(self, after: datetime) -> datetime | None:
        """The first instant at or after `after` when the hours say open."""
        if self.open_at(after):
            return after
        local_day = after.astimezone(self.zone).date()
        step = 14
        for first in range(0, HORIZON_DAYS, step):
            for start, _end in self.spans_from(local_day + timedelta(days=first), step):
                if start >= after:
                    return start
        return None

    def closing(self, at: datetime) -> datetime | None:
        """The end of the opening that covers `at`, following intervals that touch or overlap."""
        span = self.covering(at)
        if span is None:
            return None
        end = span[1]
        local_day = at.astimezone(self.zone).date()
        spans = self.spans_from(local_day - timedelta(days=1), 9)
        horizon = max(e for _s, e in spans)
        while end < horizon:
            longer = [e for s, e in spans if s <= end < e]
            if not longer:
                return end
            end = max(longer)
        return None  # open around the clock for the next week


def opening(
    *,
    hours: Sequence[Interval],
    exceptions: Sequence[SpecialDay],
    manual: Manual,
    now: datetime,
    timezone: str,
) -> Opening:
    """Open, busy or closed at `now`, with the next opening (closed) or the closing time (open)."""
    zone = ZoneInfo(timezone)
    now = now.astimezone(UTC)
    schedule = _Schedule(hours, exceptions, zone)

    def local(at: datetime | None) -> datetime | None:
        return at.astimezone(zone) if at is not None else None

    switched = manual.state if manual.until is None or now < manual.until else "OPEN"
    if switched == "CLOSED":
        after = manual.until
        return Opening(
            "closed",
            next_opens_at=local(schedule.next_opening(after)) if after is not None else None,
            manual=True,
        )
    if schedule.open_at(now):
        closes = schedule.closing(now)
        return Opening("busy" if switched == "BUSY" else "open", closes_at=local(closes))
    today = schedule.exceptions.get(now.astimezone(zone).date())
    return Opening(
        "closed",
        next_opens_at=local(schedule.next_opening(now)),
        note=today.note if today is not None and today.closed else "",
    )
