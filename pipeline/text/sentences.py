"""Sentences with their character offsets in the text they came from."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Chinese and Western sentence ends; a Western period only before space or the end, so
# decimals (3.5) and URLs stay whole.
_END = re.compile(r"[。！？!?；;…]+[”’」』）)]*|\.(?=\s|$)|\n+")


@dataclass(frozen=True, slots=True)
class Sentence:
    sentence_no: int
    text: str
    char_start: int
    char_end: int


def split_sentences(text: str) -> list[Sentence]:
    """`text[char_start:char_end]` is the sentence before stripping, end mark included."""
    sentences: list[Sentence] = []
    start = 0
    for match in _END.finditer(text):
        _append(sentences, text, start, match.end())
        start = match.end()
    _append(sentences, text, start, len(text))
    return sentences


def _append(sentences: list[Sentence], text: str, start: int, end: int) -> None:
    piece = text[start:end]
    stripped = piece.strip()
    if not stripped or not any(ch.isalnum() for ch in stripped):
        return
    lead = len(piece) - len(piece.lstrip())
    trail = len(piece) - len(piece.rstrip())
    sentences.append(Sentence(len(sentences) + 1, stripped, start + lead, end - trail))
