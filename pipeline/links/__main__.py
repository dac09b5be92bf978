"""`python -m pipeline.links [FILE]`: one JSON object per non-skipped line (stdin without FILE)."""

from __future__ import annotations

import argparse
import json
import sys

from pipeline.links import decode_link_bytes, parse_text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.links", description=__doc__)
    parser.add_argument("file", nargs="?", help="link file (default: standard input)")
    args = parser.parse_args(argv)
    if args.file:
        with open(args.file, "rb") as handle:
            data = handle.read()
    else:
        data = sys.stdin.buffer.read()
    out = sys.stdout
    for record in parse_text(decode_link_bytes(data)).iter_rows(named=True):
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
