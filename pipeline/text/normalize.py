"""Text normalized for analysis, kept beside the original (never replacing it)."""

from __future__ import annotations

import re
import unicodedata

import opencc

# OpenCC's dictionaries ship inside the wheel: conversion needs no network.
_TO_SIMPLIFIED = opencc.OpenCC("t2s")
_SPACES = re.compile(r"\s+")
_REPEATED_PUNCT = re.compile(r"([，。！？、；：,.!?;:~])\1+")


def normalize_text(text: str) -> str:
    """NFKC folds full-width forms (ＡＢＣ１２３, `，`, `！`) to ASCII and traditional characters
    become simplified (以太幣 → 以太币), so the same word is one token however it was typed; then
    whitespace runs and repeated marks collapse. The ideographic full stop `。` is not a
    full-width form and stays."""
    folded = _TO_SIMPLIFIED.convert(unicodedata.normalize("NFKC", text))
    folded = _REPEATED_PUNCT.sub(r"\1", folded)
    return _SPACES.sub(" ", folded).strip()
