"""How long the commands take as whole processes, next to their yardsticks (medians of 5).

    python benchmarks/commands.py [--repeats 5]

In a fresh demo home (models registered, one 1k-row batch scored), with the local Prefect server:
`python -c "import pandas"` and `python -c "import prefect"` are the yardsticks; `status`,
`models list`, `batches show`, `drift` are set against pandas, `score` on an empty inbox with the
server up against prefect, a 1k-row batch against the empty-inbox score, and the first `score`,
which starts the server, against 10 s. The scoring commands with the server up are answered by the
warm scorer the first `score` left beside it (README, Quick start); each round waits until that
scorer is ready, so its warm-up runs beside no timed command. Rounds interleave every command, so
a busy spell of the machine touches them all alike. Next to each wall time, the CPU seconds the
process (and the children it waited for) used: on a shared machine the wall time grows with the
load, the CPU time much less. The server is stopped at the end.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench import ROOT, machine, prepare_home
from rich.console import Console
from rich.table import Table
from workload import batch_file

BIN = Path(sys.executable).parent
BATCH_ROWS = 1_000


def _children_cpu() -> float:
    used = resource.getrusage(resource.RUSAGE_CHILDREN)
    return used.ru_utime + used.ru_stime


def timed(
    args: list[str], env: dict[str, str], before: Callable[[], None] | None = None
) -> tuple[float, float]:
    """Wall and CPU seconds of one whole process; a failing command stops the benchmark."""
    if before:
        before()
    cpu = _children_cpu()
    start = time.perf_counter()
    done = subprocess.run(args, env=env, capture_output=True, text=True, cwd=ROOT)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return seconds, _children_cpu() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--home", type=Path, default=ROOT / "var" / "bench-commands")
    args = parser.parse_args()
    home: Path = args.home
    shutil.rmtree(home, ignore_errors=True)
    env = {**os.environ, "RENDEZVOUS_HOME": str(home), "RENDEZVOUS_PREFECT_API": "local-server"}
    for name in ("PREFECT_API_URL", "PREFECT_HOME"):
        env.pop(name, None)
    prepare_home(home)
    data = home.parent / "bench-commands-data"
    rendezvous = str(BIN / "rendezvous")
    inbox = home / "inbox"
    batches = iter(range(1, 1_000))

    def drop_batch() -> None:
        source = batch_file(data, BATCH_ROWS, seed=20_000 + next(batches))
        shutil.copy(source, inbox / source.name)

    def stop_server() -> None:
        subprocess.run([rendezvous, "server", "--stop"], env=env, capture_output=True, check=True)

    load_before = os.getloadavg()
    first_ever, first_cpu = timed([rendezvous, "score"], env)  # a new Prefect database: its migrations too
    drop_batch()
    shown = next(inbox.iterdir()).name
    timed([rendezvous, "score"], env)
    def warm_scorer_ready() -> None:  # the last command of a round starts one: not beside the next
        deadline = time.monotonic() + 300
        while not (home / "prefect" / "warm-scorer.json").exists():
            if time.monotonic() > deadline:
                raise RuntimeError("no warm scorer after 300 s: see prefect/warm-scorer.log")
            time.sleep(0.2)

    commands: dict[str, tuple[list[str], Callable[[], None] | None]] = {
        'python -c "import pandas"': ([sys.executable, "-c", "import pandas"], warm_scorer_ready),
        'python -c "import prefect"': ([sys.executable, "-c", "import prefect"], None),
        "rendezvous status": ([rendezvous, "status"], None),
        "rendezvous models list": ([rendezvous, "models", "list"], None),
        "rendezvous batches show X": ([rendezvous, "batches", "show", shown], None),
        "rendezvous drift X": ([rendezvous, "drift", shown], None),
        "rendezvous score, empty inbox, server up": ([rendezvous, "score"], None),
        f"rendezvous score, {BATCH_ROWS:,}-row batch, server up": ([rendezvous, "score"], drop_batch),
        "rendezvous score, empty inbox, starts the server": ([rendezvous, "score"], stop_server),
    }
    seconds: dict[str, list[float]] = {name: [] for name in commands}
    cpu_seconds: dict[str, list[float]] = {name: [] for name in commands}
    try:
        for _ in range(args.repeats):
            for name, (command, before) in commands.items():
                wall, cpu = timed(command, env, before)
                seconds[name].append(wall)
                cpu_seconds[name].append(cpu)
    finally:
        stop_server()
    load_after = os.getloadavg()
    median = {name: statistics.median(values) for name, values in seconds.items()}
    cpu = {name: f"{statistics.median(values):.2f}" for name, values in cpu_seconds.items()}
    pandas, prefect = median['python -c "import pandas"'], median['python -c "import prefect"']
    empty = median["rendezvous score, empty inbox, server up"]
    rows = [(name, median[name], "", "", "") for name in list(commands)[:2]]
    for name in list(commands)[2:6]:
        rows.append((name, median[name], f"pandas {pandas:.2f}", f"{median[name] / pandas:.2f}x", "<= 1.5x"))
    rows.append((list(commands)[6], empty, f"prefect {prefect:.2f}", f"{empty / prefect:.2f}x", "<= 3x"))
    batch = median[list(commands)[7]]
    rows.append((list(commands)[7], batch, f"empty inbox {empty:.2f}", f"+{batch - empty:.2f} s", "<= +2 s"))
    starts = median[list(commands)[8]]
    rows.append((list(commands)[8], starts, "", f"{starts:.2f} s", "<= 10 s"))
    first = "the same, the very first time (new Prefect database), 1 run"
    rows.append((first, first_ever, "", "", ""))
    cpu[first] = f"{first_cpu:.2f}"

    console = Console(width=160)
    title = (
        f"Commands as whole processes, medians of {args.repeats}, {datetime.now(UTC):%Y-%m-%d} on "
        f"{machine()}; load average {load_before[0]:.1f} before, {load_after[0]:.1f} after"
    )
    table = Table(title=title, title_justify="left")
    for column in ("what", "median s", "CPU s", "yardstick s", "ratio", "target"):
        table.add_column(column, justify="left" if column in ("what", "yardstick s") else "right")
    for name, value, yardstick, ratio, target in rows:
        table.add_row(name, f"{value:.2f}", cpu[name], yardstick, ratio, target)
    console.print(table)
    print("\n| what | median s | CPU s | yardstick s | ratio | target |")
    print("| --- | ---: | ---: | --- | ---: | ---: |")
    for name, value, yardstick, ratio, target in rows:
        print(f"| {name.replace('|', '/')} | {value:.2f} | {cpu[name]} | {yardstick} | {ratio} | {target} |")


if __name__ == "__main__":
    main()
