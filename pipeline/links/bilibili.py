"""Bilibili av <-> BV conversion, the current (2024) algorithm."""

from __future__ import annotations

XOR_CODE = 23442827791579
MASK_CODE = 2251799813685247
MAX_AID = 1 << 51
BASE = 58
ALPHABET = "FcwAPNKTMug3GV5Lj7EJnHpWsx4tb8haYeviqBz6rkCy12mUSDQX9RdoZf"
_INDEX = {c: i for i, c in enumerate(ALPHABET)}


def _swap(chars: list[str]) -> None:
    chars[3], chars[9] = chars[9], chars[3]
    chars[4], chars[7] = chars[7], chars[4]


def av_to_bv(aid: int) -> str:
    if not 0 < aid < MAX_AID:
        raise ValueError(f"aid {aid} out of range")
    chars = ["B", "V", "1", "0", "0", "0", "0", "0", "0", "0", "0", "0"]
    tmp = (MAX_AID | aid) ^ XOR_CODE
    index = len(chars) - 1
    while tmp > 0:
        chars[index] = ALPHABET[tmp % BASE]
        tmp //= BASE
        index -= 1
    _swap(chars)
    return "".join(chars)


def bv_to_av(bvid: str) -> int:
    chars = list(bvid)
    _swap(chars)
    tmp = 0
    for char in chars[3:]:
        tmp = tmp * BASE + _INDEX[char]
    return (tmp & MASK_CODE) ^ XOR_CODE
