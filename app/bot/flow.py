"""The ordering bot as a pure state machine: `step(state, inbound, ctx) -> (state, actions)`.

Nothing here does I/O, reads the clock or draws random numbers, so a conversation replays exactly
and is tested without a database. The runner loads a `TurnContext` (restaurant, menu, latest order)
before each turn, applies the returned actions in order inside the transaction that stores the new
`State` (as JSON), and calls `order_placed` / `order_status_changed` for the events that don't come
from the customer.

Steps (`State.step`), each named after what the customer was last asked:

    start → welcome (1 order, 2 track, 3 staff) → order_type → location [→ out_of_range] | branch
    → category → item [→ option …] → quantity → after_item ⇄ cart ⇄ remove → payment → confirm → placing → done
    order_status_changed(DELIVERED) → rating → rating_comment → done

Opening hours (`TurnContext.hours`, judged by the runner with app.services.hours): while the
restaurant is closed every welcome says when it opens. Unless it takes orders for later, "new order"
is refused right there (no menu to browse that can't be ordered from) and a cart begun before closing
is kept but refused at checkout; with orders for later the summary and the confirmation say the
order is prepared at the opening. BUSY: the welcome and the confirmation warn of longer waits.

`done` (order finished), `placing` (PlaceOrder returned, `order_placed` not yet called) and `handoff`
(staff took over) answer the next message with the welcome. Words such as *staff*, *track*, *menu*,
*cancel*, *cart* and *checkout* work from any step; anything else unknown re-prompts the current step.

An item with option groups ("Size": exactly one; "Add-ons": up to N) asks them in order after it is
picked (step `option`, `option_group` the one being asked, `picked` the option ids chosen so far),
then the quantity: one line of the cart is one item with one set of options, priced with their deltas.

Where a step offers options, its `Reply` carries them as abstract `Choice`s (id, title, description)
besides its text: the text is the numbered rendering (what staff see, and what goes out when buttons
can't), and a sender may render the choices as WhatsApp buttons or a list instead (app/services/
interactive.py). A choice's id is what that step accepts back as a ButtonPayload or ListId. A long
list's "more" row (`MORE`) asks for the same prompt's next `page`; which rows a page holds is the
sender's business.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, fields, replace
from datetime import date, datetime
from math import asin, cos, radians, sin, sqrt
from typing import Any, Literal, TypeVar, cast

from app.bot.texts import branch_name, opening_time, t


# ── what the runner loads before a turn ─────────────────────────────────────────────────────────
@dataclass(frozen=True)
class ItemOption:
    id: str
    name_ar: str
    name_en: str
    price_delta: int = 0  # minor units, added to the item's price


@dataclass(frozen=True)
class OptionGroup:
    """Asked after the item is picked: `min_select`..`max_select` of `options` (the available ones)."""

    id: str
    name_ar: str
    name_en: str
    min_select: int
    max_select: int
    options: tuple[ItemOption, ...] = ()


@dataclass(frozen=True)
class Item:
    id: str
    category_id: str
    name_ar: str
    name_en: str
    price: int  # minor units (halalas)
    available: bool = True
    max_quantity: int = 10
    image_url: str | None = None  # shown (as a photo) when the customer picks the item
    description_ar: str | None = None  # shown with it
    description_en: str | None = None
    option_groups: tuple[OptionGroup, ...] = ()  # in the order they are asked
    price_before: int | None = None  # minor units: the price before a discount, shown struck through


@dataclass(frozen=True)
class Category:
    id: str
    name_ar: str
    name_en: str


@dataclass(frozen=True)
class Branch:
    id: str
    name_ar: str
    name_en: str
    address: str
    latitude: float
    longitude: float
    delivery_radius_km: float
    is_default: bool = False  # delivers orders to a typed address (see `_default_branch`)


@dataclass(frozen=True)
class LatestOrder:
    id: str
    reference: str  # e.g. "#1042"
    status: str  # CONFIRMED|PREPARING|OUT_FOR_DELIVERY|READY|DELIVERED|CANCELLED
    order_type: str  # delivery|pickup
    rated: bool = False


@dataclass(frozen=True)
class Hours:
    """Whether the restaurant takes orders now, as the runner judged it (app.services.hours)."""

    status: Literal["open", "busy", "closed"] = "open"
    opens_at: datetime | None = None  # closed: the next opening, wall time in the restaurant's zone
    today: date | None = None  # the restaurant's date now, to say "today" / "tomorrow"
    orders_for_later: bool = False  # closed: orders are still taken, prepared at the opening

    @property
    def closed(self) -> bool:
        return self.status == "closed"

    @property
    def refuses_orders(self) -> bool:
        return self.closed and not self.orders_for_later


@dataclass(frozen=True)
class Coverage:
    """A delivery platform's answer for one location (the Sufrah platform's coverage check, asked by
    the runner before the turn): it replaces the branches' radius for that point."""

    latitude: float
    longitude: float
    available: bool
    branch_id: str | None = None  # the delivering branch, when the platform named it


@dataclass(frozen=True)
class TurnContext:
    """Everything the bot may know about the restaurant; the tuples are in display order."""

    restaurant_name: str
    customer_name: str | None = None  # their WhatsApp profile name, for the welcome
    currency: str = "SAR"
    min_delivery_total: int = 0  # minor units; applies to delivery only
    payment_link: str | None = None
    online_payment: bool = False  # offered without a fixed link too (the platform sends one per order)
    branches: tuple[Branch, ...] = ()
    categories: tuple[Category, ...] = ()
    items: tuple[Item, ...] = ()
    latest_order: LatestOrder | None = None
    hours: Hours = Hours()
    app_link: str | None = None  # the restaurant's own ordering app, offered in the welcome
    coverage: Coverage | None = None


@dataclass(frozen=True)
class Inbound:
    """One customer message as stored."""

    text: str = ""
    button_payload: str | None = None
    button_text: str | None = None
    list_id: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    address: str | None = None
    label: str | None = None
    message_type: str = "text"  # text|location|button|media|...


# ── state and actions ───────────────────────────────────────────────────────────────────────────
@dataclass(frozen=True)
class ChosenOption:
    """An option of a cart line, copied (names, price delta) when the line was added."""

    option_id: str
    group_ar: str
    group_en: str
    name_ar: str
    name_en: str
    price_delta: int

    def snapshot(self) -> dict[str, Any]:
        """What the order line keeps of it."""
        return {
            "group_ar": self.group_ar,
            "group_en": self.group_en,
            "name_ar": self.name_ar,
            "name_en": self.name_en,
            "price_delta": self.price_delta,
        }


@dataclass(frozen=True)
class OrderLine:
    """A cart line. Names and price are copied when added, so the cart never points into a TurnContext.
    `unit_price` is the item's price plus its options' deltas."""

    item_id: str
    name_ar: str
    name_en: str
    unit_price: int
    quantity: int
    options: tuple[ChosenOption, ...] = ()

    @property
    def line_total(self) -> int:
        return self.unit_price * self.quantity


@dataclass(frozen=True)
class State:
    """The bot's memory of one conversation. Plain values only, so it round-trips through JSON."""

    step: str = "start"
    lang: str = "ar"
    cart: tuple[OrderLine, ...] = ()
    order_type: str | None = None  # set once the delivery location or the pickup branch is known
    branch_id: str | None = None
    delivery_address: str | None = None
    delivery_latitude: float | None = None
    delivery_longitude: float | None = None
    category_id: str | None = None  # the category being browsed
    pending_item_id: str | None = None  # the item whose options or quantity we asked for
    option_group: int = 0  # which of the pending item's option groups we asked
    picked: tuple[str, ...] = ()  # the option ids chosen so far for the pending item
    payment_method: str | None = None  # cash|online
    placed_total: int = 0  # for the confirmation text, between PlaceOrder and order_placed
    rating_order_id: str | None = None
    rating: int | None = None  # given, waiting for the optional comment
    page: int = 0  # which page of a long list picker the last prompt showed (see `MORE`)

    def to_json(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data["cart"] = [_line_to_json(line) for line in self.cart]
        data["picked"] = list(self.picked)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any] | None) -> State:
        """Tolerant on purpose: unknown keys (older versions) and malformed values fall back to defaults."""
        if not isinstance(data, dict):
            return cls()
        values: dict[str, Any] = {}
        for name, kinds in _STATE_TYPES.items():
            value = data.get(name)
            if isinstance(value, kinds) and not isinstance(value, bool):
                values[name] = float(cast(float, value)) if float in kinds else value
        raw_cart = data.get("cart")
        lines = (_line_from_json(raw) for raw in (raw_cart if isinstance(raw_cart, list) else ()))
        raw_picked = data.get("picked")
        picked = tuple(p for p in (raw_picked if isinstance(raw_picked, list) else ()) if isinstance(p, str))
        return cls(**values, cart=tuple(line for line in lines if line is not None), picked=picked)


_STATE_TYPES: dict[str, tuple[type, ...]] = {
    "step": (str,),
    "lang": (str,),
    "order_type": (str,),
    "branch_id": (str,),
    "delivery_address": (str,),
    "delivery_latitude": (float, int),
    "delivery_longitude": (float, int),
    "category_id": (str,),
    "pending_item_id": (str,),
    "payment_method": (str,),
    "placed_total": (int,),
    "rating_order_id": (str,),
    "rating": (int,),
    "page": (int,),
    "option_group": (int,),
}


def _line_to_json(line: OrderLine) -> dict[str, Any]:
    data = {f.name: getattr(line, f.name) for f in fields(line)}
    data["options"] = [{f.name: getattr(o, f.name) for f in fields(o)} for o in line.options]
    return data


def _line_from_json(raw: object) -> OrderLine | None:
    if not isinstance(raw, dict):
        return None
    names_ok = all(isinstance(raw.get(key), str) for key in ("item_id", "name_ar", "name_en"))
    numbers_ok = all(type(raw.get(key)) is int for key in ("unit_price", "quantity"))
    raw_options = raw.get("options", [])
    options = [_option_from_json(o) for o in (raw_options if isinstance(raw_options, list) else [None])]
    if not names_ok or not numbers_ok or None in options:
        return None  # a line whose options we can't read goes: its price would be wrong
    basics = {f.name: raw[f.name] for f in fields(OrderLine) if f.name != "options"}
    return OrderLine(**basics, options=tuple(o for o in options if o is not None))


def _option_from_json(raw: object) -> ChosenOption | None:
    if not isinstance(raw, dict) or type(raw.get("price_delta")) is not int:
        return None
    names = ("option_id", "group_ar", "group_en", "name_ar", "name_en")
    if not all(isinstance(raw.get(key), str) for key in names):
        return None
    return ChosenOption(**{f.name: raw[f.name] for f in fields(ChosenOption)})


@dataclass(frozen=True)
class Choice:
    """One option of a prompt. `id` comes back as the ButtonPayload / ListId of a button or list reply
    and is accepted by the step that offered it; `title` (and `description`) are what the customer
    reads, the numbered line being "title — description". A renderer shortens titles to fit."""

    id: str
    title: str
    description: str | None = None

    @property
    def row(self) -> str:
        return f"{self.title} — {self.description}" if self.description else self.title


MORE = "page_next"  # the payload of a long list's "more" row: the same prompt, next `page`


@dataclass(frozen=True)
class Reply:
    """Send this to the customer. `text` is the numbered-text rendering (what staff see, and what goes
    out when buttons can't); with `choices` a sender may render buttons or a list instead, with `body`
    above them. `body` may hold {{1}}-style slots for `variables` (the customer's name), so one
    interactive content serves every customer; `text` has them filled in. `page`: which page of a long
    list the customer asked for (see MORE). `media_url`: a photo to show with the text."""

    text: str
    choices: tuple[Choice, ...] = ()
    body: str | None = None
    variables: tuple[tuple[str, str], ...] = ()
    page: int = 0
    media_url: str | None = None


@dataclass(frozen=True)
class PlaceOrder:
    """Create the order (status CONFIRMED, next per-restaurant reference), then call `order_placed`."""

    order_type: str  # delivery|pickup
    branch_id: str | None
    lines: tuple[OrderLine, ...]
    subtotal: int
    total: int
    currency: str
    payment_method: str  # cash|online
    delivery_address: str | None
    delivery_latitude: float | None
    delivery_longitude: float | None
    lang: str


@dataclass(frozen=True)
class Handoff:
    """Turn the bot off for this conversation; staff answer by hand until they turn it back on."""


@dataclass(frozen=True)
class RateOrder:
    order_id: str
    rating: int  # 1..5
    comment: str | None


Action = Reply | PlaceOrder | Handoff | RateOrder
Turn = tuple[State, list[Action]]


# ── public helpers ──────────────────────────────────────────────────────────────────────────────
_AR_CURRENCY = {"SAR": "ر.س", "AED": "د.إ", "KWD": "د.ك", "BHD": "د.ب", "OMR": "ر.ع", "QAR": "ر.ق"}
_THREE_DECIMALS = {"KWD", "BHD", "OMR", "JOD"}


def format_price(amount_minor: int, currency: str, lang: str) -> str:
    """2500, "SAR" -> "25.00 SAR" (en) / "25.00 ر.س" (ar); dinars have three decimals."""
    digits = 3 if currency.upper() in _THREE_DECIMALS else 2
    whole, fraction = divmod(abs(amount_minor), 10**digits)
    unit = _AR_CURRENCY.get(currency.upper(), currency) if lang == "ar" else currency
    return f"{'-' if amount_minor < 0 else ''}{whole}.{fraction:0{digits}d} {unit}"


def detect_language(text: str) -> str:
    """Return "ar" if the text contains an Arabic letter, else "en" (mixed text is read as Arabic)."""
    return "ar" if any(ch.isalpha() and "\u0600" <= ch <= "\u08ff" for ch in text) else "en"


# ── reading what the customer sent ──────────────────────────────────────────────────────────────
_DIGITS = str.maketrans("٠١٢٣٤٥٦٧٨٩۰۱۲۳۴۵۶۷۸۹", "01234567890123456789")
_FOLD = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ة": "ه", "ى": "ي", "ـ": None})


def _normalize(raw: str) -> str:
    """Fold what customers vary without meaning to: case, digits, hamza, diacritics, emoji, punctuation."""
    text = re.sub(r"[^\w\s]", " ", raw.translate(_DIGITS).translate(_FOLD).lower())
    return " ".join(text.split())


def _words(*words: str) -> frozenset[str]:
    return frozenset(_normalize(w) for w in words)


_STAFF = _words("staff", "agent", "human", "موظف", "الموظف", "خدمة العملاء")
_TRACK = _words("track", "track order", "track my order", "تتبع", "تتبع طلبي")
_HOME = _words(
    "0",
    "menu",
    "main menu",
    "hi",
    "hello",
    "hey",
    "start",
    "مرحبا",
    "السلام عليكم",
    "سلام",
    "اهلا",
    "هلا",
    "هاي",
    "القائمة",
    "القائمة الرئيسية",
)
_CANCEL = _words("cancel", "cancel order", "الغاء", "الغاء الطلب")
_CART = _words("cart", "view cart", "basket", "السلة", "سلة", "عرض السلة")
_CHECKOUT = _words("checkout", "check out", "اتمام الطلب", "الدفع")
_DELIVERY = _words("delivery", "deliver", "توصيل", "التوصيل")
_PICKUP = _words("pickup", "pick up", "استلام", "الاستلام")
_BACK = _words("back", "رجوع", "عودة")
_SKIP = _words("skip", "no", "no comment", "تخطي", "لا")
_REMOVE_LINE = re.compile(r"^(?:remove|delete|حذف|ازاله)\s*(\d+)$")


@dataclass(frozen=True)
class _Option:
    """One numbered choice: `key` is what a button payload may carry instead of the number."""

    key: str
    words: frozenset[str] = frozenset()


def _candidates(inbound: Inbound) -> list[str]:
    """Normalized answers, most specific first: a button or list reply beats the text it carries."""
    raw = (inbound.button_payload, inbound.list_id, inbound.button_text, inbound.text)
    return [norm for value in raw if value and (norm := _normalize(value))]


def _matches(inbound: Inbound, words: frozenset[str]) -> bool:
    return any(candidate in words for candidate in _candidates(inbound))


def _number(inbound: Inbound) -> int | None:
    return next((int(c) for c in _candidates(inbound) if c.isascii() and c.isdigit()), None)


def _choose(inbound: Inbound, options: Sequence[_Option]) -> str | None:
    """The key of the option the customer picked by number, option key or word; None if none."""
    for candidate in _candidates(inbound):
        if candidate.isascii() and candidate.isdigit():
            if 1 <= int(candidate) <= len(options):
                return options[int(candidate) - 1].key
            continue
        for option in options:
            if candidate == _normalize(option.key) or candidate in option.words:
                return option.key
    return None


def _language(current: str, inbound: Inbound) -> str:
    """Follow the customer's language; digits, locations and media keep the current one."""
    text = inbound.text or inbound.button_text or ""
    return detect_language(text) if any(ch.isalpha() for ch in text) else current


# ── menu helpers ────────────────────────────────────────────────────────────────────────────────
_Row = TypeVar("_Row", Item, Category, Branch, ItemOption)


def _name(thing: Item | Category | Branch | OrderLine | OptionGroup | ItemOption, lang: str) -> str:
    return (thing.name_ar if lang == "ar" else thing.name_en) or thing.name_en or thing.name_ar


def _branch_name(branch: Branch, lang: str) -> str:
    return branch_name(_name(branch, lang), lang)


def _default_branch(ctx: TurnContext) -> Branch | None:
    """The branch that delivers to a typed address: the one the restaurant marked default, else its
    first in display order (a typed address has no coordinates to find the nearest)."""
    return next((b for b in ctx.branches if b.is_default), ctx.branches[0] if ctx.branches else None)


def _numbered(rows: Iterable[str]) -> str:
    return "\n".join(f"{n}. {row}" for n, row in enumerate(rows, start=1))


def _orderable(ctx: TurnContext, category_id: str | None = None) -> list[Item]:
    """Available items whose required option groups have enough available options to choose from."""
    return [
        i
        for i in ctx.items
        if i.available
        and category_id in (None, i.category_id)
        and all(len(g.options) >= g.min_select for g in i.option_groups)
    ]


def _open_categories(ctx: TurnContext) -> list[Category]:
    stocked = {item.category_id for item in _orderable(ctx)}
    return [c for c in ctx.categories if c.id in stocked]


def _find(rows: Iterable[_Row], row_id: str | None) -> _Row | None:
    return next((row for row in rows if row.id == row_id), None)


def _options(rows: Iterable[Item | Category | Branch]) -> list[_Option]:
    """Menu rows as options: a list reply may carry the id, a customer may type the name ("ال" optional)."""
    return [_Option(row.id, _words(row.name_ar, row.name_en, row.name_ar.removeprefix("ال"))) for row in rows]


def _subtotal(cart: Iterable[OrderLine]) -> int:
    return sum(line.line_total for line in cart)


def _price(amount: int, state: State, ctx: TurnContext) -> str:
    return format_price(amount, ctx.currency, state.lang)


def _options_text(options: Iterable[ChosenOption], lang: str) -> str:
    """ "Large, Garlic": a line's options by name."""
    names = ((o.name_ar if lang == "ar" else o.name_en) or o.name_en or o.name_ar for o in options)
    return ("، " if lang == "ar" else ", ").join(names)


def _item_price(item: Item, state: State, ctx: TurnContext) -> str:
    """An item's price; a discounted one with the old price struck through (WhatsApp's ~text~)."""
    if item.price_before is not None and item.price_before > item.price:
        return f"{_price(item.price, state, ctx)} ~{_price(item.price_before, state, ctx)}~"
    return _price(item.price, state, ctx)


def _line_choices(state: State, ctx: TurnContext) -> list[Choice]:
    """The cart's lines, numbered as the customer removes them ("remove 2"); a line's options come
    before its price (which includes them): "2 × Shawarma — Large, Garlic · 30.00 SAR"."""
    return [
        Choice(
            str(n),
            f"{ln.quantity} × {_name(ln, state.lang)}",
            " · ".join(
                filter(None, (_options_text(ln.options, state.lang), _price(ln.line_total, state, ctx)))
            ),
        )
        for n, ln in enumerate(state.cart, start=1)
    ]


def _cart_lines(state: State, ctx: TurnContext) -> str:
    return _numbered(choice.row for choice in _line_choices(state, ctx))


def _distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle (haversine) distance; plenty accurate for a delivery radius."""
    dlat, dlon = radians(lat2 - lat1), radians(lon2 - lon1)
    a = sin(dlat / 2) ** 2 + cos(radians(lat1)) * cos(radians(lat2)) * sin(dlon / 2) ** 2
    return 2 * 6371.0088 * asin(sqrt(a))


def _covering_branch(ctx: TurnContext, lat: float, lon: float) -> Branch | None:
    """The nearest branch whose delivery radius includes the point, if any (or, where a platform
    answered for this point, the branch it named, else the nearest one)."""
    cover = ctx.coverage
    if cover is not None and (cover.latitude, cover.longitude) == (lat, lon):
        named = _find(ctx.branches, cover.branch_id)
        nearest = min(
            ctx.branches, key=lambda b: _distance_km(b.latitude, b.longitude, lat, lon), default=None
        )
        return (named or nearest) if cover.available else None
    reach = [(_distance_km(b.latitude, b.longitude, lat, lon), b) for b in ctx.branches]
    inside = [(km, b) for km, b in reach if km <= b.delivery_radius_km]
    return min(inside, key=lambda pair: pair[0])[1] if inside else None


# ── prompts: what each step asks; also the re-prompt after input we didn't understand ───────────
def _ask(
    key: str,
    state: State,
    choices: Sequence[Choice],
    *,
    slot: str = "choices",
    body_key: str | None = None,
    **values: object,
) -> Reply:
    """The text `key` with its choices numbered into `slot`, and the body for buttons or a list: the
    same text without those lines, or the text `body_key` where the numbered one speaks of numbers."""
    text = t(key, state.lang, **{slot: _numbered(c.row for c in choices)}, **values)
    if body_key is not None:
        body = t(body_key, state.lang, **values)
    else:
        body = re.sub(r"\n{3,}", "\n\n", t(key, state.lang, **{slot: ""}, **values)).strip()
    return Reply(text, choices=tuple(choices), body=body)


def _welcome_prompt(state: State, ctx: TurnContext) -> Reply:
    choices = [
        Choice("order", t("choice_order", state.lang)),
        Choice("track", t("choice_track", state.lang)),
        Choice("staff", t("choice_staff", state.lang)),
    ]
    name = " ".join((ctx.customer_name or "").split())[:40]
    if name:
        prompt = _ask("welcome_named", state, choices, restaurant=ctx.restaurant_name, customer=name)
        # the name is a variable of the interactive content, so every customer shares one content
        body = t("welcome_body_named", state.lang, restaurant=ctx.restaurant_name, customer="{{1}}")
        prompt = replace(prompt, body=body, variables=(("1", name),))
    else:
        prompt = _ask("welcome", state, choices, body_key="welcome_body", restaurant=ctx.restaurant_name)
    if state.cart:
        count, total = sum(ln.quantity for ln in state.cart), _price(_subtotal(state.cart), state, ctx)
        saved = t("cart_saved", state.lang, count=count, total=total)
        prompt = replace(prompt, text=f"{prompt.text}\n{saved}", body=f"{prompt.body}\n{saved}")
    if ctx.app_link:
        app = t("app_link", state.lang, link=ctx.app_link)
        prompt = replace(prompt, text=f"{prompt.text}\n{app}", body=f"{prompt.body}\n{app}")
    hours = _hours_note(state, ctx)
    if hours:
        prompt = replace(prompt, text=f"{hours}\n\n{prompt.text}", body=f"{hours}\n\n{prompt.body}")
    return prompt


def _opens(state: State, ctx: TurnContext) -> str:
    """ "We're closed right now. We open tomorrow at 09:00." (or without a time when none is known)"""
    hours = ctx.hours
    if hours.opens_at is None:
        return t("closed_now", state.lang)
    when = opening_time(hours.opens_at, hours.today or hours.opens_at.date(), state.lang)
    return t("closed_until", state.lang, when=when)


def _hours_note(state: State, ctx: TurnContext) -> str | None:
    """What the welcome says about the opening hours: nothing while open."""
    if ctx.hours.status == "busy":
        return t("busy_now", state.lang)
    if not ctx.hours.closed:
        return None
    later = "closed_takes_orders" if ctx.hours.orders_for_later else "closed_no_orders"
    return f"{_opens(state, ctx)}\n{t(later, state.lang)}"


def _refuse_closed(state: State, ctx: TurnContext, then: Reply, *, say_when: bool = True) -> Turn:
    """Closed and not taking orders: say so, and when we open (unless `then`, the welcome, says it);
    a cart stays for later."""
    refused = t("closed_refused", state.lang)
    if state.cart:
        refused = f"{refused} {t('cart_kept', state.lang)}"
    return _say(state, f"{_opens(state, ctx)}\n{refused}" if say_when else refused, then)


def _order_type_prompt(state: State, ctx: TurnContext) -> Reply:
    choices = [
        Choice("delivery", t("choice_delivery", state.lang)),
        Choice("pickup", t("choice_pickup", state.lang)),
    ]
    return _ask("order_type", state, choices)


def _out_of_range_prompt(state: State, ctx: TurnContext) -> Reply:
    choices = [
        Choice("pickup", t("choice_pickup_instead", state.lang)),
        Choice("location", t("choice_other_location", state.lang)),
    ]
    return _ask("out_of_range", state, choices)


def _branches_prompt(state: State, ctx: TurnContext) -> Reply:
    choices = [Choice(b.id, _name(b, state.lang), b.address) for b in ctx.branches]
    return _ask("choose_branch", state, choices, slot="branches")


def _categories_prompt(state: State, ctx: TurnContext) -> Reply:
    choices = [Choice(c.id, _name(c, state.lang)) for c in _open_categories(ctx)]
    return _ask("categories", state, choices, slot="categories")


def _items_prompt(state: State, ctx: TurnContext) -> Reply:
    category = _find(ctx.categories, state.category_id)
    items = _orderable(ctx, state.category_id)
    if category is None or not items:
        return _categories_prompt(state, ctx)
    choices = [Choice(i.id, _name(i, state.lang), _item_price(i, state, ctx)) for i in items]
    name = _name(category, state.lang)
    return _ask("items", state, choices, slot="items", body_key="items_body", category=name)


def _quantity_limit(state: State, item: Item) -> int:
    in_cart = sum(line.quantity for line in state.cart if line.item_id == item.id)
    return item.max_quantity - in_cart


def _quantity_prompt(state: State, ctx: TurnContext) -> Reply:
    item = _find(_orderable(ctx), state.pending_item_id)
    if item is None:
        return _categories_prompt(state, ctx)
    limit, name = _quantity_limit(state, item), _name(item, state.lang)
    options = _options_text(_chosen(item, state.picked), state.lang)
    if options:
        name = f"{name} ({options})"
    choices = [Choice(str(n), str(n)) for n in range(1, min(limit, 3) + 1)]
    text = t("ask_quantity", state.lang, item=name, limit=limit)
    body = t("ask_quantity_body", state.lang, item=name, limit=limit)
    reply = Reply(text, choices=tuple(choices), body=body)
    return reply if item.option_groups else _introduced(reply, item, state, ctx)


def _introduced(reply: Reply, item: Item, state: State, ctx: TurnContext) -> Reply:
    """The first question about a picked item, with its photo (captioned with its name, price and
    description) or its description."""
    name = _name(item, state.lang)
    description = item.description_ar if state.lang == "ar" else item.description_en
    description = description or item.description_en or item.description_ar
    if item.image_url:
        caption = "\n".join(filter(None, (f"{name} — {_item_price(item, state, ctx)}", description)))
        return replace(reply, text=f"{caption}\n{reply.text}", media_url=item.image_url)
    if description:
        return replace(reply, text=f"{description}\n{reply.text}")
    return reply


# The choices that end an option group's question: none of a single optional group, the end of a
# multiple one. They come after the group's options, so an option with the same id would win.
NO_OPTION, OPTIONS_DONE = "option_none", "options_done"
_NONE_WORDS = _words("no", "none", "no thanks", "skip", "لا", "بدون", "لا شكرا", "تخطي")
_DONE_WORDS = _words("done", "finish", "no extras", "that's all", "تم", "انتهيت", "بدون اضافات", *_NONE_WORDS)


def _chosen(item: Item, picked: Iterable[str]) -> tuple[ChosenOption, ...]:
    """The options picked for `item`, in the order of its groups and their options."""
    ids = set(picked)
    return tuple(
        ChosenOption(o.id, g.name_ar, g.name_en, o.name_ar, o.name_en, o.price_delta)
        for g in item.option_groups
        for o in g.options
        if o.id in ids
    )


def _ids(group: OptionGroup) -> set[str]:
    return {o.id for o in group.options}


def _group_limit(group: OptionGroup) -> int:
    """How many of the group may be chosen: its maximum, or all its available options if fewer."""
    return min(group.max_select, len(group.options))


def _option_choices(state: State, group: OptionGroup) -> list[Choice]:
    """The group's options not chosen yet (with their price deltas), then the choice that ends it
    when the customer may stop: "No, thanks" (a single optional group), "Done" / "No extras"."""
    taken = [o for o in group.options if o.id in state.picked]
    choices = [Choice(o.id, _name(o, state.lang)) for o in group.options if o.id not in state.picked]
    if _group_limit(group) == 1:
        if group.min_select == 0:
            choices.append(Choice(NO_OPTION, t("choice_no_option", state.lang)))
    elif len(taken) >= group.min_select:
        choices.append(
            Choice(OPTIONS_DONE, t("choice_options_done" if taken else "choice_no_extras", state.lang))
        )
    return choices


def _option_prompt(state: State, ctx: TurnContext) -> Reply:
    item = _find(_orderable(ctx), state.pending_item_id)
    if item is None or not 0 <= state.option_group < len(item.option_groups):
        return _categories_prompt(state, ctx)
    group = item.option_groups[state.option_group]
    choices = _option_choices(state, group)
    for n, choice in enumerate(choices):
        option = _find(group.options, choice.id)
        if option is not None and option.price_delta:
            choices[n] = replace(choice, description=f"+{_price(option.price_delta, state, ctx)}")
    names = {"item": _name(item, state.lang), "group": _name(group, state.lang)}
    limit = _group_limit(group)
    if limit == 1:
        reply = _ask("ask_option_one", state, choices, **names)
    else:
        low = group.min_select
        wanted = (
            t("option_between", state.lang, low=low, limit=limit)
            if low
            else t("option_up_to", state.lang, limit=limit)
        )
        taken = _options_text(
            (o for o in _chosen(item, state.picked) if o.option_id in _ids(group)), state.lang
        )
        so_far = t("option_so_far", state.lang, options=taken) if taken else ""
        reply = _ask("ask_option_many", state, choices, wanted=wanted, so_far=so_far, **names)
    first = state.option_group == 0 and not state.picked
    return _introduced(reply, item, state, ctx) if first else reply


def _after_item_prompt(state: State, ctx: TurnContext) -> Reply:
    choices = [
        Choice("add", t("choice_add_another", state.lang)),
        Choice("cart", t("choice_view_cart", state.lang)),
        Choice("checkout", t("choice_checkout", state.lang)),
    ]
    return _ask("after_item", state, choices)


def _cart_prompt(state: State, ctx: TurnContext) -> Reply:
    total = _price(_subtotal(state.cart), state, ctx)
    choices = [
        Choice("add", t("choice_add_more", state.lang)),
        Choice("checkout", t("choice_checkout", state.lang)),
        Choice("remove", t("choice_remove", state.lang)),
    ]
    return _ask("cart", state, choices, lines=_cart_lines(state, ctx), total=total)


def _remove_prompt(state: State, ctx: TurnContext) -> Reply:
    return _ask("ask_remove", state, _line_choices(state, ctx), slot="lines")


def _cash_label(state: State) -> str:
    return t("pay_cash_pickup" if state.order_type == "pickup" else "pay_cash_delivery", state.lang)


def _pays_online(ctx: TurnContext) -> bool:
    return bool(ctx.payment_link) or ctx.online_payment


def _payment_prompt(state: State, ctx: TurnContext) -> Reply:
    if not _pays_online(ctx):
        return _confirm_prompt(replace(state, payment_method="cash"), ctx)
    choices = [Choice("cash", _cash_label(state)), Choice("online", t("choice_pay_online", state.lang))]
    return _ask("ask_payment", state, choices)


def _confirm_prompt(state: State, ctx: TurnContext) -> Reply:
    payment = t("pay_online", state.lang) if state.payment_method == "online" else _cash_label(state)
    choices = [
        Choice("confirm", t("choice_confirm", state.lang)),
        Choice("edit", t("choice_edit", state.lang)),
    ]
    return _ask("ask_confirm", state, choices, payment=payment)


def _rating_prompt(state: State, ctx: TurnContext) -> Reply:
    choices = tuple(Choice(str(n), f"{n} {'⭐' * n}") for n in range(1, 6))
    return Reply(t("ask_rating", state.lang), choices=choices)


def _summary_text(state: State, ctx: TurnContext) -> str:
    if state.order_type == "pickup":
        branch = _find(ctx.branches, state.branch_id)
        where = t("where_pickup", state.lang, branch=_branch_name(branch, state.lang) if branch else "")
    else:
        address = state.delivery_address or t("shared_location", state.lang)
        where = t("where_delivery", state.lang, address=address)
    total = _price(_subtotal(state.cart), state, ctx)
    return t("summary", state.lang, lines=_cart_lines(state, ctx), total=total, where=where)


def _fixed(key: str) -> Callable[[State, TurnContext], Reply]:
    return lambda state, ctx: Reply(t(key, state.lang))


_PROMPTS: dict[str, Callable[[State, TurnContext], Reply]] = {
    "start": _welcome_prompt,
    "welcome": _welcome_prompt,
    "done": _welcome_prompt,
    "placing": _welcome_prompt,
    "handoff": _welcome_prompt,
    "order_type": _order_type_prompt,
    "location": _fixed("ask_location"),
    "out_of_range": _out_of_range_prompt,
    "branch": _branches_prompt,
    "category": _categories_prompt,
    "item": _items_prompt,
    "option": _option_prompt,
    "quantity": _quantity_prompt,
    "after_item": _after_item_prompt,
    "cart": _cart_prompt,
    "remove": _remove_prompt,
    "payment": _payment_prompt,
    "confirm": _confirm_prompt,
    "rating": _rating_prompt,
    "rating_comment": _fixed("ask_comment"),
}


def _say(state: State, *parts: str | Reply | None) -> Turn:
    """One Reply made of the non-empty parts, separated by a blank line. A prompt (a Reply part) keeps
    its choices, body, variables and photo; the parts before it become part of its body too."""
    prompt = next((p for p in reversed(parts) if isinstance(p, Reply)), None)
    texts = [p.text if isinstance(p, Reply) else p for p in parts if p]
    reply = Reply("\n\n".join(texts))
    if prompt is not None:
        before = [p for p in parts[: parts.index(prompt)] if p and isinstance(p, str)]
        body = "\n\n".join([*before, prompt.body or prompt.text]) if prompt.choices else None
        reply = replace(prompt, text=reply.text, body=body, page=state.page)
    return state, [reply]


def _reprompt(state: State, ctx: TurnContext) -> Turn:
    """Input we didn't understand: same step, same cart, the step's options again."""
    return _say(state, t("didnt_get", state.lang), _PROMPTS.get(state.step, _welcome_prompt)(state, ctx))


# ── moves shared by several steps ───────────────────────────────────────────────────────────────
def _welcome(state: State, ctx: TurnContext, *, note: str | None = None) -> Turn:
    """The main menu. The cart survives (a greeting mid-order must not lose it); a pending rating doesn't."""
    state = replace(
        state, step="welcome", category_id=None, pending_item_id=None, rating_order_id=None, rating=None
    )
    return _say(state, note, _welcome_prompt(state, ctx))


def _handoff(state: State) -> Turn:
    state = replace(state, step="handoff", rating_order_id=None, rating=None)
    return state, [Reply(t("handoff", state.lang)), Handoff()]


_STATUSES = ("CONFIRMED", "PREPARING", "OUT_FOR_DELIVERY", "READY", "DELIVERED", "CANCELLED")


def _track(state: State, ctx: TurnContext) -> Turn:
    """The latest order's status, without moving: mid-order the customer carries on where they were."""
    if state.step in ("start", "handoff", "placing"):
        state = replace(state, step="done")
    order = ctx.latest_order
    if order is None:
        return _say(state, t("no_order", state.lang))
    status = t(f"status_word_{order.status}", state.lang) if order.status in _STATUSES else order.status
    return _say(state, t("track", state.lang, reference=order.reference, status=status))


def _ask_branch(state: State, ctx: TurnContext) -> Turn:
    if not ctx.branches:
        state = replace(state, step="order_type")
        return _say(state, t("no_branches", state.lang), _order_type_prompt(state, ctx))
    return _say(replace(state, step="branch"), _branches_prompt(state, ctx))


def _show_categories(state: State, ctx: TurnContext, *, note: str | None = None) -> Turn:
    state = replace(state, step="category", category_id=None, pending_item_id=None)
    if not _open_categories(ctx):
        return _say(replace(state, step="done"), note, t("menu_empty", state.lang))
    return _say(state, note, _categories_prompt(state, ctx))


def _show_items(state: State, ctx: TurnContext, category_id: str) -> Turn:
    state = replace(state, step="item", category_id=category_id)
    if not _orderable(ctx, category_id):
        return _show_categories(state, ctx)
    return _say(state, _items_prompt(state, ctx))


def _pick_item(state: State, ctx: TurnContext, item: Item) -> Turn:
    """The customer picked an item: its option groups in order (if any), then the quantity."""
    state = replace(state, pending_item_id=item.id, option_group=0, picked=())
    if not item.option_groups or _quantity_limit(state, item) <= 0:
        return _ask_quantity(state, ctx, item)
    return _say(replace(state, step="option"), _option_prompt(replace(state, step="option"), ctx))


def _next_group(state: State, ctx: TurnContext, item: Item) -> Turn:
    """The pending item's next option group, or its quantity after the last one."""
    state = replace(state, option_group=state.option_group + 1)
    if state.option_group >= len(item.option_groups):
        return _ask_quantity(state, ctx, item)
    return _say(state, _option_prompt(state, ctx))


def _ask_quantity(state: State, ctx: TurnContext, item: Item) -> Turn:
    limit = _quantity_limit(state, item)
    if limit <= 0:
        maxed = t("quantity_maxed", state.lang, item=_name(item, state.lang), limit=item.max_quantity)
        return _say(replace(state, step="after_item", picked=()), maxed, _after_item_prompt(state, ctx))
    state = replace(state, step="quantity", pending_item_id=item.id)
    return _say(state, _quantity_prompt(state, ctx))


def _show_cart(state: State, ctx: TurnContext, *, note: str | None = None) -> Turn:
    if not state.cart:
        return _show_categories(state, ctx, note="\n".join(filter(None, (note, t("cart_empty", state.lang)))))
    state = replace(state, step="cart")
    return _say(state, note, _cart_prompt(state, ctx))


def _remove_line(state: State, ctx: TurnContext, number: int) -> Turn:
    if not 1 <= number <= len(state.cart):
        return _show_cart(state, ctx, note=t("didnt_get", state.lang))
    gone = state.cart[number - 1]
    state = replace(state, cart=state.cart[: number - 1] + state.cart[number:])
    return _show_cart(state, ctx, note=t("removed", state.lang, item=_name(gone, state.lang)))


def _checkout(state: State, ctx: TurnContext) -> Turn:
    """Minimum check, then the summary with the payment question (skipped when cash is the only way)."""
    if not state.cart:
        return _show_cart(state, ctx)
    if ctx.hours.refuses_orders:
        return _refuse_closed(replace(state, step="after_item"), ctx, _after_item_prompt(state, ctx))
    subtotal = _subtotal(state.cart)
    if state.order_type == "delivery" and subtotal < ctx.min_delivery_total:
        minimum = _price(ctx.min_delivery_total, state, ctx)
        missing = _price(ctx.min_delivery_total - subtotal, state, ctx)
        below = t("below_min", state.lang, minimum=minimum, missing=missing)
        return _say(replace(state, step="after_item"), below, _after_item_prompt(state, ctx))
    if _pays_online(ctx):
        state = replace(state, step="payment", payment_method=None)
    else:
        state = replace(state, step="confirm", payment_method="cash")
    later = _later_note(state, ctx)
    return _say(state, later, _summary_text(state, ctx), _PROMPTS[state.step](state, ctx))


def _later_note(state: State, ctx: TurnContext) -> str | None:
    """Closed but taking orders: the order waits for the opening (None while open)."""
    if not ctx.hours.closed:
        return None
    return f"{_opens(state, ctx)}\n{t('prepared_at_opening', state.lang)}"


def _place(state: State, ctx: TurnContext) -> Turn:
    if state.order_type is None or state.payment_method is None or not state.cart:
        return _checkout(state, ctx)
    if state.order_type == "delivery" and _subtotal(state.cart) < ctx.min_delivery_total:
        return _checkout(state, ctx)  # the minimum changed since the summary
    if ctx.hours.refuses_orders:
        return _checkout(state, ctx)  # closed since the summary
    subtotal = _subtotal(state.cart)
    order = PlaceOrder(
        order_type=state.order_type,
        branch_id=state.branch_id,
        lines=state.cart,
        subtotal=subtotal,
        total=subtotal,
        currency=ctx.currency,
        payment_method=state.payment_method,
        delivery_address=state.delivery_address,
        delivery_latitude=state.delivery_latitude,
        delivery_longitude=state.delivery_longitude,
        lang=state.lang,
    )
    # The confirmation Reply comes from order_placed, once the runner knows the reference.
    return State(step="placing", lang=state.lang, order_type=state.order_type, placed_total=subtotal), [order]


def _delivery_location(state: State, inbound: Inbound, ctx: TurnContext) -> Turn:
    lat, lon = inbound.latitude, inbound.longitude
    assert lat is not None and lon is not None
    branch = _covering_branch(ctx, lat, lon)
    if branch is None:
        return _say(replace(state, step="out_of_range"), _out_of_range_prompt(state, ctx))
    address = ", ".join(part for part in (inbound.label, inbound.address) if part) or None
    state = replace(
        state,
        order_type="delivery",
        branch_id=branch.id,
        delivery_address=address,
        delivery_latitude=lat,
        delivery_longitude=lon,
    )
    return _show_categories(
        state, ctx, note=t("delivery_ok", state.lang, branch=_branch_name(branch, state.lang))
    )


def _has_location(inbound: Inbound) -> bool:
    return inbound.latitude is not None and inbound.longitude is not None


# ── step handlers: None means "didn't understand", and step() re-prompts ─────────────────────────
_ADD = _Option("add", _words("add", "add item", "more", "اضافه"))
_VIEW, _PAY = _Option("cart", _CART), _Option("checkout", _CHECKOUT)


def _on_start(state: State, inbound: Inbound, ctx: TurnContext) -> Turn | None:
    return _welcome(state, ctx)


def _on_welcome(state: State, inbound: Inbound, ctx: TurnContext) -> Turn | None:
    choice = _choose(
        inbound,
        [
            _Option("order", _words("order", "new order", "طلب", "طلب جديد")),
            _Option("track", _TRACK),
            _Option("staff", _STAFF),
        ],
    )
    if choice == "order" and ctx.hours.refuses_orders:
        welcome = _welcome_prompt(replace(state, step="welcome"), ctx)
        return _refuse_closed(state, ctx, welcome, say_when=False)
    if choice == "order":  # the cart is kept; where it goes is asked again
        state = replace(
            state,
            order_type=None,
            branch_id=None,
            delivery_address=None,
            delivery_latitude=None,
            delivery_longitude=None,
            payment_method=None,
        )
        return _say(replace(state, step="order_type"), _order_type_prompt(state, ctx))
    if choice == "track":
        return _track(state, ctx)
    if choice == "staff":
        return _handoff(state)
    return None


def _on_done(state: State, inbound: Inbound, ctx: TurnContext) -> Turn | None:
    return _on_welcome(state, inbound, ctx) or _welcome(state, ctx)


def _on_order_type(state: State, inbound: Inbound, ctx: TurnContext) -> Turn | None:
    if _has_location(inbound):
        return _delivery_location(state, inbound, ctx)
    choice = _choose(inbound, [_Option("delivery", _DELIVERY), _Option("pickup", _PICKUP)])
    if choice == "delivery":
        return _say(replace(state, step="location"), t("ask_location", state.lang))
    return _ask_branch(state, ctx) if choice == "pickup" else None


def _on_location(state: State, inbound: Inbound, ctx: TurnContext) -> Turn | None:
    if _has_location(inbound):
        return _delivery_location(state, inbound, ctx)
    if _matches(inbound, _PICKUP):
        return _ask_branch(state, ctx)
    address = inbound.text.strip()
    words = _normalize(address).split()
    if len(words) < 2 or words[0] in _HOME or not any(ch.isalpha() for ch in address):
        return None  # "12", "pizza?", "hi there": not an address, ask again
    # A typed address has no coordinates, so no radius check: staff confirm it with the customer. The
    # restaurant's default branch delivers it (staff may reassign it).
    default = _default_branch(ctx)
    branch_id = default.id if default else None
    state = replace(
        state,
        order_type="delivery",
        branch_id=branch_id,
        delivery_address=address,
        delivery_latitude=None,
        delivery_longitude=None,
    )
    return _show_categories(state, ctx, note=t("address_ok", state.lang, address=address))


def _on_out_of_range(state: State, inbound: Inbound, ctx: TurnContext) -> Turn | None:
    if _has_location(inbound):
        return _delivery_location(state, inbound, ctx)
    choice = _choose(inbound, [_Option("pickup", _PICKUP), _Option("location", _words("location", "موقع"))])
    if choice == "location":
        return _say(replace(state, step="location"), t("ask_location", state.lang))
    return _ask_branch(state, ctx) if choice == "pickup" else None


def _on_branch(state: State, inbound: Inbound, ctx: TurnContext) -> Turn | None:
    branch = _find(ctx.branches, _choose(inbound, _options(ctx.branches)))
    if branch is None:
        return None
    state = replace(
        state,
        order_type="pickup",
        branch_id=branch.id,
        delivery_address=None,
        delivery_latitude=None,
        delivery_longitude=None,
    )
    return _show_categories(
        state, ctx, note=t("branch_chosen", state.lang, branch=_branch_name(branch, state.lang))
    )


def _on_category(state: State, inbound: Inbound, ctx: TurnContext) -> Turn | None:
    category_id = _choose(inbound, _options(_open_categories(ctx)))
    return _show_items(state, ctx, category_id) if category_id else None


def _on_item(state: State, inbound: Inbound, ctx: TurnContext) -> Turn | None:
    items = _orderable(ctx, state.category_id)
    if not items or _matches(inbound, _BACK):
        return _show_categories(state, ctx)
    item = _find(items, _choose(inbound, _options(items)))
    return _pick_item(state, ctx, item) if item else None


_SEVERAL = re.compile(r"^\d+(?: \d+)+$")  # "1 3" (or "1, 3": punctuation is folded to spaces)


def _on_option(state: State, inbound: Inbound, ctx: TurnContext) -> Turn | None:
    item = _find(_orderable(ctx), state.pending_item_id)
    if item is None:
        return _show_categories(state, ctx, note=t("item_gone", state.lang))
    if _matches(inbound, _BACK):
        return _show_items(replace(state, option_group=0, picked=()), ctx, item.category_id)
    if not 0 <= state.option_group < len(item.option_groups):
        return _ask_quantity(state, ctx, item)
    group = item.option_groups[state.option_group]
    choices = _option_choices(state, group)
    words = {o.id: _words(o.name_ar, o.name_en) for o in group.options}
    words |= {NO_OPTION: _NONE_WORDS, OPTIONS_DONE: _DONE_WORDS}
    options = [_Option(c.id, words[c.id]) for c in choices]
    several = next((c for c in _candidates(inbound) if _SEVERAL.match(c)), None)
    if several is not None and _group_limit(group) > 1:
        numbers = [int(n) for n in several.split()]
        if not all(1 <= n <= len(options) for n in numbers):
            return None
        keys = [options[n - 1].key for n in numbers]
    else:
        key = _choose(inbound, options)
        if key is None and _matches(inbound, _DONE_WORDS):
            key = OPTIONS_DONE  # "done" before enough are chosen (it isn't offered yet): say how many
        if key is None:
            return None
        keys = [key]
    for key in keys:
        if key in (NO_OPTION, OPTIONS_DONE):
            if len(_ids(group) & set(state.picked)) < group.min_select:
                need = t("option_need_more", state.lang, low=group.min_select, group=_name(group, state.lang))
                return _say(state, need, _option_prompt(state, ctx))
            return _next_group(state, ctx, item)
        if key not in state.picked:
            state = replace(state, picked=(*state.picked, key))
        if len(_ids(group) & set(state.picked)) >= _group_limit(group):
            return _next_group(state, ctx, item)
    return _say(state, _option_prompt(state, ctx))


def _on_quantity(state: State, inbound: Inbound, ctx: TurnContext) -> Turn | None:
    item = _find(_orderable(ctx), state.pending_item_id)
    if item is None:
        return _show_categories(state, ctx, note=t("item_gone", state.lang))
    if _matches(inbound, _BACK):
        return _show_items(state, ctx, item.category_id)
    quantity, limit = _number(inbound), _quantity_limit(state, item)
    if quantity is None or quantity < 1:
        return None
    if quantity > limit:
        return _say(state, t("quantity_over", state.lang, item=_name(item, state.lang), limit=limit))
    chosen = _chosen(item, state.picked)
    unit_price = item.price + sum(o.price_delta for o in chosen)

    def same(ln: OrderLine) -> bool:  # the same item with the same options: one line
        return ln.item_id == item.id and [o.option_id for o in ln.options] == [o.option_id for o in chosen]

    merged = [replace(ln, quantity=ln.quantity + quantity) if same(ln) else ln for ln in state.cart]
    if not any(same(ln) for ln in state.cart):
        merged.append(OrderLine(item.id, item.name_ar, item.name_en, unit_price, quantity, chosen))
    state = replace(
        state, step="after_item", cart=tuple(merged), pending_item_id=None, option_group=0, picked=()
    )
    options = _options_text(chosen, state.lang)
    added = t(
        "added",
        state.lang,
        quantity=quantity,
        item=f"{_name(item, state.lang)} ({options})" if options else _name(item, state.lang),
        price=_price(unit_price * quantity, state, ctx),
    )
    return _say(state, added, _after_item_prompt(state, ctx))


def _on_after_item(state: State, inbound: Inbound, ctx: TurnContext) -> Turn | None:
    choice = _choose(inbound, [_ADD, _VIEW, _PAY])
    if choice == "add":
        return _show_categories(state, ctx)
    if choice == "cart":
        return _show_cart(state, ctx)
    return _checkout(state, ctx) if choice == "checkout" else None


def _on_cart(state: State, inbound: Inbound, ctx: TurnContext) -> Turn | None:
    if not state.cart:
        return _show_cart(state, ctx)
    choice = _choose(inbound, [_ADD, _PAY, _Option("remove", _words("remove", "delete", "حذف"))])
    if choice == "add":
        return _show_categories(state, ctx)
    if choice == "checkout":
        return _checkout(state, ctx)
    if choice == "remove":
        state = replace(state, step="remove")
        return _say(state, _PROMPTS["remove"](state, ctx))
    return None


def _on_remove(state: State, inbound: Inbound, ctx: TurnContext) -> Turn | None:
    if not state.cart or _matches(inbound, _BACK):
        return _show_cart(state, ctx)
    number = _number(inbound)
    return _remove_line(state, ctx, number) if number and number <= len(state.cart) else None


def _on_payment(state: State, inbound: Inbound, ctx: TurnContext) -> Turn | None:
    options = [_Option("cash", _words("cash", "كاش", "نقدا", "نقد"))]
    if _pays_online(ctx):
        options.append(_Option("online", _words("online", "card", "pay online", "اونلاين", "بطاقة")))
    choice = _choose(inbound, options)
    if choice is None:
        return None
    state = replace(state, step="confirm", payment_method=choice)
    return _say(state, _confirm_prompt(state, ctx))


def _on_confirm(state: State, inbound: Inbound, ctx: TurnContext) -> Turn | None:
    choice = _choose(
        inbound,
        [
            _Option("confirm", _words("confirm", "yes", "ok", "نعم", "تاكيد", "اكد")),
            _Option("edit", _words("edit", "back", "تعديل", "رجوع")),
        ],
    )
    if choice == "edit":
        return _show_cart(state, ctx)
    return _place(state, ctx) if choice == "confirm" else None


def _on_rating(state: State, inbound: Inbound, ctx: TurnContext) -> Turn | None:
    if state.rating_order_id is None:
        return _welcome(state, ctx)
    rating = _choose(inbound, [_Option(str(n)) for n in range(1, 6)])
    if rating is None:
        return None
    return _say(replace(state, step="rating_comment", rating=int(rating)), t("ask_comment", state.lang))


def _on_rating_comment(state: State, inbound: Inbound, ctx: TurnContext) -> Turn | None:
    comment = None if _matches(inbound, _SKIP) else inbound.text.strip()
    if comment == "":
        return None
    return _finish_rating(state, comment=comment, note=t("thanks_rating", state.lang))


def _finish_rating(state: State, *, comment: str | None, note: str | None) -> Turn:
    actions: list[Action] = []
    if state.rating_order_id is not None and state.rating is not None:
        actions.append(RateOrder(order_id=state.rating_order_id, rating=state.rating, comment=comment))
    if note:
        actions.append(Reply(note))
    return replace(state, step="done", rating_order_id=None, rating=None), actions


_HANDLERS: dict[str, Callable[[State, Inbound, TurnContext], Turn | None]] = {
    "start": _on_start,
    "handoff": _on_start,
    "welcome": _on_welcome,
    "done": _on_done,
    "placing": _on_done,
    "order_type": _on_order_type,
    "location": _on_location,
    "out_of_range": _on_out_of_range,
    "branch": _on_branch,
    "category": _on_category,
    "item": _on_item,
    "option": _on_option,
    "quantity": _on_quantity,
    "after_item": _on_after_item,
    "cart": _on_cart,
    "remove": _on_remove,
    "payment": _on_payment,
    "confirm": _on_confirm,
    "rating": _on_rating,
    "rating_comment": _on_rating_comment,
}


# ── commands that work from any step ───────────────────────────────────────────────────────────
def _command(state: State, inbound: Inbound, ctx: TurnContext) -> Turn | None:
    if _matches(inbound, _STAFF):
        return _handoff(state)
    if _matches(inbound, _TRACK):
        return _track(state, ctx)
    if _matches(inbound, _HOME):
        return _welcome(state, ctx)
    if _matches(inbound, _CANCEL):
        cleared = State(lang=state.lang)
        return _welcome(cleared, ctx, note=t("cancelled_cart", state.lang) if state.cart else None)
    if state.order_type is None:  # cart words only once we know where the order goes
        return None
    if _matches(inbound, _CART):
        return _show_cart(state, ctx)
    if _matches(inbound, _CHECKOUT):
        return _checkout(state, ctx)
    removal = next(filter(None, (_REMOVE_LINE.match(c) for c in _candidates(inbound))), None)
    return _remove_line(state, ctx, int(removal.group(1))) if removal else None


def _drop_vanished(state: State, ctx: TurnContext) -> tuple[State, list[Action]]:
    """Cart lines whose item left the menu (or became unavailable) go, with a note to the customer."""
    offered = {item.id: {o.id for g in item.option_groups for o in g.options} for item in _orderable(ctx)}

    def kept_on(line: OrderLine) -> bool:  # its item, and each of its options, still offered
        return line.item_id in offered and all(o.option_id in offered[line.item_id] for o in line.options)

    gone = [line for line in state.cart if not kept_on(line)]
    if not gone:
        return state, []
    kept = tuple(line for line in state.cart if kept_on(line))
    note = "\n".join(t("vanished", state.lang, item=_name(line, state.lang)) for line in gone)
    return replace(state, cart=kept), [Reply(note)]


# ── the public entry points ─────────────────────────────────────────────────────────────────────
def step(state: State, inbound: Inbound, ctx: TurnContext) -> Turn:
    """One customer message in, the new state and the actions to apply (in order) out.

    Always at least one Reply, except when the customer confirms: then the only action is PlaceOrder
    and the Reply comes from `order_placed`, which needs the reference the runner assigns.
    """
    # A long list's "more" row shows the same prompt's next page; any other message starts at page 0.
    paging = MORE in (inbound.button_payload, inbound.list_id)
    state = replace(state, lang=_language(state.lang, inbound), page=state.page + 1 if paging else 0)
    state, notes = _drop_vanished(state, ctx)
    if paging and not notes and state.step in _PROMPTS:
        return _say(state, _PROMPTS[state.step](state, ctx))
    if state.step == "rating_comment" and _command(state, inbound, ctx) is not None:
        state, rated = _finish_rating(state, comment=None, note=None)  # leaving: keep the rating given
        notes = [*notes, *rated]
    turn = _command(state, inbound, ctx)
    if turn is None and notes and state.step in ("cart", "remove", "payment", "confirm"):
        turn = _show_cart(state, ctx)  # the cart changed under the customer: show it before going on
    elif turn is None:
        turn = _HANDLERS.get(state.step, _on_start)(state, inbound, ctx) or _reprompt(state, ctx)
    new_state, actions = turn
    return new_state, [*notes, *actions]


def order_placed(state: State, *, reference: str, payment_method: str, ctx: TurnContext) -> Turn:
    """After the runner created the order: the confirmation (reference, total, payment link if online)."""
    payment = t("pay_online", state.lang) if payment_method == "online" else _cash_label(state)
    total = _price(state.placed_total, state, ctx)
    online = payment_method == "online" and ctx.payment_link
    link = t("pay_link", state.lang, link=ctx.payment_link) if online else None
    placed = t("placed", state.lang, reference=reference, total=total, payment=payment)
    busy = t("busy_placed", state.lang) if ctx.hours.status == "busy" else None
    return _say(
        State(step="done", lang=state.lang),
        "\n".join(filter(None, (placed, link))),
        _later_note(state, ctx) or busy,
        t("placed_tail", state.lang),
    )


def order_status_changed(state: State, *, order: LatestOrder, ctx: TurnContext) -> Turn:
    """Staff moved an order: tell the customer; after DELIVERED also ask for a rating (1 to 5).

    The rating is only asked when the customer isn't in the middle of something else (a new cart, a
    handoff to staff): taking their next message as a rating there would derail them.
    """
    if order.status in _STATUSES:
        text = t(f"status_{order.status}", state.lang, reference=order.reference)
    else:
        text = t("status_other", state.lang, reference=order.reference, status=order.status)
    idle = not state.cart and state.step in ("start", "welcome", "done", "rating", "rating_comment")
    if order.status == "DELIVERED" and not order.rated and idle:
        state = replace(state, step="rating", rating_order_id=order.id, rating=None)
        return _say(state, text, _rating_prompt(state, ctx))
    return _say(state, text)
