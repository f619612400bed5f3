"""Every benchmark in one command, one combined table.

    python bench/all.py            # the full set (tens of minutes)
    python bench/all.py --quick    # smaller sizes, a fast look
    python bench/all.py --write    # also rewrite the table in docs/performance.md
    python bench/all.py --only latency,raid
    python bench/all.py --only latency --keep rows/    # keep each benchmark's rows in rows/<name>.jsonl
    python bench/all.py --from rows/ --write           # the table from kept rows, without running anything

Each benchmark runs as its own subprocess (a fresh interpreter and emulator) and appends its rows to a
JSON-lines file named by ``BENCH_JSON`` (see ``report`` in bench/_common.py); this script gathers them.
A benchmark that fails shows up in the table as a failed row rather than stopping the others.
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
import time
from datetime import UTC, datetime
from pathlib import Path

from _common import HEADER, ROOT, table

# name -> (script, full arguments, quick arguments)
BENCHES: dict[str, tuple[str, list[str], list[str]]] = {
    "latency": ("latency.py", [], ["--samples", "40"]),
    "raid": ("raid.py", [], ["--joins", "50"]),
    "startup": ("startup.py", [], ["--members", "2000", "--articles", "10000", "--jobs", "1000"]),
    "feeds": ("feeds.py", [], ["--feeds", "50", "--repeat", "5"]),
    "scheduler": ("scheduler.py", [], ["--pending", "1000", "--due", "200"]),
    "discussions": ("discussions.py", [], ["--quick"]),
    "crash": ("crash.py", [], ["--kills", "5", "--articles", "60"]),
    "crash_mixed": ("crash_mixed.py", [], ["--kills", "5"]),
    "soak": ("soak.py", [], ["--quick"]),
}

START = "<!-- bench:table:start -->"
END = "<!-- bench:table:end -->"


def run(name: str, quick: bool, out: Path) -> tuple[list[dict[str, str]], float, int]:
    script, full, small = BENCHES[name]
    env = {**os.environ, "BENCH_JSON": str(out), "PYTHONPATH": str(ROOT)}
    started = time.perf_counter()
    print(f"== {name}: {script} {' '.join(small if quick else full)}", file=sys.stderr, flush=True)
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / script), *(small if quick else full)],
        cwd=ROOT, env=env, stdout=sys.stderr, stderr=sys.stderr, check=False,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()] if out.exists() else []
    return rows, elapsed, proc.returncode


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()} {platform.release()}"


def write_doc(text: str) -> None:
    doc = ROOT / "docs" / "performance.md"
    current = doc.read_text(encoding="utf-8")
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    if not pattern.search(current):
        raise SystemExit(f"{doc} has no {START} ... {END} section")
    doc.write_text(pattern.sub(lambda _: f"{START}\n{text}\n{END}", current), encoding="utf-8")
    print(f"wrote the table to {doc}", file=sys.stderr)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes for a fast look")
    parser.add_argument("--write", action="store_true", help="rewrite the table in docs/performance.md")
    parser.add_argument("--only", help="comma-separated subset of: " + ", ".join(BENCHES))
    parser.add_argument("--keep", type=Path, help="keep each benchmark's rows in DIR/<name>.jsonl")
    parser.add_argument("--from", dest="from_dir", type=Path, help="build the table from DIR/<name>.jsonl")
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(BENCHES)
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(unknown)}")
    rows: list[list[str]] = []
    timings: list[str] = []
    failed = 0
    if args.from_dir:
        for name in names:
            kept = args.from_dir / f"{name}.jsonl"
            if not kept.exists():
                rows.append([f"{name}: (no kept rows)", "-", "-", "-", "-", "-"])
                continue
            rows.extend([r[h] for h in HEADER] for r in map(json.loads, kept.read_text().splitlines()))
            timings.append(f"{name} (kept {datetime.fromtimestamp(kept.stat().st_mtime, UTC):%H:%M})")
    with tempfile.TemporaryDirectory() as tmp:
        for name in [] if args.from_dir else names:
            if not (ROOT / "bench" / BENCHES[name][0]).exists():
                rows.append([f"{name}: (not present on this branch)", "-", "-", "-", "-", "-"])
                continue
            out = Path(tmp) / f"{name}.jsonl"
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                out = args.keep / f"{name}.jsonl"
                out.unlink(missing_ok=True)
            got, elapsed, code = run(name, args.quick, out)
            rows.extend([r[h] for h in HEADER] for r in got)
            if code != 0:
                failed += 1
                rows.append([f"{name}: FAILED (exit {code})", "-", "-", "-", "-", "NO"])
            timings.append(f"{name} {elapsed:.0f} s")
    missed = sum(1 for r in rows if r[5] == "NO")
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    mode = "quick" if args.quick else "full"
    if args.from_dir:
        mode = f"assembled from rows kept in {args.from_dir}"
    text = "\n".join(
        [
            f"Run {when} ({mode}: `python bench/all.py{' --quick' if args.quick else ''}`) on {machine()}.",
            f"Wall time per benchmark: {', '.join(timings)}.",
            "",
            "```",
            table(rows, HEADER),
            "```",
            "",
            f"{missed} target(s) missed, {failed} benchmark(s) failed.",
        ]
    )
    print(text)
    if args.write:
        write_doc(text)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
