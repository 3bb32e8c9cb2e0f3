"""WhatsApp alerts to a branch's phone (its manager, its kitchen tablet) for each new order of that
branch, sent from the order's bot through the outbox like every outgoing message.

The outbox sends a message of a conversation to that conversation's number, so an alert number gets
the conversation a first message from it would have opened (the same key: bot and number). No other
table or send path is needed, the alerts show in the inbox with their delivery ticks (a failed alert
is visible), and the manager's replies land in that conversation. It is created with the bot off, so
the bot never answers the manager with its menu.

Inside WhatsApp's 24-hour window (the manager wrote to the bot in the last day) an alert is free-form
text; outside it, the restaurant's follow-up template with the alert as its variable
(app/services/outbound.py). Without an approved one it still goes as text: Twilio refuses it, and the
outbox shows the message failed in that conversation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from app.bot.flow import format_price
from app.bot.texts import branch_name, t
from app.models import Branch, Message, Order
from app.services import conversations, outbound


class _Line(Protocol):
    """What an alert reads of a line (read-only: orders.NewLine is frozen, OrderLine a row)."""

    @property
    def name_ar(self) -> str: ...
    @property
    def name_en(self) -> str: ...
    @property
    def quantity(self) -> int: ...
    @property
    def options(self) -> Sequence[Mapping[str, Any]]: ...


def line_text(line: _Line, lang: str) -> str:
    """ "2 × Shawarma (Large, Garlic)": a line with its chosen options, as the kitchen reads it."""
    name = line.name_ar if lang == "ar" else line.name_en
    names = (str(o.get(f"name_{lang}") or o.get("name_en") or "") for o in line.options)
    chosen = ("، " if lang == "ar" else ", ").join(names)
    return f"{line.quantity} × {name} ({chosen})" if chosen else f"{line.quantity} × {name}"


def alert_text(*, order: Order, branch: Branch, lines: Sequence[_Line]) -> str:
    """The alert, in Arabic then English: staff read either."""
    parts = []
    for lang in ("ar", "en"):
        name = branch.name_ar if lang == "ar" else branch.name_en
        parts.append(
            t(
                "branch_alert",
                lang,
                reference=order.reference,
                kind=t(f"alert_kind_{order.order_type}", lang),
                branch=branch_name(name or branch.name_en or branch.name_ar, lang),
                lines="\n".join(line_text(line, lang) for line in lines),
                total=format_price(order.total, order.currency, lang),
                customer=" ".join(p for p in (order.customer_name, order.customer_phone) if p),
            )
        )
    return "\n\n".join(parts)


async def new_order(
    session: AsyncSession, *, restaurant_id: str, order: Order, lines: Sequence[_Line]
) -> Message | None:
    """Queue the alert of a new order to its branch's alert phone, if the branch has one."""
    if order.branch_id is None:
        return None
    branch = await session.get(Branch, (restaurant_id, order.branch_id))
    if branch is None or not branch.alert_phone:
        return None
    conversation = await conversations.find_or_create(
        session,
        restaurant_id=restaurant_id,
        bot_id=order.bot_id,
        customer_phone=branch.alert_phone,
        customer_name=t("alert_conversation", "en", branch=branch_name(branch.name_en, "en")),
        bot_active=False,
    )
    text = alert_text(order=order, branch=branch, lines=lines)
    return await outbound.queue(
        session,
        restaurant_id=restaurant_id,
        conversation_id=conversation.id,
        body=text,
        author="system",
        # Outside the window (the manager hasn't written to the bot in a day) the alert goes as the
        # restaurant's follow-up template, its text the one variable; without one, as text, which
        # Twilio refuses and the outbox shows as failed.
        fallback=outbound.TemplateFallback("follow_up", {"1": text}),
        enforce_window=False,
    )
