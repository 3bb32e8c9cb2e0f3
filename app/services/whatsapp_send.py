"""A text from a restaurant's sender to any number, for other platforms (/api/whatsapp/send): the
dashboard's sign-in code, an order platform's notice.

It is a message like every other: a conversation of that sender with that number (created on first
use, as a first inbound message would create it), the text stored in it, then sent by the outbox.
Inside WhatsApp's 24-hour window it goes as text; outside it (always, for a number that never wrote)
as the restaurant's approved follow-up template with the text (or the caller's variables) filled in,
and without one it is refused, like a staff reply (app/services/outbound.py).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from app.models import Bot, Message
from app.services import conversations, outbound


async def send_text(
    session: AsyncSession,
    *,
    restaurant_id: str,
    bot: Bot,
    phone: str,
    text: str,
    variables: dict[str, str] | None = None,
) -> Message:
    """Queue `text` from `bot` to `phone` (E.164) in the caller's transaction."""
    conversation = await conversations.find_or_create(
        session, restaurant_id=restaurant_id, bot_id=bot.id, customer_phone=phone, customer_name=None
    )
    return await outbound.queue(
        session,
        restaurant_id=restaurant_id,
        conversation_id=conversation.id,
        body=text,
        author="system",
        fallback=outbound.TemplateFallback("follow_up", variables or {"1": text}),
    )
