"""Word segmentation with jieba, the project's user dictionary and stop words.

jieba's dictionary ships inside the package; it builds its prefix cache on first use, which
takes a second, so the segmenter is loaded once per process and quietly. What it loaded has a
fingerprint, part of the digest stored with every segmented transcript: editing the user
dictionary or the stop words makes every stored digest stale, so the next run segments the
corpus again.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import io
import logging
import unicodedata
from functools import cache, cached_property

import jieba
import jieba.posseg

from pipeline.settings import PROJECT_ROOT

DICTIONARY_DIR = PROJECT_ROOT / "data" / "dictionary"
USER_DICT = DICTIONARY_DIR / "user_dict.txt"
STOPWORDS = DICTIONARY_DIR / "stopwords.txt"
# Their releases can cut or convert text differently, so they are part of the fingerprint.
SEGMENTING_PACKAGES = ("jieba", "opencc")


class Segmenter:
    """The dictionary files as read once per process. The fingerprint describes exactly these
    bytes; the tokenizer is built from them only when something needs segmenting, since jieba
    takes a second to load and a run with nothing new should not pay it."""

    def __init__(self, user_dict: bytes, stopword_bytes: bytes) -> None:
        self.user_dict = user_dict
        self.stopword_bytes = stopword_bytes

    @cached_property
    def fingerprint(self) -> str:
        digest = hashlib.md5(self.user_dict + b"\0" + self.stopword_bytes)
        for package in SEGMENTING_PACKAGES:
            digest.update(f"\0{package} {importlib.metadata.version(package)}".encode())
        return digest.hexdigest()

    @cached_property
    def tokenizer(self) -> jieba.posseg.POSTokenizer:
        jieba.setLogLevel(logging.WARNING)
        base = jieba.Tokenizer()
        base.initialize()
        if self.user_dict:
            base.load_userdict(io.BytesIO(self.user_dict))
        return jieba.posseg.POSTokenizer(base)

    @cached_property
    def stopwords(self) -> frozenset[str]:
        lines = self.stopword_bytes.decode("utf-8").splitlines()
        return frozenset(word.strip().lower() for word in lines if word.strip())


@cache
def segmenter() -> Segmenter:
    return Segmenter(
        USER_DICT.read_bytes() if USER_DICT.exists() else b"",
        STOPWORDS.read_bytes() if STOPWORDS.exists() else b"",
    )


def _is_word(token: str) -> bool:
    return any(unicodedata.category(ch)[0] in "LN" for ch in token)


def segment(text: str) -> list[tuple[str, str]]:
    """(token, part of speech) for every word of `text`, stop words and punctuation dropped."""
    loaded = segmenter()
    words: list[tuple[str, str]] = []
    for pair in loaded.tokenizer.cut(text):
        token = pair.word.strip().lower()
        if token and _is_word(token) and token not in loaded.stopwords:
            words.append((token, pair.flag))
    return words


def query_terms(query: str) -> list[str]:
    """A search query cut exactly as the indexed text was, so `以太币盈利` finds both words."""
    return list(dict.fromkeys(token for token, _ in segment(query)))
