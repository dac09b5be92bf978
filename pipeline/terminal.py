"""Text from Coze or from link files, made safe to print on a person's terminal.

Titles, nicknames and error messages come from the service and file names from anyone: an escape
sequence in them could recolour, retitle or clear the terminal, a bidi override reverses what
follows, and a 1 MB nickname floods it. Only what is printed is cleaned; the warehouse keeps
every answer as received.
"""

from __future__ import annotations

import re

# ESC and CSI sequences (colours, cursor moves), OSC and other string sequences (window titles,
# hyperlinks) up to their terminator, and a lone ESC.
_ESCAPES = re.compile(
    r"(?:\x1b\[|\x9b)[0-?]*[ -/]*[@-~]"
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d-\x9f])[^\x07\x1b\x9c]*(?:\x07|\x1b\\|\x9c)?"
    r"|\x1b[ -/]*[0-~]?"
)
_BREAKS = re.compile(r"[\t\n\v\f\r\x1c-\x1e\x85\u2028\u2029]+")
# C0 and C1 controls, bidi marks, embeddings, overrides and isolates, and lone surrogates
# (which cannot even be encoded for output).
_INVISIBLE = re.compile(
    r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)


def printable(text: object, limit: int = 80) -> str:
    """`text` on one line, without escape sequences or controls, cut to `limit` characters."""
    clean = _INVISIBLE.sub("", _BREAKS.sub(" ", _ESCAPES.sub("", str(text))))
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"
