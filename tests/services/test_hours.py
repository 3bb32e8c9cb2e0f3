"""The opening rules (app/services/hours.py): open now, next opening and closing, in the restaurant's
zone, across midnight, exception days, the manual switch and the clock changes of a DST zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.services.hours import Interval, Manual, SpecialDay, length, opening

RIYADH = ZoneInfo("Asia/Riyadh")
BERLIN = ZoneInfo("Europe/Berlin")
# 2026-12-07 is a Monday
MON, TUE, WED, THU, FRI, SAT, SUN = range(7)
OPEN = Manual()
EVENINGS = [Interval(d, time(18), time(2)) for d in range(7)]  # 18:00–02:00 every day
LUNCH_AND_DINNER = [
    Interval(MON, time(12), time(15)),
    Interval(MON, time(18), time(23)),
    Interval(TUE, time(12), time(15)),
]


def at(day: int, hour: int, minute: int = 0, zone: ZoneInfo = RIYADH) -> datetime:
    return datetime(2026, 12, day, hour, minute, tzinfo=zone)


def check(now: datetime, hours=(), exceptions=(), manual=OPEN, timezone="Asia/Riyadh"):
    return opening(hours=list(hours), exceptions=list(exceptions), manual=manual, now=now, timezone=timezone)


def test_no_hours_means_always_open():
    answer = check(at(7, 3))
    assert answer.status == "open" and answer.is_open
    assert answer.closes_at is None  # open around the clock


def test_inside_and_between_intervals_of_one_day():
    assert check(at(7, 12, 30), LUNCH_AND_DINNER).status == "open"
    assert check(at(7, 12, 30), LUNCH_AND_DINNER).closes_at == at(7, 15)
    between = check(at(7, 15), LUNCH_AND_DINNER)  # closing time is closed
    assert between.status == "closed" and between.next_opens_at == at(7, 18)
    assert check(at(7, 11, 59), LUNCH_AND_DINNER).next_opens_at == at(7, 12)
    night = check(at(7, 23, 30), LUNCH_AND_DINNER)
    assert night.next_opens_at == at(8, 12)  # Tuesday lunch
    after_tuesday = check(at(8, 16), LUNCH_AND_DINNER)
    assert after_tuesday.next_opens_at == at(14, 12)  # next Monday
    assert after_tuesday.next_opens_at.tzinfo == RIYADH


def test_interval_crossing_midnight_belongs_to_the_day_it_starts():
    hours = [Interval(FRI, time(18), time(2))]  # Friday 2026-12-11
    assert check(at(12, 1, 59), hours).status == "open"  # Saturday 01:59 still Friday night
    assert check(at(12, 1, 59), hours).closes_at == at(12, 2)
    assert check(at(12, 2), hours).status == "closed"
    assert check(at(11, 17), hours).next_opens_at == at(11, 18)
    assert check(at(12, 3), hours).next_opens_at == at(18, 18)
    assert check(at(11, 0, 30), hours).status == "closed"  # Thursday night has no hours


def test_touching_intervals_close_at_the_end_of_the_chain():
    hours = [Interval(d, time(18), time(0)) for d in range(7)] + [Interval(TUE, time(0), time(3))]
    assert check(at(7, 20), hours).closes_at == at(8, 3)  # Monday 18–24 then Tuesday 00–03
    assert check(at(8, 2), hours).status == "open"


def test_equal_times_mean_twenty_four_hours():
    assert length(time(0), time(0)) == timedelta(hours=24)
    assert length(time(18), time(2)) == timedelta(hours=8)
    hours = [Interval(WED, time(0), time(0))]
    assert check(at(9, 23, 59), hours).status == "open"
    assert check(at(10, 0), hours).status == "closed"


def test_an_exception_day_closes_or_replaces_the_week():
    eid = SpecialDay(date(2026, 12, 7), note="Eid")
    closed = check(at(7, 12, 30), LUNCH_AND_DINNER, [eid])
    assert (closed.status, closed.note, closed.next_opens_at) == ("closed", "Eid", at(8, 12))
    short = SpecialDay(date(2026, 12, 8), time(20), time(1), note="late")
    assert check(at(8, 12, 30), LUNCH_AND_DINNER, [short]).next_opens_at == at(8, 20)
    assert check(at(9, 0, 30), LUNCH_AND_DINNER, [short]).status == "open"
    # an exception on a day without hours opens it
    assert check(at(10, 13), LUNCH_AND_DINNER, [SpecialDay(date(2026, 12, 10), time(9), time(17))]).is_open


def test_an_exception_day_does_not_cut_the_night_before():
    closed_saturday = SpecialDay(date(2026, 12, 12))
    assert check(at(12, 1), EVENINGS, [closed_saturday]).status == "open"  # Friday's night
    answer = check(at(12, 3), EVENINGS, [closed_saturday])
    assert answer.next_opens_at == at(13, 18)


def test_exceptions_without_weekly_hours_close_single_days():
    answer = check(at(25, 10), [], [SpecialDay(date(2026, 12, 25), note="Holiday")])
    assert (answer.status, answer.note) == ("closed", "Holiday")
    assert answer.next_opens_at == at(26, 0)


def test_a_long_closure_finds_the_opening_after_it():
    closed = [SpecialDay(date(2026, 12, 7) + timedelta(days=n)) for n in range(40)]
    assert check(at(7, 19), EVENINGS, closed).next_opens_at == datetime(2027, 1, 16, 18, tzinfo=RIYADH)


def test_no_opening_at_all():
    hours = [Interval(MON, time(9), time(10))]
    mondays = [SpecialDay(date(2026, 12, 7) + timedelta(weeks=n)) for n in range(60)]
    answer = check(at(7, 9, 30), hours, mondays)
    assert answer.status == "closed" and answer.next_opens_at is None


def test_closed_switch_with_and_without_until():
    forever = check(at(7, 12, 30), LUNCH_AND_DINNER, manual=Manual("CLOSED"))
    assert (forever.status, forever.manual, forever.next_opens_at) == ("closed", True, None)
    until_evening = Manual("CLOSED", until=at(7, 17))
    answer = check(at(7, 12, 30), LUNCH_AND_DINNER, manual=until_evening)
    assert answer.next_opens_at == at(7, 18)  # the hours apply again from 17:00
    inside = check(at(7, 12, 30), LUNCH_AND_DINNER, manual=Manual("CLOSED", until=at(7, 19)))
    assert inside.next_opens_at == at(7, 19)  # reopens mid-interval
    always = check(at(7, 12), manual=Manual("CLOSED", until=at(9, 8)))
    assert always.next_opens_at == at(9, 8)
    passed = check(at(7, 12, 30), LUNCH_AND_DINNER, manual=Manual("CLOSED", until=at(7, 12)))
    assert passed.status == "open"


def test_busy_takes_orders_within_the_hours_only():
    assert check(at(7, 12, 30), LUNCH_AND_DINNER, manual=Manual("BUSY")).status == "busy"
    assert check(at(7, 16), LUNCH_AND_DINNER, manual=Manual("BUSY")).status == "closed"
    expired = Manual("BUSY", until=at(7, 12))
    assert check(at(7, 12, 30), LUNCH_AND_DINNER, manual=expired).status == "open"


def test_the_answer_is_in_the_restaurants_zone():
    hours = [Interval(MON, time(9), time(17))]
    now = datetime(2026, 12, 7, 5, 30, tzinfo=UTC)  # 08:30 in Riyadh
    answer = check(now, hours)
    assert answer.next_opens_at == at(7, 9) and answer.next_opens_at.utcoffset() == timedelta(hours=3)
    assert check(datetime(2026, 12, 7, 6, 30, tzinfo=UTC), hours).is_open  # 09:30 there


def test_dst_night_when_clocks_go_back_lasts_an_hour_longer():
    # Berlin: 2026-10-25 03:00 CEST becomes 02:00 CET
    hours = [Interval(SAT, time(18), time(4))]
    start = datetime(2026, 10, 24, 18, tzinfo=BERLIN)
    answer = opening(hours=hours, exceptions=[], manual=Manual(), now=start, timezone="Europe/Berlin")
    closes = answer.closes_at
    assert closes is not None and (closes.hour, closes.minute) == (4, 0)
    assert closes.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=11)
    late = datetime(2026, 10, 25, 2, 30, tzinfo=UTC)  # 03:30 CET, after the repeated hour
    assert opening(hours=hours, exceptions=[], manual=Manual(), now=late, timezone="Europe/Berlin").is_open
    after = datetime(2026, 10, 25, 3, 0, tzinfo=UTC)  # 04:00 CET
    assert not opening(
        hours=hours, exceptions=[], manual=Manual(), now=after, timezone="Europe/Berlin"
    ).is_open


def test_dst_spring_forward_keeps_wall_times():
    # Berlin: 2026-03-29 02:00 CET becomes 03:00 CEST; a Sunday
    hours = [Interval(SUN, time(9), time(17)), Interval(SAT, time(20), time(1))]
    saturday_night = datetime(2026, 3, 28, 23, tzinfo=BERLIN)
    answer = opening(
        hours=hours, exceptions=[], manual=Manual(), now=saturday_night, timezone="Europe/Berlin"
    )
    assert answer.closes_at == datetime(2026, 3, 29, 1, tzinfo=BERLIN)
    early = datetime(2026, 3, 29, 5, tzinfo=UTC)  # 07:00 CEST
    closed = opening(hours=hours, exceptions=[], manual=Manual(), now=early, timezone="Europe/Berlin")
    opens = closed.next_opens_at
    assert opens is not None and (opens.hour, opens.utcoffset()) == (9, timedelta(hours=2))
    assert opens.astimezone(UTC) == datetime(2026, 3, 29, 7, tzinfo=UTC)
    # a week later, the same wall time is an hour earlier in UTC than in winter
    winter = opening(
        hours=hours,
        exceptions=[],
        manual=Manual(),
        now=datetime(2026, 3, 22, 5, tzinfo=UTC),
        timezone="Europe/Berlin",
    )
    assert winter.next_opens_at is not None
    assert winter.next_opens_at.astimezone(UTC) == datetime(2026, 3, 22, 8, tzinfo=UTC)
