"""Reporting periods: whole days in the restaurant's time zone, written once for every report.

An owner asks for "1 to 30 November": the days are the restaurant's (`restaurant.timezone`), so the
period runs from midnight of its first day to midnight after its last, there, as two instants in
UTC that any `created_at` compares with on its index. A period is at most `MAX_DAYS` long, so every
report has a bounded cost; the last day may not be before the first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, func

from app.errors import ValidationFailed

MAX_DAYS = 366


@dataclass(frozen=True, slots=True)
class Period:
    first_day: date
    last_day: date  # inclusive
    timezone: str

    @classmethod
    def of(cls, first_day: date, last_day: date, *, timezone: str) -> Period:
        """The days `first_day`..`last_day` (both included) in `timezone`; ValidationFailed naming
        `from`/`to` when they are reversed or span more than MAX_DAYS."""
        if last_day < first_day:
            raise ValidationFailed("to must not be before from", field="to")
        if (last_day - first_day).days + 1 > MAX_DAYS:
            raise ValidationFailed(f"a period is at most {MAX_DAYS} days", field="to")
        return cls(first_day, last_day, timezone)

    @classmethod
    def ending_today(cls, days: int, *, timezone: str, now: datetime | None = None) -> Period:
        """The last `days` days up to today, in `timezone` (the default period of a report)."""
        today = (now or datetime.now(ZoneInfo(timezone))).astimezone(ZoneInfo(timezone)).date()
        return cls.of(today - timedelta(days=days - 1), today, timezone=timezone)

    @property
    def start(self) -> datetime:
        """Midnight of the first day, in the restaurant's zone (an aware instant)."""
        return datetime.combine(self.first_day, time(), ZoneInfo(self.timezone))

    @property
    def end(self) -> datetime:
        """Midnight after the last day (exclusive)."""
        return datetime.combine(self.last_day + timedelta(days=1), time(), ZoneInfo(self.timezone))

    def days(self) -> list[date]:
        """Every day of the period, in order (a daily series has one entry per day, zeros included)."""
        return [self.first_day + timedelta(days=i) for i in range((self.last_day - self.first_day).days + 1)]

    def contains(self, column: ColumnElement[datetime]) -> ColumnElement[bool]:
        """`column` (a timestamptz) falls in the period: an index-friendly range test."""
        return (column >= self.start) & (column < self.end)

    def local_day(self, column: ColumnElement[datetime]) -> ColumnElement[date]:
        """The restaurant's calendar day of `column`, for grouping a daily series in SQL."""
        return func.date(func.timezone(self.timezone, column))
