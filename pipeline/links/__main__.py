"""`python -m pipeline.links [FILE]`: one JSON object per non-skipped line (stdin without FILE)."""

from __future__ import annotations

import argparse
import json
import sys

from pipeline.links import parse_blocks, parse_stream


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pipeline.links", description=__doc__)
    parser.add_argument("file", nargs="?", help="link file (default: standard input)")
    args = parser.parse_args(argv)
    frames = parse_blocks(args.file) if args.file else parse_stream(sys.stdin.buffer)
    out = sys.stdout
    for frame in frames:
        for record in frame.iter_rows(named=True):
            out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
