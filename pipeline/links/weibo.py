"""Weibo post ids: the base-62 mblogid of `weibo.com/{uid}/{mblogid}` <-> the numeric mid.

One post has both, so the parser keys every form by the mid. The mblogid is the mid cut into
groups of seven decimal digits from the right, each written in base 62 (the first group as is,
the others zero-padded to four characters).
"""

from __future__ import annotations

ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
_INDEX = {c: i for i, c in enumerate(ALPHABET)}
_DIGITS = 7  # decimal digits per group
_CHARS = 4  # base-62 characters per group


def mblogid_to_mid(mblogid: str) -> str | None:
    """None when it is no mblogid: a character outside base 62, or a group past seven digits
    (then two mblogids could name one mid)."""
    if not mblogid or any(c not in _INDEX for c in mblogid):
        return None
    groups = []
    for end in range(len(mblogid), 0, -_CHARS):
        value = 0
        for char in mblogid[max(0, end - _CHARS) : end]:
            value = value * 62 + _INDEX[char]
        if value >= 10**_DIGITS:
            return None
        groups.append(value)
    groups.reverse()
    head = str(groups[0])
    mid = head + "".join(str(g).zfill(_DIGITS) for g in groups[1:])
    return mid.lstrip("0") or None


def mid_to_mblogid(mid: str) -> str:
    groups = []
    for end in range(len(mid), 0, -_DIGITS):
        value = int(mid[max(0, end - _DIGITS) : end])
        chars = ""
        while value:
            value, rest = divmod(value, 62)
            chars = ALPHABET[rest] + chars
        groups.append(chars)
    groups.reverse()
    return groups[0] + "".join(g.rjust(_CHARS, "0") for g in groups[1:])
