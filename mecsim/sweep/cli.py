"""``python -m mecsim sweep SWEEP.yaml``: run a sweep's cells, resumably, locally or on Ray.

Exit status: 0 every cell done; 1 some cell failed (reported, the others ran); 2 bad
input (an invalid sweep file, an unknown key, Ray missing or unreachable) with one line and
no traceback; 130 interrupted (the finished cells are kept; the next call resumes).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from rich.console import Console

EXIT_BAD_INPUT = 2
EXIT_CELL_FAILED = 1
EXIT_INTERRUPTED = 130


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``sweep`` command to ``subparsers`` (an ``add_subparsers()`` result)."""
    from mecsim.sweep.spec import QUICK_SLOTS

    sweep = subparsers.add_parser(
        "sweep", help="run a grid of scenarios x seeds (resumable; local or Ray)",
        description="Run every cell (grid point x seed) of a sweep file not done yet in OUT, "
                    "then rebuild OUT/sweep.parquet.")
    sweep.add_argument("sweep", metavar="SWEEP.yaml", help="sweep file")
    sweep.add_argument("--out", help="sweep folder (default: results/sweeps/<file stem>); "
                                     "a second call with the same folder resumes")
    sweep.add_argument("--executor", choices=("local", "ray"), default="local",
                       help="local: a process pool on this machine (default); ray: Ray tasks")
    sweep.add_argument("--address", help="Ray cluster address (default: a local Ray instance)")
    sweep.add_argument("--workers", type=int,
                       help="cells run at once (default: the CPU count; Ray: its CPUs)")
    sweep.add_argument("--quick", action="store_true",
                       help="a fast, coarse first look: each grid key keeps every other value "
                            "(the 1st, 3rd, 5th, ... and always the last), every cell runs at "
                            f"most {QUICK_SLOTS} slots, seeds unchanged; default --out "
                            "results/sweeps/<file stem>-quick")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")
    sweep.set_defaults(handler=run_command)
    return sweep


def main(argv: list[str] | None = None) -> int:
    """Run ``sweep`` with ``argv`` (the arguments after the word ``sweep``)."""
    parser = argparse.ArgumentParser(prog="mecsim")
    add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["sweep", *(argv if argv is not None else [])])
    return args.handler(args)


def _error(message: str) -> None:
    from rich.markup import escape

    console = Console(stderr=True, highlight=False, emoji=False)  # ":X:" stays text
    for line in message.splitlines():
        console.print(f"[bold red]error:[/] {escape(line)}", markup=True, soft_wrap=True)


def run_command(args: argparse.Namespace) -> int:
    """Handler of ``sweep``: load and validate, run the cells, report; return the status."""
    from rich.markup import escape

    from mecsim.config import ScenarioError
    from mecsim.engine.interrupt import Interrupted
    from mecsim.sweep.executors import ExecutorError
    from mecsim.sweep.run import CELLS, cell_done, default_out_dir, run_sweep
    from mecsim.sweep.spec import load_sweep

    quick = getattr(args, "quick", False)
    try:
        sweep = load_sweep(args.sweep, quick=quick)
    except ScenarioError as exc:
        _error(str(exc))
        return EXIT_BAD_INPUT
    out = args.out or default_out_dir(sweep)
    if quick and not args.out:
        out = Path(out).with_name(f"{sweep.name}-quick")
    console = Console(stderr=True, highlight=False)
    if quick:
        slots = sorted({c.scenario.slots for c in sweep.cells})
        console.print(f"quick: {len(sweep.cells)} cells ("
                      + ", ".join(f"{k}: {len(v)} values" for k, v in sweep.spec.grid.items())
                      + f"), {'/'.join(map(str, slots)) or '-'} slots; out {out}",
                      soft_wrap=True, markup=False)
    started = time.perf_counter()
    try:
        result = run_sweep(sweep, out, executor=args.executor, address=args.address,
                           workers=args.workers, progress=not args.quiet, console=console)
    except ExecutorError as exc:
        _error(str(exc))
        return EXIT_BAD_INPUT
    except (KeyboardInterrupt, Interrupted) as exc:
        done = sum(cell_done(Path(out) / CELLS / c.id, c) for c in sweep.cells)
        why = str(exc) if isinstance(exc, Interrupted) else "interrupted"
        _error(f"{why}: {done} of {len(sweep.cells)} cells done, kept in {out}; run the same "
               "command again to resume")
        return EXIT_INTERRUPTED
    for record in result.failed:
        console.print(f"[bold red]failed:[/] {escape(record.cell)}: {escape(record.error or '')}",
                      soft_wrap=True)
    if result.table is not None and Path(result.table).exists():
        summary = results_table(Path(result.table), list(sweep.spec.grid))
        if summary is not None:
            _print_table(summary)
    total = len(sweep.cells)
    print(f"{total} cells: {len(result.ran) - len(result.failed)} run, "
          f"{len(result.skipped)} already done, {len(result.failed)} failed "
          f"({time.perf_counter() - started:.1f} s); table: {result.table}")
    return EXIT_CELL_FAILED if result.failed else 0


#: The end table's figures: (column of sweep.parquet, header, format, scale).
TABLE_COLUMNS = (("realized_cost_per_task", "cost/\ntask", "{:.4g}", 1.0),
                 ("realized_cost_per_task_ratio_to_optimal", "×\noptimal", "{:.4g}", 1.0),
                 ("mean_realized_latency_s", "latency\nmean s", "{:.4g}", 1.0),
                 ("latency_p95_s", "\np95 s", "{:.4g}", 1.0),
                 ("drop_rate", "drops\n%", "{:.3g}", 100.0),
                 ("offload_share", "offload\n%", "{:.3g}", 100.0))
#: Rows the end table shows at most; the rest are counted in its caption.
MAX_ROWS = 40


def results_table(path: Path, keys: list[str], max_rows: int = MAX_ROWS):
    """The sweep's end table: per grid point and scheduler, means over the seeds.

    Rows in run order: the order in which each (grid point, scheduler) first appears in
    ``sweep.parquet``, which is the sweep's cell order (the grid as written) and, within a
    cell, the schedulers' order; never sorted. Columns: each grid key, the scheduler,
    ``seeds`` (how many seeds completed: the means are over these), then the means of
    realized cost per completed task, its ratio to ``optimal``'s (each seed's ratio,
    averaged), mean and p95 realized latency, drop rate and offloaded share (%), and
    ``stable``: how many of the seeds whose stability was judged had a stable run (``?``:
    none judged, the runs were too short). A column missing from ``sweep.parquet`` is left
    out. Failed cells are left out. At most ``max_rows`` rows; the caption says how many
    more there are and that the full table is ``sweep.parquet``.

    Args:
        path: ``OUT/sweep.parquet``.
        keys: The grid keys (columns of the table).
        max_rows: Rows shown at most.

    Returns:
        A rich ``Table``, or None when ``sweep.parquet`` has no complete row.
    """
    import pandas as pd
    from rich.table import Table

    df = pd.read_parquet(path)
    if "complete" in df.columns:
        df = df[df["complete"].fillna(False).astype(bool)]
    if df.empty:
        return None
    keys = [k for k in keys if k in df.columns]
    columns = [c for c in TABLE_COLUMNS if c[0] in df.columns]
    groups = list(df.groupby([*keys, "scheduler"], sort=False, dropna=False))
    shown = groups[:max(0, max_rows)]
    caption = f"full table: {path}"
    if len(groups) > len(shown):
        caption = f"{len(groups) - len(shown)} more rows not shown; " + caption
    table = Table(title=f"{path.parent.name}: means over seeds", caption=caption,
                  caption_justify="left", box=None, header_style="bold")
    for key in keys:
        table.add_column(key, justify="right", no_wrap=True)
    table.add_column("scheduler", no_wrap=True)
    table.add_column("seeds", justify="right")
    for _, header, _, _ in columns:
        table.add_column(header, justify="right")
    table.add_column("stable", justify="right")
    for values, part in shown:
        table.add_row(*_row(values, part, columns))
    return table


def _print_table(table) -> None:
    """Print the end table on stdout, never squeezed where stdout is not a terminal.

    A terminal gets rich's fitting to its width; a file or a pipe (80 columns to rich)
    gets the table's full width, so that no name or number is cut.
    """
    console = Console(highlight=False)
    if not console.is_terminal:
        wide = console.measure(table, options=console.options.update_width(10_000))
        console = Console(highlight=False, width=max(80, wide.maximum))
    console.print(table)


def _row(values: tuple, part, columns) -> list[str]:
    """One row of the end table: the group's grid values, scheduler, seeds and means."""
    import pandas as pd

    cells = [str(v) for v in values]
    cells.append(str(part["seed"].nunique() if "seed" in part.columns else len(part)))
    for column, _, fmt, scale in columns:
        mean = pd.to_numeric(part[column], errors="coerce").mean()
        cells.append("-" if pd.isna(mean) else fmt.format(mean * scale))
    judged = [f for f in part.get("stable", pd.Series(dtype=object)).tolist()
              if f is not None and f == f]
    cells.append(f"{sum(bool(f) for f in judged)}/{len(judged)}" if judged else "?")
    return cells
