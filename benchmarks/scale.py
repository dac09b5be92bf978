"""Benchmark 6: peak memory at scale (issue 37), each piece of work in a process of its own.

Rows: `plan` and the `links` step on generated link files (every line its own video), text
analysis (`benchmarks.text_speed`) and the whole command against the emulator's fast profile at
a high rate. Each is a child process; its peak RSS is its own `ru_maxrss` from `os.wait4`, read
from outside, and its wall time is spawn to exit. The table goes into docs/BENCHMARKS.md between
`BEGIN` and `END`, the issue's targets beside the figures, unless `--no-write`.

On Linux a child's `ru_maxrss` counts the RSS of the process it was spawned from (`exec` keeps
the old memory's high-water mark), so this launcher imports nothing heavy: link files and
warehouses are made by child modes of this module (`--child`), and each row prints the
launcher's own peak (`launcher_rss_mib`), below which no figure can go.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# The location module alone is light (12 MiB with the interpreter); the rest of the pipeline
# would grow the launcher.
from pipeline.storage.location import duckdb_memory

# Not pipeline.settings.PROJECT_ROOT: importing the pipeline would grow the launcher.
ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs" / "BENCHMARKS.md"
BEGIN, END = "<!-- scale:begin -->", "<!-- scale:end -->"
WORKS = ("plan", "links", "text", "run")
UNITS = {"plan": "lines", "links": "lines", "text": "transcripts", "run": "links"}
LABELS = {
    "plan": "`plan`",
    "links": "`links` step",
    "text": "text analysis",
    "run": "whole command",
}
HEADER = (
    "| work | size | peak RSS | wall time | figures | issue 37's target | load (1-min, start → end) "
    "| date | commit |",
    "|---|---|---|---|---|---|---|---|---|",
)
# The emulator's request limit and the pipeline's COZE_RPS for the whole command.
RUN_RPS = 250.0


@dataclass(frozen=True)
class Target:
    """An issue 37 target at one size: peak RSS at most, and seconds at most or rate at least."""

    rss_mib: int
    seconds: float | None = None
    per_second: float | None = None


TARGETS = {
    ("plan", 2_000_000): Target(rss_mib=1024, seconds=30.0),
    ("text", 200_000): Target(rss_mib=2048, per_second=3000.0),
    ("run", 100_000): Target(rss_mib=2048),
}


@dataclass(frozen=True)
class Child:
    """A finished child: what it printed, its own peak RSS, spawn to exit."""

    stdout: str
    peak_rss_mib: int
    seconds: float


def measure(command: Sequence[str], workdir: Path, env: dict[str, str] | None = None) -> Child:
    """Run `command` from the project root and wait for it with `os.wait4`, which gives this
    child's own rusage (RUSAGE_CHILDREN would be the largest of all children so far). Output
    goes to files, so a chatty child never blocks on a pipe."""
    out, err = workdir / "child.out", workdir / "child.err"
    with out.open("w") as stdout, err.open("w") as stderr:
        started = time.monotonic()
        child = subprocess.Popen(command, cwd=ROOT, env=env, stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(child.pid, 0)
        seconds = time.monotonic() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        tail = err.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{' '.join(command)} exited with {child.returncode}:\n{tail}")
    return Child(out.read_text(), round(usage.ru_maxrss / 1024), seconds)


def launcher_rss_mib() -> int:
    """This process's memory high-water mark (VmHWM), which every child it spawns counts. Not
    its `ru_maxrss`: that counts, in turn, the process that spawned it."""
    status = Path("/proc/self/status").read_text()
    (kib,) = (line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:"))
    return round(int(kib) / 1024)


def helper(workdir: Path, *args: str) -> str:
    """A child mode of this module, unmeasured: what it printed."""
    return measure([sys.executable, "-m", "benchmarks.scale", "--child", *args], workdir).stdout


def json_line(stdout: str) -> dict[str, Any]:
    """The last JSON object a child printed on a line of its own."""
    return json.loads([line for line in stdout.splitlines() if line.startswith("{")][-1])


class Rows:
    """The measured rows, one JSON line each as they finish; link files made once per size."""

    def __init__(self, workdir: Path, commit: str, run_rps: float) -> None:
        self.workdir = workdir
        self.commit = commit
        self.run_rps = run_rps
        self.measured: list[dict[str, Any]] = []
        self._files: dict[int, Path] = {}

    def lines_file(self, size: int) -> Path:
        if size not in self._files:
            self._files[size] = self.workdir / f"lines-{size}.txt"
            helper(self.workdir, "generate", "lines", str(self._files[size]), str(size))
        return self._files[size]

    def warehouse(self, name: str) -> Path:
        """A new warehouse file with the pipeline's schema and no rows."""
        db = self.workdir / f"{name}.duckdb"
        helper(self.workdir, "warehouse", str(db))
        return db

    def record(self, work: str, size: int, child: Child, load: float, **extras: Any) -> None:
        row = {
            "benchmark": "scale",
            "work": work,
            "size": size,
            "unit": UNITS[work],
            "peak_rss_mib": child.peak_rss_mib,
            "seconds": round(child.seconds, 1),
            "load": [round(load, 2), round(os.getloadavg()[0], 2)],
            "date": datetime.now(UTC).strftime("%Y-%m-%d"),
            "commit": self.commit,
            "launcher_rss_mib": launcher_rss_mib(),
            **extras,
        }
        self.measured.append(row)
        print(json.dumps(row), flush=True)

    def plan(self, size: int) -> None:
        file, db = self.lines_file(size), self.warehouse(f"plan-{size}")
        load = os.getloadavg()[0]
        command = ["pipeline", "plan", "--links", str(file), "--format", "json"]
        env = {**os.environ, "PIPELINE_DB": str(db)}
        child = measure([sys.executable, "-m", *command], self.workdir, env)
        plan = json.loads(child.stdout)
        figures = ("lines", "usable_links", "distinct_videos", "metadata_calls", "submits")
        self.record("plan", size, child, load, **{name: plan[name] for name in figures})

    def links(self, size: int) -> None:
        file, db = self.lines_file(size), self.warehouse(f"links-{size}")
        load = os.getloadavg()[0]
        command = ["benchmarks.scale", "--child", "links", str(file), str(db)]
        child = measure([sys.executable, "-m", *command], self.workdir)
        self.record("links", size, child, load, **json_line(child.stdout))

    def text(self, size: int) -> None:
        load = os.getloadavg()[0]
        command = ["benchmarks.text_speed", "--transcripts", str(size)]
        child = measure([sys.executable, "-m", *command], self.workdir)
        speed = json_line(child.stdout)
        self.record(
            "text",
            size,
            child,
            load,
            stored=speed["stored"],
            chunk=speed["chunk"],
            transcripts_per_second=speed["update_transcripts_per_second"],
            update_seconds=speed["update_seconds"],
            segment_transcripts_per_second=speed["segment_transcripts_per_second"],
            self_reported_rss_mib=speed["peak_rss_mib"],
        )

    def run(self, size: int) -> None:
        """`python -m pipeline run` on `size` distinct links, a fresh warehouse and instance,
        the emulator a process of its own (not measured)."""
        from benchmarks.harness import bench_env
        from pipeline.emulator import EmulatorConfig, EmulatorProcess

        workdir = self.workdir / f"run-{size}"
        workdir.mkdir()
        file, db = workdir / f"links-{size}.txt", workdir / "w.duckdb"
        helper(self.workdir, "generate", "links", str(file), str(size))
        config = EmulatorConfig(profile="fast", rps=self.run_rps)
        with EmulatorProcess(config) as emulator:
            env = bench_env(workdir, emulator.url, COZE_RPS=str(self.run_rps))
            load = os.getloadavg()[0]
            command = ["pipeline", "run", "--links", str(file), "--db", str(db)]
            child = measure([sys.executable, "-m", *command], workdir, env)
            stats = emulator.stats()
        self.record(
            "run",
            size,
            child,
            load,
            **run_status(child.stdout),
            rps_limit=self.run_rps,
            requests=stats["requests"],
            submits=stats["submits"],
            polls=stats["polls"],
            http_429=stats["rate_limited"],
            sustained_rps=round(stats["requests"] / max(stats["busy_seconds"], 1e-9), 1),
        )


def run_status(stdout: str) -> dict[str, int]:
    """The counts of the summary `python -m pipeline run` prints (`pipeline.runs.summary`):
    lines, videos, metadata and transcripts ok, pending, failed, uncertain, trimmed."""
    counts = {}
    for line in stdout.splitlines():
        if line.startswith(("  lines: ", "  videos: ")):
            for name, value in re.findall(r"([a-z][a-z ]*): (\d+)", line):
                counts[name.strip().replace(" ", "_")] = int(value)
    return counts


def child_mode(args: Sequence[str]) -> None:
    """The work the launcher must not do itself, since its memory would count in the next
    child's peak: make a file or a warehouse, or run the `links` step's work."""
    mode, *rest = args
    if mode == "generate":
        kind, path, size = rest
        if kind == "lines":
            from benchmarks.local_scale import generate

            generate(Path(path), int(size))
        else:
            urls = (f"https://www.douyin.com/video/75{n:017d}\n" for n in range(int(size)))
            with Path(path).open("w", encoding="utf-8") as out:
                out.writelines(urls)
    elif mode == "warehouse":
        from pipeline.storage.db import connect

        with connect(rest[0]):
            pass
    elif mode == "links":
        stage_links_step(Path(rest[0]), Path(rest[1]))
    else:
        raise SystemExit(f"unknown child mode {mode!r}")


def stage_links_step(file: Path, db: Path) -> None:
    """What the `links` asset runs (`pipeline.defs.assets.links`), without Dagster: the file,
    as its batch, staged through `stage_link_files` on a warehouse connection; its figures."""
    from pipeline.derive.staging import stage_link_files
    from pipeline.storage.db import connect

    with connect(db) as conn:
        staged = stage_link_files(conn, {file.stem: file})
    total = staged.total
    figures = {"lines": total.lines, "bad_lines": total.bad_lines}
    print(json.dumps({**figures, "distinct_videos": total.distinct_videos}), flush=True)


def figures_cell(row: dict[str, Any]) -> str:
    """What each row counted or sustained, besides its memory and time."""
    work = row["work"]
    if work in ("plan", "links"):
        bad = row["lines"] - row["usable_links"] if work == "plan" else row["bad_lines"]
        return f"{row['lines']:,} records ({bad:,} not usable), {row['distinct_videos']:,} videos"
    if work == "text":
        return (
            f"**{row['transcripts_per_second']:,} /s** segmented and stored "
            f"({row['update_seconds']:,} s), segmentation alone "
            f"{row['segment_transcripts_per_second']:,} /s"
        )
    left = ", ".join(
        f"{row[name]:,} {name}" for name in ("pending", "failed", "uncertain") if row[name]
    )
    return (
        f"{row['transcripts_ok']:,} transcripts ok of {row['videos']:,} videos"
        + (f" ({left})" if left else "")
        + f", {row['requests']:,} requests, {row['sustained_rps']:,} req/s sustained, "
        f"{row['http_429']:,} 429s"
    )


def target_cell(row: dict[str, Any]) -> str:
    """The issue's target at this size, and whether this row meets it."""
    target = TARGETS.get((row["work"], row["size"]))
    if target is None:
        return ""

    def verdict(ok: bool) -> str:
        return "**met**" if ok else "**missed**"

    parts = [f"≤ {target.rss_mib:,} MiB {verdict(row['peak_rss_mib'] <= target.rss_mib)}"]
    if target.seconds is not None:
        parts.append(f"≤ {target.seconds:g} s {verdict(row['seconds'] <= target.seconds)}")
    if target.per_second is not None:
        ok = row["transcripts_per_second"] >= target.per_second
        parts.append(f"≥ {target.per_second:,.0f} /s {verdict(ok)}")
    return ", ".join(parts)


def table_row(row: dict[str, Any]) -> str:
    start, end = row["load"]
    cells = (
        LABELS[row["work"]],
        f"{row['size']:,} {row['unit']}",
        f"**{row['peak_rss_mib']:,} MiB**",
        f"{row['seconds']:,.1f} s",
        figures_cell(row),
        target_cell(row),
        f"{start:.1f} → {end:.1f}",
        row["date"],
        row["commit"],
    )
    return "| " + " | ".join(cells) + " |"


def _cells(line: str) -> list[str]:
    return [cell.strip() for cell in line.strip().strip("|").split("|")]


def _order(line: str) -> tuple[int, int]:
    """A table line's place: by work, then by size."""
    label, size = _cells(line)[:2]
    work = next(work for work, name in LABELS.items() if name == label)
    return WORKS.index(work), int(size.split()[0].replace(",", ""))


def merged_rows(old_block: str, rows: Iterable[dict[str, Any]]) -> list[str]:
    """The new rows, plus the rows of `old_block` for work and sizes not measured again, so a
    run of one row (`--only run`) keeps the others' figures."""
    lines = {tuple(_cells(line)[:2]): line for line in map(table_row, rows)}
    for line in old_block.splitlines():
        cells = _cells(line)
        if line.startswith("| ") and cells[0] in LABELS.values():
            lines.setdefault((cells[0], cells[1]), line)
    return sorted(lines.values(), key=_order)


def render_block(
    old_block: str, rows: Iterable[dict[str, Any]], command: str, machine: dict[str, Any]
) -> str:
    """The text between the markers: the last command, the machine, the table."""
    about = (
        f"Last written by `{command}` on {machine['date']} at {machine['commit']}; "
        f"{machine['cpus']} cores, {machine['ram_gib']} GiB RAM, Python {machine['python']}, "
        f"{machine['platform']}; the launcher's own peak {machine['launcher_rss_mib']} MiB; "
        f"DuckDB's memory cap (PIPELINE_DUCKDB_MEMORY) {machine['duckdb_memory']}. "
        "Rows not measured by that command are kept from earlier runs (their date and commit "
        "are in the row)."
    )
    wrapped = textwrap.fill(about, 100, break_long_words=False, break_on_hyphens=False)
    return "\n".join(("", wrapped, "", *HEADER, *merged_rows(old_block, rows), ""))


def replace_block(text: str, block: str) -> str:
    """`text` with what lies between `BEGIN` and `END` replaced by `block`."""
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"no {BEGIN} … {END} block to write the table into")
    return text[: start + len(BEGIN)] + block + text[end:]


def current_block(text: str) -> str:
    start, end = text.find(BEGIN), text.find(END)
    return text[start + len(BEGIN) : end] if 0 <= start < end else ""


def write_docs(
    docs: Path, rows: Iterable[dict[str, Any]], command: str, machine: dict[str, Any]
) -> None:
    text = docs.read_text(encoding="utf-8")
    block = render_block(current_block(text), rows, command, machine)
    docs.write_text(replace_block(text, block), encoding="utf-8")


def commit() -> str:
    """The checkout's short commit, marked when files tracked differ from it."""
    git = ["git", "-C", str(ROOT)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    status = subprocess.run(
        [*git, "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True
    )
    return head.stdout.strip() + ("-dirty" if status.stdout.strip() else "")


# A tiny size for the smoke test and `run_all --smoke`: every row once, and docs/BENCHMARKS.md
# left alone. Checks the benchmark runs, measures nothing.
SMOKE = ("--lines", "300", "--transcripts", "40", "--run-links", "20", "--no-write")


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        child_mode(argv[1:])
        return []
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", nargs="+", choices=WORKS, default=list(WORKS))
    parser.add_argument("--lines", type=int, nargs="+", default=[200_000, 2_000_000])
    parser.add_argument("--transcripts", type=int, nargs="+", default=[20_000, 100_000, 200_000])
    parser.add_argument(
        "--run-links",
        type=int,
        nargs="+",
        default=[10_000, 100_000],
        help="sizes of the whole command (100,000 takes 20 minutes or more)",
    )
    parser.add_argument("--run-rps", type=float, default=RUN_RPS)
    parser.add_argument("--no-write", action="store_true", help="leave docs/BENCHMARKS.md alone")
    args = parser.parse_args(argv)
    sizes = {"plan": args.lines, "links": args.lines, "text": args.transcripts}
    sizes["run"] = args.run_links
    with tempfile.TemporaryDirectory(prefix="scale-") as tmp:
        rows = Rows(Path(tmp), commit(), args.run_rps)
        for work in WORKS:
            if work in args.only:
                for size in sizes[work]:
                    getattr(rows, work)(size)
    if not args.no_write:
        machine = {
            "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "commit": rows.commit,
            "cpus": os.cpu_count(),
            "ram_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
            "python": platform.python_version(),
            "platform": f"{platform.system()} {platform.release()} {platform.machine()}",
            "launcher_rss_mib": launcher_rss_mib(),
            "duckdb_memory": duckdb_memory(os.environ),
        }
        command = " ".join(["python -m benchmarks.scale", *argv])
        write_docs(DOCS, rows.measured, command, machine)
    return rows.measured


if __name__ == "__main__":
    main()
