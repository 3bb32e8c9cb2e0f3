"""Opaque, time-ordered string ids.

Ids are `<prefix>_<26 chars>`: 48 bits of milliseconds then 80 random bits in Crockford base32, so
they sort by creation time (handy in indexes and logs) while revealing nothing a client may rely on.
"""

import os
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"


def new_id(prefix: str) -> str:
    value = (int(time.time() * 1000) << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return f"{prefix}_{''.join(reversed(chars))}"
