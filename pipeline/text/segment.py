"""Word segmentation with jieba, the project's user dictionary and stop words.

jieba's dictionary ships inside the package; it builds its prefix cache on first use, which
takes a second, so the tokenizer is created once per process and quietly.
"""

from __future__ import annotations

import logging
import unicodedata
from functools import cache
from pathlib import Path

import jieba
import jieba.posseg

from pipeline.settings import PROJECT_ROOT

DICTIONARY_DIR = PROJECT_ROOT / "data" / "dictionary"
USER_DICT = DICTIONARY_DIR / "user_dict.txt"
STOPWORDS = DICTIONARY_DIR / "stopwords.txt"


@cache
def _tokenizer() -> jieba.posseg.POSTokenizer:
    jieba.setLogLevel(logging.WARNING)
    base = jieba.Tokenizer()
    base.initialize()
    if USER_DICT.exists():
        base.load_userdict(str(USER_DICT))
    return jieba.posseg.POSTokenizer(base)


@cache
def stopwords(path: Path = STOPWORDS) -> frozenset[str]:
    if not path.exists():
        return frozenset()
    return frozenset(
        line.strip().lower()
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    )


def _is_word(token: str) -> bool:
    return any(unicodedata.category(ch)[0] in "LN" for ch in token)


def segment(text: str) -> list[tuple[str, str]]:
    """(token, part of speech) for every word of `text`, stop words and punctuation dropped."""
    stop = stopwords()
    words: list[tuple[str, str]] = []
    for pair in _tokenizer().cut(text):
        token = pair.word.strip().lower()
        if token and _is_word(token) and token not in stop:
            words.append((token, pair.flag))
    return words


def query_terms(query: str) -> list[str]:
    """A search query cut exactly as the indexed text was, so `以太币盈利` finds both words."""
    return list(dict.fromkeys(token for token, _ in segment(query)))
