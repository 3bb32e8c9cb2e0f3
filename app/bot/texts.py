"""Every sentence the bot says, in Arabic and English.

Kept apart from the state machine so that wording can change (or be reviewed by a native speaker)
without touching control flow, and so a test can check that both languages have every text with
the same placeholders. Digits stay ASCII in both languages: customers may answer with either kind
and the bot accepts both.
"""

from __future__ import annotations

from datetime import date, datetime

# key: (English, Arabic)
TEXTS: dict[str, tuple[str, str]] = {
    "welcome": (
        "Welcome to {restaurant}! 👋\nReply with a number:\n{choices}",
        "أهلاً بك في {restaurant}! 👋\nأرسل رقم الخيار:\n{choices}",
    ),
    "cart_saved": (
        "🛒 Your cart is saved: {count} item(s), {total}.",
        "🛒 سلتك محفوظة: {count} صنف، {total}.",
    ),
    "didnt_get": ("Sorry, I didn't understand that.", "عذراً، لم أفهم ردك."),
    "order_type": ("Delivery or pickup?\n{choices}", "توصيل أم استلام؟\n{choices}"),
    "ask_location": (
        "Please share your location (📎 → Location) or type your delivery address.",
        "من فضلك شارك موقعك (📎 ← الموقع) أو اكتب عنوان التوصيل.",
    ),
    "out_of_range": (
        "Sorry, we don't deliver to that location.\n{choices}",
        "عذراً، لا نوصل إلى هذا الموقع.\n{choices}",
    ),
    "delivery_ok": (
        "Great, we deliver to you from our {branch}.",
        "رائع، سنوصل طلبك من {branch}.",
    ),
    "address_ok": ("Thanks, we'll deliver to: {address}", "شكراً، سنوصل طلبك إلى: {address}"),
    "no_branches": ("Sorry, pickup isn't available right now.", "عذراً، الاستلام غير متاح حالياً."),
    "choose_branch": (
        "Which branch will you pick up from?\n{branches}",
        "من أي فرع ستستلم طلبك؟\n{branches}",
    ),
    "branch_chosen": ("Pickup from {branch}.", "الاستلام من {branch}."),
    "categories": (
        "What would you like? Choose a category:\n{categories}\nSend *cart* to see your cart.",
        "ماذا تحب أن تطلب؟ اختر القسم:\n{categories}\nأرسل *السلة* لعرض سلتك.",
    ),
    "menu_empty": (
        "Sorry, nothing is available to order right now.",
        "عذراً، لا توجد أصناف متاحة للطلب حالياً.",
    ),
    "items": (
        "{category}:\n{items}\nReply with the item number, or *back* for the categories.",
        "{category}:\n{items}\nأرسل رقم الصنف، أو *رجوع* للأقسام.",
    ),
    "ask_quantity": (
        "How many {item}? Reply 1, 2, 3 or type a number up to {limit}.",
        "كم تريد من {item}؟ أرسل 1 أو 2 أو 3 أو اكتب رقماً حتى {limit}.",
    ),
    "quantity_over": (
        "Sorry, you can add at most {limit} of {item}. Reply with a number from 1 to {limit}.",
        "عذراً، أقصى كمية يمكنك إضافتها من {item} هي {limit}. أرسل رقماً من 1 إلى {limit}.",
    ),
    "quantity_maxed": (
        "You already have the most we allow of {item} ({limit}) in your cart.",
        "لديك بالفعل أقصى كمية مسموحة من {item} ({limit}) في سلتك.",
    ),
    "ask_option_one": ("{item}: choose the {group}:\n{choices}", "{item}: اختر {group}:\n{choices}"),
    "ask_option_many": (
        "{item}: {group}, {wanted}.{so_far}\n{choices}\n(several at once: e.g. *1 3*)",
        "{item}: {group}، {wanted}.{so_far}\n{choices}\n(أكثر من خيار معاً: مثلاً *1 3*)",
    ),
    "option_up_to": ("choose up to {limit}", "اختر حتى {limit}"),
    "option_between": ("choose {low} to {limit}", "اختر من {low} إلى {limit}"),
    "option_so_far": ("\nChosen: {options}", "\nاخترت: {options}"),
    "option_need_more": (
        "Please choose at least {low} of {group}.",
        "من فضلك اختر {low} على الأقل من {group}.",
    ),
    "item_gone": ("Sorry, that item is no longer available.", "عذراً، هذا الصنف لم يعد متاحاً."),
    "added": (
        "Added {quantity} × {item} ({price}) to your cart. ✅",
        "تمت إضافة {quantity} × {item} ({price}) إلى سلتك. ✅",
    ),
    "after_item": ("What next?\n{choices}", "ماذا بعد؟\n{choices}"),
    "cart": (
        "🛒 Your cart:\n{lines}\nTotal: {total}\n\n{choices}\n(or send e.g. *remove 2*)",
        "🛒 سلتك:\n{lines}\nالإجمالي: {total}\n\n{choices}\n(أو أرسل مثلاً *حذف 2*)",
    ),
    "cart_empty": ("Your cart is empty.", "سلتك فارغة."),
    "ask_remove": ("Which line should I remove?\n{lines}", "أي سطر تريد حذفه؟\n{lines}"),
    "removed": ("Removed {item} from your cart.", "تم حذف {item} من سلتك."),
    "vanished": (
        "Sorry, {item} is no longer on the menu, so I removed it from your cart.",
        "عذراً، {item} لم يعد متاحاً في القائمة، لذا حذفناه من سلتك.",
    ),
    "below_min": (
        "The minimum for delivery is {minimum}. Please add {missing} more to your order.",
        "الحد الأدنى لطلبات التوصيل هو {minimum}. أضف أصنافاً بقيمة {missing} لإكمال طلبك.",
    ),
    "summary": (
        "📝 Your order:\n{lines}\nTotal: {total}\n{where}",
        "📝 طلبك:\n{lines}\nالإجمالي: {total}\n{where}",
    ),
    "where_delivery": ("Delivery to: {address}", "التوصيل إلى: {address}"),
    "shared_location": ("your shared location", "موقعك المرسل"),
    "where_pickup": ("Pickup from: {branch}", "الاستلام من: {branch}"),
    "ask_payment": ("How would you like to pay?\n{choices}", "كيف تحب أن تدفع؟\n{choices}"),
    "pay_cash_delivery": ("Cash on delivery", "نقداً عند التوصيل"),
    "pay_cash_pickup": ("Cash at pickup", "نقداً عند الاستلام"),
    "pay_online": ("Online payment", "الدفع الإلكتروني"),
    "ask_confirm": ("Payment: {payment}\n{choices}", "طريقة الدفع: {payment}\n{choices}"),
    "placed": (
        "✅ Your order {reference} is confirmed!\nTotal: {total}\nPayment: {payment}",
        "✅ تم تأكيد طلبك {reference}!\nالإجمالي: {total}\nطريقة الدفع: {payment}",
    ),
    "pay_link": ("Pay here: {link}", "ادفع من هنا: {link}"),
    # the Sufrah merchant platform's answer to an order (app/services/merchant_orders.py)
    "platform_placed": (
        "✅ The restaurant has your order: number {reference}.",
        "✅ تم تسجيل طلبك لدى المطعم برقم {reference}.",
    ),
    "platform_pay": (
        "🔗 To pay, please use this link:\n{link}\nWe'll confirm your order as soon as the payment arrives.",
        "🔗 لإتمام الدفع، يرجى استخدام الرابط التالي:\n{link}\nسنؤكد طلبك فور استلام الدفع.",
    ),
    "platform_failed": (
        "Sorry, we couldn't pass your order {reference} to the restaurant. Our staff will contact you.",
        "عذراً، تعذر إرسال طلبك {reference} إلى المطعم. سيتواصل معك فريقنا.",
    ),
    "platform_paid": (
        "✅ Payment confirmed for your order {reference}. Thank you!",
        "✅ تم تأكيد الدفع لطلبك رقم {reference}. شكرًا لك!",
    ),
    "placed_tail": (
        "We'll message you as your order moves along. Send *track* any time to check on it.",
        "سنراسلك عند كل تحديث لطلبك. أرسل *تتبع* في أي وقت لمعرفة حالته.",
    ),
    "track": ("Your latest order {reference} is {status}.", "طلبك الأخير {reference}: {status}."),
    "no_order": ("You don't have any orders yet.", "ليس لديك أي طلبات بعد."),
    "handoff": (
        "Thanks! Someone from our team will answer you shortly. 🙋",
        "شكراً! سيرد عليك أحد موظفينا قريباً. 🙋",
    ),
    "cancelled_cart": (
        "OK, I've cancelled this order and emptied your cart.",
        "تم إلغاء هذا الطلب وتفريغ سلتك.",
    ),
    "status_word_CONFIRMED": ("confirmed", "تم التأكيد"),
    "status_word_PREPARING": ("being prepared", "قيد التحضير"),
    "status_word_OUT_FOR_DELIVERY": ("on its way", "في الطريق إليك"),
    "status_word_READY": ("ready for pickup", "جاهز للاستلام"),
    "status_word_DELIVERED": ("delivered", "تم التسليم"),
    "status_word_CANCELLED": ("cancelled", "ملغي"),
    "status_CONFIRMED": ("Your order {reference} is confirmed.", "تم تأكيد طلبك {reference}."),
    "status_PREPARING": (
        "Your order {reference} is being prepared 👨‍🍳",
        "طلبك {reference} قيد التحضير 👨‍🍳",
    ),
    "status_OUT_FOR_DELIVERY": (
        "Your order {reference} is on its way 🛵",
        "طلبك {reference} في الطريق إليك 🛵",
    ),
    "status_READY": ("Your order {reference} is ready for pickup 🏪", "طلبك {reference} جاهز للاستلام 🏪"),
    "status_DELIVERED": (
        "Your order {reference} is complete. Enjoy your meal! 😋",
        "تم تسليم طلبك {reference}. بالعافية! 😋",
    ),
    "status_CANCELLED": (
        "Sorry, your order {reference} was cancelled. Send *staff* to talk to us.",
        "عذراً، تم إلغاء طلبك {reference}. أرسل *موظف* للتحدث معنا.",
    ),
    "status_other": ("Your order {reference} was updated: {status}.", "تم تحديث طلبك {reference}: {status}."),
    "ask_rating": (
        "How was your order? Rate us from 1 (poor) to 5 (excellent).",
        "كيف كان طلبك؟ قيّمنا من 1 (سيئ) إلى 5 (ممتاز).",
    ),
    "ask_comment": (
        "Thanks! Any comment? Type it, or send *skip*.",
        "شكراً! هل لديك تعليق؟ اكتبه، أو أرسل *تخطي*.",
    ),
    "branch_alert": (
        "🔔 New order {reference} ({kind}) for {branch}\n{lines}\nTotal: {total}\nCustomer: {customer}",
        "🔔 طلب جديد {reference} ({kind}) لـ{branch}\n{lines}\nالإجمالي: {total}\nالعميل: {customer}",
    ),
    "alert_kind_delivery": ("delivery", "توصيل"),
    "alert_kind_pickup": ("pickup", "استلام"),
    "alert_conversation": ("{branch}: order alerts", "{branch}: تنبيهات الطلبات"),
    "thanks_rating": (
        "Thank you for your feedback! 🙏 Send 1 for a new order.",
        "شكراً لتقييمك! 🙏 أرسل 1 لطلب جديد.",
    ),
    # Interactive messages (buttons and list pickers): the choices' titles, which the numbered text
    # lists too, and the text above the buttons where the numbered one speaks of numbers.
    "choice_order": ("New order", "طلب جديد"),
    "choice_track": ("Track my order", "تتبع طلبي"),
    "choice_staff": ("Talk to staff", "التحدث مع موظف"),
    "choice_delivery": ("Delivery 🛵", "توصيل 🛵"),
    "choice_pickup": ("Pickup 🏪", "استلام من الفرع 🏪"),
    "choice_pickup_instead": ("Pick up from a branch instead", "الاستلام من الفرع بدلاً من ذلك"),
    "choice_other_location": ("Send another location", "إرسال موقع آخر"),
    "choice_add_another": ("Add another item", "إضافة صنف آخر"),
    "choice_view_cart": ("View cart", "عرض السلة"),
    "choice_checkout": ("Checkout", "إتمام الطلب"),
    "choice_add_more": ("Add more items", "إضافة أصناف"),
    "choice_remove": ("Remove an item", "حذف صنف"),
    "choice_pay_online": ("Pay online 💳", "الدفع الإلكتروني 💳"),
    "choice_confirm": ("Confirm order ✅", "تأكيد الطلب ✅"),
    "choice_edit": ("Edit order", "تعديل الطلب"),
    "choice_no_option": ("No, thanks", "لا، شكراً"),
    "choice_options_done": ("Done ✅", "تم ✅"),
    "choice_no_extras": ("No extras", "بدون إضافات"),
    "choice_more": ("More options ➡️", "خيارات أخرى ➡️"),
    "welcome_named": (
        "Welcome to {restaurant}, {customer}! 👋\nReply with a number:\n{choices}",
        "أهلاً {customer}، مرحباً بك في {restaurant}! 👋\nأرسل رقم الخيار:\n{choices}",
    ),
    "welcome_body": (
        "Welcome to {restaurant}! 👋 How can we help?",
        "أهلاً بك في {restaurant}! 👋 كيف نخدمك؟",
    ),
    "welcome_body_named": (
        "Welcome to {restaurant}, {customer}! 👋 How can we help?",
        "أهلاً {customer}، مرحباً بك في {restaurant}! 👋 كيف نخدمك؟",
    ),
    "items_body": (
        "{category}: pick an item, or send *back* for the categories.",
        "{category}: اختر صنفاً، أو أرسل *رجوع* للأقسام.",
    ),
    "ask_quantity_body": (
        "How many {item}? Pick one, or type a number up to {limit}.",
        "كم تريد من {item}؟ اختر، أو اكتب رقماً حتى {limit}.",
    ),
    "list_button": ("Choose", "اختر"),
    # opening hours (app.services.hours): {when} is one of the when_* texts
    "closed_now": ("⏰ We're closed right now.", "⏰ نحن مغلقون الآن."),
    "closed_until": ("⏰ We're closed right now. We open {when}.", "⏰ نحن مغلقون الآن. نفتح {when}."),
    "closed_no_orders": (
        "Orders open again then; you can still track an order or talk to us.",
        "نستقبل الطلبات عند الافتتاح، ويمكنك الآن تتبع طلبك أو التحدث معنا.",
    ),
    "closed_takes_orders": (
        "You can order now: we'll prepare it when we open.",
        "يمكنك الطلب الآن وسنجهز طلبك عند الافتتاح.",
    ),
    "closed_refused": (
        "Sorry, we can't take orders while we're closed.",
        "عذراً، لا نستقبل الطلبات ونحن مغلقون.",
    ),
    "cart_kept": ("Your cart is kept for when we open.", "سلتك محفوظة لحين الافتتاح."),
    "prepared_at_opening": (
        "Your order will be prepared when we open.",
        "سيتم تجهيز طلبك عند الافتتاح.",
    ),
    "busy_now": (
        "⏳ We're very busy right now: orders take longer than usual.",
        "⏳ لدينا ضغط كبير الآن: قد يستغرق تجهيز الطلبات وقتاً أطول من المعتاد.",
    ),
    "busy_placed": (
        "⏳ We're very busy, so it may take longer than usual.",
        "⏳ لدينا ضغط كبير، لذا قد يستغرق وقتاً أطول من المعتاد.",
    ),
    "app_link": ("📱 You can also order in our app: {link}", "📱 يمكنك الطلب أيضاً عبر تطبيقنا: {link}"),
    "when_today": ("today at {time}", "اليوم الساعة {time}"),
    "when_tomorrow": ("tomorrow at {time}", "غداً الساعة {time}"),
    "when_weekday": ("on {day} at {time}", "يوم {day} الساعة {time}"),
    "when_date": ("on {day} {date} at {time}", "يوم {day} {date} الساعة {time}"),
}

# Monday first, as datetime.weekday() counts
WEEKDAYS = {
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
    "ar": ("الإثنين", "الثلاثاء", "الأربعاء", "الخميس", "الجمعة", "السبت", "الأحد"),
}
MONTHS = {
    "en": (
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ),
    "ar": (
        "يناير",
        "فبراير",
        "مارس",
        "أبريل",
        "مايو",
        "يونيو",
        "يوليو",
        "أغسطس",
        "سبتمبر",
        "أكتوبر",
        "نوفمبر",
        "ديسمبر",
    ),
}


def t(key: str, lang: str, /, **values: object) -> str:
    """The text `key` in `lang` (English for any language we don't have), placeholders filled."""
    english, arabic = TEXTS[key]
    return (arabic if lang == "ar" else english).format(**values)


_BRANCH_WORD = {"ar": "فرع", "en": "branch"}


def branch_name(name: str, lang: str) -> str:
    """A branch named in a sentence: "فرع العليا" / "Olaya branch". The word is added only when the
    name doesn't carry it already (restaurants often name branches "فرع العليا"), so no text reads
    "فرع فرع العليا". Every text that names a branch fills `{branch}` with this."""
    name = name.strip()
    if lang == "ar":
        return name if name.startswith(_BRANCH_WORD["ar"]) else f"{_BRANCH_WORD['ar']} {name}"
    return name if _BRANCH_WORD["en"] in name.lower().split() else f"{name} {_BRANCH_WORD['en']}"


def opening_time(at: datetime, today: date, lang: str) -> str:
    """When the restaurant opens, from the customer's today: "tomorrow at 09:00", "on Saturday at 18:30",
    a date beyond the coming week. `at` is a wall time in the restaurant's zone (24-hour clock)."""
    lang = "ar" if lang == "ar" else "en"
    clock = f"{at:%H:%M}"
    days = (at.date() - today).days
    if days <= 0:
        return t("when_today", lang, time=clock)
    if days == 1:
        return t("when_tomorrow", lang, time=clock)
    day = WEEKDAYS[lang][at.weekday()]
    if days < 7:
        return t("when_weekday", lang, day=day, time=clock)
    return t("when_date", lang, day=day, date=f"{at.day} {MONTHS[lang][at.month - 1]}", time=clock)
