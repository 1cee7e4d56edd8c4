"""`make bench`: the whole score-batches flow against the bare script, same files, same run.

For each size, bare and flow alternate (each in a fresh warmed-up process, so each peak RSS
is its own) for --repeats rounds; the table gives medians, the ratio, rows per second and peak
memory, then the flow's busy seconds per step. Results go to benchmarks/results/ and a plot of
time and memory against rows to docs/bench-scaling.png.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
from pathlib import Path

from history import history_files, score_history, time_reads
from rich.console import Console
from rich.table import Table
from workload import batch_file

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
console = Console(width=None if sys.stdout.isatty() else 150)


def prepare_home(home: Path) -> None:
    """A demo home (reference data, live and canary models) with an empty inbox."""
    subprocess.run(
        [
            sys.executable,
            "-c",
            "from rendezvous.services import get_services; "
            "from rendezvous.demo.bootstrap import build_demo; build_demo(get_services(), rows_per_batch=20)",
        ],
        check=True,
        env={**os.environ, "RENDEZVOUS_HOME": str(home)},
    )
    for leftover in (home / "inbox").iterdir():
        leftover.unlink()


def measure(mode: str, file: Path, env: dict[str, str]) -> dict:
    done = subprocess.run(
        [sys.executable, str(HERE / "measure.py"), mode, str(file)], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise RuntimeError(f"{mode} run on {file.name} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--ten-million", action="store_true", help="add a 10M-row batch")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--home", type=Path, default=ROOT / "var" / "bench")
    parser.add_argument(
        "--history", type=int, metavar="N", help="instead: N consecutive batches into one home, and reads"
    )
    parser.add_argument("--history-rows", type=int, default=1_000_000, help="rows per history batch")
    parser.add_argument(
        "--random-ids", action="store_true", help="history batches with random UUID ids (default: sorted)"
    )
    args = parser.parse_args()
    sizes = args.rows + ([10_000_000] if args.ten_million else [])
    env = {**os.environ, "RENDEZVOUS_HOME": str(args.home), "PREFECT_HOME": str(args.home / "prefect")}
    env.pop("PREFECT_API_URL", None)
    with console.status("Preparing the bench home (demo models and reference data)..."):
        prepare_home(args.home)
    data = args.home.parent / "bench-data"
    if args.history:
        files = history_files(data, args.history, args.history_rows, args.random_ids)
        history(data, env, files, args.history_rows, "random UUID ids" if args.random_ids else "sorted ids")
        return
    results: list[dict] = []
    for rows in sizes:
        runs: dict[str, list[dict]] = {"bare": [], "flow": []}
        repeats = 1 if rows >= 10_000_000 else args.repeats  # minutes per run; its point is memory
        for repeat in range(repeats):
            with console.status(f"{rows:,} rows: round {repeat + 1} of {repeats}..."):
                file = batch_file(data, rows, seed=repeat + 1)
                order = ("bare", "flow") if repeat % 2 == 0 else ("flow", "bare")
                for mode in order:
                    runs[mode].append(measure(mode, file, env))
        results.append(summarise(rows, runs))
        console.print(
            f"{rows:,} rows: bare {results[-1]['bare_s']:.2f} s, flow {results[-1]['flow_s']:.2f} s"
        )
    report(results)


def history(data: Path, env: dict[str, str], files: list[Path], rows: int, ids: str) -> None:
    """The history series and the read timings, printed and saved beside the size series."""
    batches = len(files)
    with console.status(f"{batches} batches of {rows:,} rows into one home..."):
        series = score_history(measure, files, env)
    title = f"History: {batches} x {rows:,} rows ({ids}) into one home ({machine()})"
    table = Table(title=title, title_justify="left")
    for name in ("batch", "flow s", "peak RSS"):
        table.add_column(name, justify="right")
    for run in series:
        table.add_row(str(run["batch"]), f"{run['seconds']:.2f}", f"{run['peak_rss_mb']:,.0f} MB")
    console.print(table)
    if len(series) > 1:
        growth = series[-1]["seconds"] / series[1]["seconds"]
        console.print(f"last / second batch: {growth:.2f}x (target <= 1.10x)")
    with console.status("Timing the reads over the history..."):
        reads = time_reads(data, env, files)
    title = f"Reads over {batches * rows:,} scored rows (target <= 10 s each)"
    table = Table(title=title, title_justify="left")
    table.add_column("command")
    table.add_column("seconds", justify="right")
    for name, seconds in reads.items():
        table.add_row(name, f"{seconds:.2f}")
    console.print(table)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    record = {"machine": machine(), "rows_per_batch": rows, "ids": ids, "series": series, "reads": reads}
    (out / "history.json").write_text(json.dumps(record, indent=2))
    plot_history(series, rows, ROOT / "docs" / "bench-history.png")
    console.print(f"Results: {out / 'history.json'}; plot: docs/bench-history.png")


def summarise(rows: int, runs: dict[str, list[dict]]) -> dict:
    bare = statistics.median(r["seconds"] for r in runs["bare"])
    flow = statistics.median(r["seconds"] for r in runs["flow"])
    steps = sorted({s for r in runs["flow"] for s in r["steps"]})
    return {
        "rows": rows,
        "runs": len(runs["flow"]),
        "bare_s": bare,
        "flow_s": flow,
        "ratio": flow / bare,
        "flow_rows_per_s": rows / flow,
        "bare_peak_mb": max(r["peak_rss_mb"] for r in runs["bare"]),
        "flow_peak_mb": max(r["peak_rss_mb"] for r in runs["flow"]),
        "flow_rss_before_mb": statistics.median(r["rss_before_mb"] for r in runs["flow"]),
        "steps": {s: statistics.median(r["steps"].get(s, 0.0) for r in runs["flow"]) for s in steps},
        "measurements": runs,
    }


def report(results: list[dict]) -> None:
    table = Table(title=f"score-batches vs bare script (medians; {machine()})", title_justify="left")
    columns = ("rows", "runs", "bare s", "flow s", "ratio", "flow rows/s", "bare peak RSS", "flow peak RSS")
    for name in columns:
        table.add_column(name, justify="right")
    for r in results:
        table.add_row(
            f"{r['rows']:,}",
            str(r["runs"]),
            f"{r['bare_s']:.2f}",
            f"{r['flow_s']:.2f}",
            f"{r['ratio']:.2f}x",
            f"{r['flow_rows_per_s']:,.0f}",
            f"{r['bare_peak_mb']:,.0f} MB",
            f"{r['flow_peak_mb']:,.0f} MB",
        )
    console.print(table)
    steps = Table(
        title="Flow breakdown: busy seconds per step (bins run in parallel, so they overlap)",
        title_justify="left",
    )
    names = sorted({s for r in results for s in r["steps"]})
    steps.add_column("rows", justify="right")
    for name in names:
        steps.add_column(name, justify="right")
    for r in results:
        steps.add_row(f"{r['rows']:,}", *[f"{r['steps'].get(n, 0.0):.2f}" for n in names])
    console.print(steps)
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "latest.json").write_text(json.dumps({"machine": machine(), "results": results}, indent=2))
    plot(results, ROOT / "docs" / "bench-scaling.png")
    console.print(f"Results: {out / 'latest.json'}; plot: docs/bench-scaling.png")


def _figure():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt.subplots(1, 2, figsize=(11, 4))


def _save(fig, axes, target: Path) -> None:
    for axis in axes:
        axis.grid(True, which="both", alpha=0.3)
        axis.legend()
    fig.tight_layout()
    target.parent.mkdir(exist_ok=True)
    fig.savefig(target, dpi=110)


def plot(results: list[dict], target: Path) -> None:
    rows = [r["rows"] for r in results]
    fig, (left, right) = _figure()
    left.loglog(rows, [r["bare_s"] for r in results], "o-", label="bare pandas + scikit-learn")
    left.loglog(rows, [r["flow_s"] for r in results], "s-", label="score-batches flow")
    left.set(xlabel="rows per batch", ylabel="seconds (median)", title="Time")
    right.semilogx(rows, [r["bare_peak_mb"] for r in results], "o-", label="bare")
    right.semilogx(rows, [r["flow_peak_mb"] for r in results], "s-", label="flow")
    right.set(xlabel="rows per batch", ylabel="peak RSS (MB)", title="Memory")
    _save(fig, (left, right), target)


def plot_history(series: list[dict], rows: int, target: Path) -> None:
    """Each batch's time and peak memory against the rows already scored into the home."""
    scored = [(run["batch"] - 1) * rows / 1e6 for run in series]
    fig, (left, right) = _figure()
    seconds = [run["seconds"] for run in series]
    memory = [run["peak_rss_mb"] for run in series]
    left.plot(scored, seconds, "s-", label=f"one {rows:,}-row batch")
    left.set(xlabel="million rows scored before it", ylabel="seconds", title="Time per batch")
    right.plot(scored, memory, "s-", label="peak RSS of its process")
    right.set(xlabel="million rows scored before it", ylabel="MB", title="Memory per batch")
    left.set_ylim(0, max(seconds) * 1.25)
    right.set_ylim(0, max(memory) * 1.25)
    _save(fig, (left, right), target)


if __name__ == "__main__":
    main()
