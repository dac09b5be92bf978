"""Text normalized for analysis, kept beside the original (never replacing it)."""

from __future__ import annotations

import re
import unicodedata

import opencc

# OpenCC's dictionaries ship inside the wheel: conversion needs no network.
_TO_SIMPLIFIED = opencc.OpenCC("t2s")
_REPEATED_PUNCT = re.compile(r"([，。！？、；：,.!?;:~])\1+")
# The full-width marks Chinese text is full of, with their NFKC forms. Replacing a character by
# its NFKC form leaves the text's NFKC unchanged, so once these are replaced a transcript is
# usually in NFKC already, which is quick to check: 2 µs for 400 characters against 57 µs for
# CPython's full NFKC, which still handles every other case.
_FULL_WIDTH_MARKS = tuple(
    (mark, unicodedata.normalize("NFKC", mark)) for mark in "，！？：；（）％～\u3000"
)


def nfkc(text: str) -> str:
    """`unicodedata.normalize("NFKC", text)`, faster for text whose only compatibility
    characters are common full-width marks."""
    for mark, folded in _FULL_WIDTH_MARKS:
        text = text.replace(mark, folded)
    if unicodedata.is_normalized("NFKC", text):
        return text
    return unicodedata.normalize("NFKC", text)


def normalize_text(text: str) -> str:
    """NFKC folds full-width forms (ＡＢＣ１２３, `，`, `！`) to ASCII and traditional characters
    become simplified (以太幣 → 以太币), so the same word is one token however it was typed; then
    whitespace runs and repeated marks collapse. The ideographic full stop `。` is not a
    full-width form and stays."""
    folded = _TO_SIMPLIFIED.convert(nfkc(text))
    folded = _REPEATED_PUNCT.sub(r"\1", folded)
    return " ".join(folded.split())  # the same whitespace as regex `\s`, 4x faster


def normalize_lines(texts: list[str]) -> list[str]:
    """`normalize_text` of each text, in one pass over them all: a transcript's sentences cost
    one OpenCC call instead of one each. A line break is a stable boundary for NFKC and is in
    no OpenCC phrase nor in the repeated marks, so only the whitespace is collapsed line by
    line; texts that hold line breaks themselves are normalized one by one."""
    folded = _REPEATED_PUNCT.sub(r"\1", _TO_SIMPLIFIED.convert(nfkc("\n".join(texts))))
    lines = folded.split("\n")
    if len(lines) != len(texts):
        return [normalize_text(text) for text in texts]
    return [" ".join(line.split()) for line in lines]
