"""Word segmentation with rjieba (jieba-rs: jieba's algorithm and dictionary in Rust), the
project's user dictionary and stop words.

rjieba cuts exactly as `jieba.cut` does with the same dictionary, at about 1/80 of the cost of
`jieba.posseg`, which this module used before; the two differ where posseg's part-of-speech
HMM joins unknown characters otherwise (95% of the seed transcript's tokens are the same; the
comparison is in docs/BENCHMARKS.md). Its dictionary is built into the binary and loads in
0.2 s, still only when something needs segmenting. What was loaded has a fingerprint, part of
the digest stored with every segmented transcript: editing the user dictionary or the stop
words, or another release of the segmenter, makes every stored digest stale, so the next run
segments the corpus again.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.resources
import re
import unicodedata
from functools import cache, cached_property
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import rjieba

# The shipped user dictionary and stop words are package data, so an installed wheel has them;
# a deployment's own files in data/dictionary/ (PIPELINE_DICTIONARY_DIR) take their place.
DEFAULT_DICTIONARY = importlib.resources.files("pipeline.text") / "dictionary"
USER_DICT = DEFAULT_DICTIONARY / "user_dict.txt"
STOPWORDS = DEFAULT_DICTIONARY / "stopwords.txt"
# Their releases can cut or convert text differently, so they are part of the fingerprint.
SEGMENTING_PACKAGES = ("rjieba", "opencc")
# A user dictionary line, as jieba.load_userdict reads it: `word [frequency] [part of speech]`.
_USER_WORD = re.compile(r"^(.+?)(?: (\d+))?(?: ([a-z]+))?$")
# What jieba tags a word it has no part of speech for.
_UNTAGGED = "x"
# Words whose fate is remembered; past this many (some 15 MiB) the memory starts afresh.
_SEEN_WORDS = 100_000


def user_words(user_dict: bytes) -> list[tuple[str, int | None, str | None]]:
    """(word, frequency, part of speech) of each line; a word without a frequency gets the one
    that keeps it whole (jieba's rule), frequency 0 keeps it from ever being one word."""
    words = []
    for line in user_dict.decode("utf-8-sig").splitlines():
        match = _USER_WORD.match(line.strip())
        if match:
            word, freq, tag = match.groups()
            words.append((word, int(freq) if freq else None, tag))
    return words


class Segmenter:
    """The dictionary files as read once per process. The fingerprint describes exactly these
    bytes and the segmenter's release; the tokenizer is built from them only when something
    needs segmenting, so a run with nothing new does not pay for it."""

    def __init__(self, user_dict: bytes, stopword_bytes: bytes) -> None:
        self.user_dict = user_dict
        self.stopword_bytes = stopword_bytes
        # Each word seen: (token, part of speech), or None when it is dropped.
        self._seen: dict[str, tuple[str, str] | None] = {}

    @cached_property
    def fingerprint(self) -> str:
        digest = hashlib.md5(self.user_dict + b"\0" + self.stopword_bytes)
        for package in SEGMENTING_PACKAGES:
            digest.update(f"\0{package} {importlib.metadata.version(package)}".encode())
        return digest.hexdigest()

    @cached_property
    def tokenizer(self) -> rjieba.Jieba:
        import rjieba  # its import loads a default dictionary: 0.1 s, paid only when needed

        tokenizer = rjieba.Jieba()
        for word, freq, tag in user_words(self.user_dict):
            tokenizer.add_word(word, freq, tag)
        return tokenizer

    @cached_property
    def user_tags(self) -> dict[str, str]:
        """The user dictionary's parts of speech. rjieba keeps a word's own when the word is
        already in its dictionary (航海王 stays `n`); jieba.posseg takes the user's (`nz`)."""
        return {word: tag for word, _, tag in user_words(self.user_dict) if tag}

    @cached_property
    def stopwords(self) -> frozenset[str]:
        lines = self.stopword_bytes.decode("utf-8").splitlines()
        return frozenset(word.strip().lower() for word in lines if word.strip())

    def segment(self, text: str) -> list[tuple[str, str]]:
        """(token, part of speech) for every word of `text`, stop words and punctuation dropped.

        rjieba's `tag` is its `cut` with each word's own tag (from the dictionary, or guessed
        from the word alone), so what becomes of a word is learnt once: the text is only cut,
        which costs a third less than tagging it."""
        words = self.tokenizer.cut(text)
        seen = self._seen
        if not all(map(seen.__contains__, words)):
            if len(seen) > _SEEN_WORDS:
                self._seen = seen = {}  # a new dict: a call under way keeps the one it reads
            for word in words:
                if word not in seen:
                    self._learn(word, text, seen)
        return [pair for pair in map(seen.__getitem__, words) if pair is not None]

    def _learn(self, word: str, text: str, seen: dict[str, tuple[str, str] | None]) -> None:
        """Tag the new word alone, or the whole text should the word alone be cut otherwise."""
        pairs = self.tokenizer.tag(word)
        if len(pairs) != 1 or pairs[0][0] != word:
            pairs = self.tokenizer.tag(text)
        for each, tag in pairs:
            seen[each] = self._kept(each, tag)

    def _kept(self, word: str, tag: str) -> tuple[str, str] | None:
        token = word.strip().lower()
        if token and _is_word(token) and token not in self.stopwords:
            return token, self.user_tags.get(word) or tag or _UNTAGGED
        return None


def dictionary_file(name: str, dictionary_dir: Path | None) -> bytes:
    """The deployment's own file if it has one (`Settings.dictionary_dir`), else the shipped
    default."""
    own = dictionary_dir / name if dictionary_dir else None
    return own.read_bytes() if own and own.is_file() else (DEFAULT_DICTIONARY / name).read_bytes()


@cache
def segmenter(dictionary_dir: Path | None = None) -> Segmenter:
    """Loaded once per process and folder; None: the shipped files alone."""
    return Segmenter(
        dictionary_file("user_dict.txt", dictionary_dir),
        dictionary_file("stopwords.txt", dictionary_dir),
    )


def _is_word(token: str) -> bool:
    return any(unicodedata.category(ch)[0] in "LN" for ch in token)


def segment(text: str, dictionary_dir: Path | None = None) -> list[tuple[str, str]]:
    """(token, part of speech) for every word of `text`, stop words and punctuation dropped."""
    return segmenter(dictionary_dir).segment(text)


def query_terms(query: str, dictionary_dir: Path | None = None) -> list[str]:
    """A search query cut exactly as the indexed text was, so `以太币盈利` finds both words."""
    return list(dict.fromkeys(token for token, _ in segment(query, dictionary_dir)))
