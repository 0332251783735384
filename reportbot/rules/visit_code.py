"""The 带看 visit code on a receipt (SPEC §12): short, unguessable, no phone in it, its report found from it.

A code is the report's id and a 64-bit keyed MAC of it (HMAC-SHA256 under a key derived from WEB_SECRET),
written in lower-case base32: 20 characters. Knowing one code tells nothing of another; without the key
none can be made; it names no phone and no customer. Nothing is stored: the report is found from the id
in the code once its MAC checks. Whether it still works (the report active, or visited: then the first
visit is shown) is the desk's business, not the code's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

ID_BYTES = 4  # up to 4,294,967,295 reports
MAC_BYTES = 8  # 64 bits: unguessable
LENGTH = 20  # base32 characters of ID_BYTES + MAC_BYTES


def code_key(web_secret: str) -> bytes:
    """The key codes are made with, derived from WEB_SECRET (rotating the secret retires every code)."""
    return hmac.new(web_secret.encode(), b"reportbot visit code v1", hashlib.sha256).digest()


def encode(report_id: int, key: bytes) -> str:
    if not 0 < report_id < 2 ** (8 * ID_BYTES):
        raise ValueError(f"report id out of range: {report_id}")
    ident = report_id.to_bytes(ID_BYTES, "big")
    raw = ident + _mac(ident, key)
    return base64.b32encode(raw).decode().rstrip("=").lower()


def decode(code: str, key: bytes) -> int | None:
    """The report id a code stands for; None for anything that is not a code made with this key."""
    if len(code) != LENGTH or not code.isascii():
        return None
    try:
        raw = base64.b32decode(code.upper() + "=" * (-LENGTH % 8))
    except ValueError:
        return None
    ident, mac = raw[:ID_BYTES], raw[ID_BYTES:]
    if not hmac.compare_digest(mac, _mac(ident, key)):
        return None
    return int.from_bytes(ident, "big")


def _mac(ident: bytes, key: bytes) -> bytes:
    return hmac.new(key, ident, hashlib.sha256).digest()[:MAC_BYTES]
