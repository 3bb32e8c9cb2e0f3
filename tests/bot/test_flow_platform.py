"""The pure bot with what a delivery platform (the Sufrah merchant platform) tells it: its coverage
answer for a shared location replaces the branches' radius, a discounted price shows the old one
struck through, and online payment may be offered without a fixed link (the platform sends one per
order). Played with tests/bot/test_flow.py's `Chat`, so every turn keeps the runner's promises."""

from __future__ import annotations

from dataclasses import replace

from app.bot.flow import Coverage
from tests.bot.test_flow import JEDDAH, MENU, NEAR_OLAYA, Chat


def _covered(lat: str, lon: str, *, available: bool, branch_id: str | None = None) -> Coverage:
    return Coverage(float(lat), float(lon), available=available, branch_id=branch_id)


def test_the_platforms_coverage_decides_and_names_the_branch() -> None:
    far = _covered(JEDDAH["latitude"], JEDDAH["longitude"], available=True, branch_id="br_malqa")
    chat = Chat(replace(MENU, coverage=far))
    chat.send_all("hi", "1", "1")
    assert "from our Malqa branch" in chat.send(**JEDDAH)  # outside every radius, but the platform covers it
    assert chat.state.branch_id == "br_malqa"

    refused = _covered(NEAR_OLAYA["latitude"], NEAR_OLAYA["longitude"], available=False)
    chat = Chat(replace(MENU, coverage=refused))
    chat.send_all("hi", "1", "1")
    assert "we don't deliver to that location" in chat.send(**NEAR_OLAYA)  # inside the radius, refused

    unnamed = _covered(JEDDAH["latitude"], JEDDAH["longitude"], available=True)
    chat = Chat(replace(MENU, coverage=unnamed))
    chat.send_all("hi", "1", "1")
    assert "from our" in chat.send(**JEDDAH)  # covered, no branch named: the nearest delivers


def test_coverage_for_another_point_is_ignored() -> None:
    elsewhere = Coverage(0.0, 0.0, available=False)
    chat = Chat(replace(MENU, coverage=elsewhere))
    chat.send_all("hi", "1", "1")
    assert "from our Olaya branch" in chat.send(**NEAR_OLAYA)  # the radius decides, as before


def test_a_discounted_item_shows_its_old_price_struck_through() -> None:
    items = tuple(
        replace(i, price=1200, price_before=1500) if i.id == "itm_shawarma" else i for i in MENU.items
    )
    chat = Chat(replace(MENU, items=items))
    chat.send_all("hi", "1", "1")
    chat.send(**NEAR_OLAYA)
    listing = chat.send("1")
    assert "Chicken Shawarma — 12.00 SAR ~15.00 SAR~" in listing
    assert "Beef Burger — 25.00 SAR" in listing and "25.00 SAR ~" not in listing


def test_online_payment_without_a_fixed_link() -> None:
    chat = Chat(replace(MENU, payment_link=None, online_payment=True))
    chat.send_all("hi", "1", "2", "1", "1", "1", "1", "3")  # pickup at Olaya, one shawarma, checkout
    assert "How would you like to pay?" in chat.reply and "2. Pay online 💳" in chat.reply
    chat.send("2")  # online
    confirmation = chat.placed()
    assert "#1042" in confirmation and "http" not in confirmation  # the link comes with the platform's number
