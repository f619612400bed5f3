"""Shared pieces of the benchmarks: an emulator world, bots run as subprocesses, and a results table.

Every figure is a ratio against a baseline measured in the same run, on the same emulator world:
usually ``bench/bare_bot.py``, the plainest discord.py bot with the same intents.
"""

from __future__ import annotations

import asyncio
import compileall
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.emulator.server import Emulator  # noqa: E402
from tests.emulator.world import World  # noqa: E402


def rss_mib(pid: int) -> float:
    """Resident memory of a process, in MiB (Linux)."""
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def compile_sources() -> None:
    """Compile Roundtable's modules to bytecode (``__pycache__``), as a deployment has them: the
    Dockerfile compiles them, and Python caches them on a first run. discord.py's bytecode was
    written by pip at install time; without this, a machine with PYTHONDONTWRITEBYTECODE set (this
    one) would compile Roundtable from source on every start, and the compiler's memory and time
    would be counted against Roundtable alone."""
    for package in ("bot", "cogs"):
        if not compileall.compile_dir(ROOT / package, quiet=1):
            raise RuntimeError(f"could not compile {package}/")


def bot_env(emulator: Emulator, world: World, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DISCORD_", "ROUNDTABLE_"))}
    env.update(
        DISCORD_TOKEN=world.bot_token,
        DISCORD_API_BASE=emulator.base_url,
        DISCORD_GATEWAY_URL=emulator.gateway_url,
        PYTHONPATH=str(ROOT),
        LOG_LEVEL="INFO",
    )
    env.update(extra)
    return env


@dataclass
class Started:
    proc: asyncio.subprocess.Process
    seconds_to_ready: float
    log: list[str]


async def start_subprocess(
    args: Sequence[str], env: dict[str, str], ready_marker: str, cwd: Path, ready_within: float = 120.0
) -> Started:
    """Start a bot process and wait until a line containing ``ready_marker`` appears on stderr/stdout."""
    t0 = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *args, env=env, cwd=cwd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    log: list[str] = []
    assert proc.stdout is not None

    async def read_until_ready() -> None:
        assert proc.stdout is not None
        while True:
            line = await proc.stdout.readline()
            if not line:
                raise RuntimeError("process exited before it was ready:\n" + "".join(log[-30:]))
            text = line.decode(errors="replace")
            log.append(text)
            if ready_marker in text:
                return

    await asyncio.wait_for(read_until_ready(), ready_within)
    elapsed = time.perf_counter() - t0

    async def drain() -> None:
        assert proc.stdout is not None
        while await proc.stdout.readline():
            pass

    asyncio.get_running_loop().create_task(drain())
    return Started(proc, elapsed, log)


async def stop_subprocess(proc: asyncio.subprocess.Process) -> None:
    if proc.returncode is None:
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), 15)
        except TimeoutError:
            proc.kill()
            await proc.wait()


def percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def table(rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    cells = [list(map(str, header))] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = [" | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


HEADER = ("measure", "roundtable", "baseline", "ratio", "target", "met?")


def _number(text: str) -> float | None:
    """``1.13x`` -> 1.13, ``4.2%`` -> 0.042, ``0`` -> 0.0; None when the text is not a figure."""
    text = text.strip().removeprefix("<=").removeprefix("≤").strip()
    try:
        if text.endswith("x"):
            return float(text[:-1])
        if text.endswith("%"):
            return float(text[:-1]) / 100
        return float(text.split()[0]) if text else None
    except (ValueError, IndexError):
        return None


def met(ratio: str, target: str) -> str:
    """``yes``/``NO`` when the target is an upper bound (``<= 1.5x``, ``<= 5%``, ``0``), else ``-``."""
    limit = _number(target)
    value = _number(ratio)
    if limit is None or value is None:
        return "-"
    return "yes" if value <= limit + 1e-9 else "NO"


def report(bench: str, rows: Sequence[Sequence[Any]]) -> None:
    """Print a benchmark's rows (measure, roundtable, baseline, ratio, target) as a table and, when the
    environment variable ``BENCH_JSON`` names a file, append them to it as JSON lines for ``bench/all.py``."""
    full = [(*map(str, r), met(str(r[3]), str(r[4]))) for r in rows]
    print(table(full, HEADER), flush=True)
    target = os.environ.get("BENCH_JSON")
    if target:
        import json

        with open(target, "a", encoding="utf-8") as out:
            for r in full:
                out.write(json.dumps({"bench": bench, **dict(zip(HEADER, r, strict=True))}) + "\n")
