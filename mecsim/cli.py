"""Command line: ``python -m mecsim run | train | sweep | report | validate | list``.

Bad input (an unknown key, a wrong value, a missing file, an unknown scheduler) prints one
line naming the key and the file and exits with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from mecsim.report import cli as report_cli
from mecsim.sweep import cli as sweep_cli

EXIT_BAD_INPUT = 2
EXIT_SCHEDULER_FAILED = 1
SCENARIO_DIR = Path(__file__).resolve().parent.parent / "scenarios"


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    return args.handler(args)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mecsim", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser("run", help="simulate a scenario with its schedulers")
    run.add_argument("scenario", help="scenario YAML file")
    run.add_argument("--out", help="output folder (default: results/NAME-seedS-TIME)")
    _add_overrides(run)
    run.add_argument("--scheduler", action="append", default=[],
                     help="scheduler to run instead of the scenario's (repeatable)")
    run.add_argument("--seed", type=int, help="scenario seed")
    run.add_argument("--slots", type=int, help="number of decision epochs")
    run.add_argument("--channels", action=argparse.BooleanOptionalAction, default=None,
                     help="write channels.parquet (default: when N*M <= 10000)")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    run.set_defaults(handler=_run)
    train = sub.add_parser("train", help="train a learning scheduler and save it")
    train.add_argument("scenario", help="scenario YAML file")
    train.add_argument("--out", required=True, help="checkpoint file to write")
    train.add_argument("--scheduler", default="dirs",
                       help="scheduler to train (default: dirs; its params come from the "
                            "scenario's entry of that name, if any)")
    train.add_argument("--run-dir", help="run folder (default: CHECKPOINT.run/)")
    _add_overrides(train)
    train.add_argument("--seed", type=int, help="scenario seed")
    train.add_argument("--slots", type=int, help="number of decision epochs")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(handler=_train)
    val = sub.add_parser("validate", help="check a scenario file")
    val.add_argument("scenario")
    _add_overrides(val)
    val.set_defaults(handler=_validate)
    lst = sub.add_parser("list", help="list registered schedulers and shipped scenarios")
    lst.set_defaults(handler=_list)
    report_cli.add_parser(sub)
    sweep_cli.add_parser(sub)
    return parser


def _add_overrides(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a scenario key (repeatable)")


def _load(args):
    from mecsim.config import ScenarioError, load_scenario

    overrides = list(args.overrides)
    if getattr(args, "seed", None) is not None:
        overrides.append(f"seed={args.seed}")
    if getattr(args, "slots", None) is not None:
        overrides.append(f"slots={args.slots}")
    try:
        return load_scenario(args.scenario, overrides)
    except ScenarioError as exc:
        _error(str(exc))
        return None


def _error(message: str) -> None:
    Console(stderr=True, highlight=False).print(f"[bold red]error:[/] {message}", markup=True,
                                                soft_wrap=True)


def _validate(args) -> int:
    scenario = _load(args)
    if scenario is None:
        return EXIT_BAD_INPUT
    print(f"{args.scenario}: valid ({scenario.iotds.count} IoTDs, {scenario.mecs.count} MECs, "
          f"{scenario.slots} slots, schedulers: "
          f"{', '.join(s.name for s in scenario.schedulers)})")
    return 0


def _list(args) -> int:
    from mecsim.registry import registered, spec

    console = Console()
    table = Table(title="schedulers")
    table.add_column("id")
    table.add_column("entry point")
    for name in registered():
        table.add_row(name, str(spec(name).entry_point))
    console.print(table)
    table = Table(title="scenarios")
    table.add_column("file")
    for path in sorted(SCENARIO_DIR.glob("*.yaml")):
        table.add_row(str(path.relative_to(SCENARIO_DIR.parent)))
    console.print(table)
    return 0


def _run(args) -> int:
    from mecsim.config import SchedulerSpec
    from mecsim.engine.interrupt import Interrupted
    from mecsim.engine.runner import run_scenario
    from mecsim.engine.stability import load_line, offered_load
    from mecsim.registry import make, scheduler_class

    scenario = _load(args)
    if scenario is None:
        return EXIT_BAD_INPUT
    specs = scenario.schedulers
    if args.scheduler:
        by_name = {s.name: s for s in scenario.schedulers}
        specs = [by_name.get(name, SchedulerSpec(name=name, params={})) for name in args.scheduler]
    for s in specs:
        try:
            scheduler_class(s.name)
        except ValueError as exc:
            _error(f"{args.scenario}: schedulers: {exc}")
            return EXIT_BAD_INPUT
    out = Path(args.out) if args.out else Path("results") / (
        f"{scenario.name}-seed{scenario.seed}-{time.strftime('%Y%m%d-%H%M%S')}")
    console = Console(stderr=True, highlight=False)
    console.print(load_line(offered_load(scenario)), markup=False, soft_wrap=True)
    progress = _progress(console, args.quiet)
    try:
        with progress:
            results = run_scenario(scenario, out, schedulers=specs, make=make,
                                   channels=args.channels, progress=_ticker(progress))
    except KeyboardInterrupt:
        _error(f"interrupted: finished slots kept in {out} (summary.json says complete: false)")
        return 130
    except Interrupted as exc:
        _error(f"{exc}: finished slots kept in {out} (summary.json says complete: false)")
        return EXIT_SCHEDULER_FAILED
    except Exception as exc:  # noqa: BLE001 - e.g. a full disk: files already closed
        _error(f"{type(exc).__name__}: {exc}; finished slots kept in {out}")
        return EXIT_SCHEDULER_FAILED
    Console(width=max(Console().width, 110)).print(summary_table(results, scenario))
    for r in results:
        if r.stable is False:
            console.print(f"[bold yellow]warning:[/] {r.name}: its backlog grows (unstable); "
                          "its means depend on the run's length", soft_wrap=True)
    print(f"results: {out}")
    failed = [r for r in results if r.error]
    for r in failed:
        _error(r.error)
    return EXIT_SCHEDULER_FAILED if failed else 0


def _train(args) -> int:
    import os

    from mecsim.config import SchedulerSpec
    from mecsim.engine.interrupt import Interrupted
    from mecsim.engine.runner import run_scenario
    from mecsim.registry import make, scheduler_class

    scenario = _load(args)
    if scenario is None:
        return EXIT_BAD_INPUT
    spec = next((s for s in scenario.schedulers if args.scheduler in (s.name, s.label)),
                None) or SchedulerSpec(name=args.scheduler, params={})
    try:
        scheduler_class(spec.name)
    except ValueError as exc:
        _error(f"{args.scenario}: schedulers: {exc}")
        return EXIT_BAD_INPUT
    out = Path(args.out)
    run_dir = Path(args.run_dir) if args.run_dir else out.with_name(out.name + ".run")
    progress = _progress(Console(stderr=True), args.quiet)
    try:
        with progress:
            result, = run_scenario(scenario, run_dir, schedulers=[spec], make=make,
                                   channels=False, progress=_ticker(progress))
    except (KeyboardInterrupt, Interrupted) as exc:
        why = str(exc) or "interrupted"
        _error(f"{why}: nothing saved to {out}; the run so far is in {run_dir}")
        return 130 if isinstance(exc, KeyboardInterrupt) else EXIT_SCHEDULER_FAILED
    if result.error or result.scheduler is None:
        _error(result.error or f"{spec.label}: not trained")
        return EXIT_SCHEDULER_FAILED
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    result.scheduler.save(tmp)
    os.replace(tmp, out)
    phase = getattr(result.scheduler, "phase", None)
    print(f"saved {spec.label} to {out} after {result.slots} slots "
          f"({result.wall_s:.1f} s{', phase ' + phase if phase else ''}); run: {run_dir}")
    return 0


class _TasksPerSecond(ProgressColumn):
    def render(self, task) -> Text:
        rate = task.fields.get("tasks", 0) / task.elapsed if task.elapsed else 0.0
        return Text(f"{rate:,.0f} tasks/s", style="cyan")


def _progress(console: Console, quiet: bool) -> Progress:
    return Progress(TextColumn("{task.description:<12}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("slots"), _TasksPerSecond(), TimeRemainingColumn(),
                    console=console, disable=quiet, transient=False)


def _ticker(progress: Progress):
    def start(name: str, total: int):
        task = progress.add_task(name, total=total, tasks=0)
        count = [0]

        def tick(slot: int, tasks: int) -> None:
            count[0] += tasks
            progress.update(task, completed=slot + 1, tasks=count[0])
        return tick
    return start


#: The end table's caption: what its labels mean.
TABLE_CAPTION = (
    "realized: simulated, cost = phi_T latency + phi_E energy per completed task; latency "
    "quantiles of completed tasks. in-flt: tasks still in flight at the end (share, mean "
    "age). lower bound: the mean cost of completed and in-flight tasks, these counted at "
    "their age and energy so far (their final cost can only be higher). per-slot model: the "
    "spec's objective of each epoch's decisions, from the model, not simulated. ×: ratio to "
    "optimal's figure. stable NO: the backlog grows over the second half of the run, so its "
    "means have not converged; ?: too short to tell.")
_COLUMNS = (  # (header, the result's field, how it is shown, ratio key or None)
    ("realized\ncost/task", "realized_cost_per_task", "num", "realized_cost_per_task"),
    ("lower\nbound", "realized_cost_lower_bound", "num", "realized_cost_lower_bound"),
    ("latency\np50 s", "latency_p50_s", "num", "latency_p50_s"),
    ("\np95 s", "latency_p95_s", "num", "latency_p95_s"),
    ("\np99 s", "latency_p99_s", "num", "latency_p99_s"),
    ("drops\n%", "drop_rate", "pct", "drop_rate"),
    ("in-flt\n%", "in_flight_share", "pct", "in_flight_share"),
    ("in-flt\nage s", "in_flight_mean_age_s", "num", "in_flight_mean_age_s"),
    ("per-slot\nmodel", "mean_cost_per_slot", "num", None),
)


def summary_table(results, scenario) -> Table:
    """Return the side-by-side table printed at the end of a run.

    Realized figures first (cost per completed task, its lower bound counting in-flight
    tasks, latency quantiles, drops, tasks in flight and their mean age), then the per-slot
    model cost, the median decision time, stability and whether the scheduler ran to the
    end. Where ``optimal`` ran, a second line under each figure gives its ratio to
    ``optimal``'s (``*`` on the model ratio: the optimum was a local-search value with a
    lower bound, not proven exact, on some slots). The caption says what the labels mean.
    """
    from mecsim.engine.stability import offered_load

    load = offered_load(scenario)
    caption = TABLE_CAPTION
    if any(r.optimal_exact is False for r in results):
        caption += " *: optimal is a bound on some slots (local search)."
    table = Table(title=f"{scenario.name}: {scenario.slots} slots, seed {scenario.seed}; "
                        f"offered load: local CPU {load['local']:.3g}, MEC pool "
                        f"{load['mec_pool']:.3g}", caption=caption, caption_justify="left",
                  box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    table.add_column("scheduler", justify="left")
    for header, *_ in _COLUMNS:
        table.add_column(header, justify="right")
    for header in ("decide\nms", "stable", "done"):
        table.add_column(header, justify="right")
    ratios = any(r.ratio_to_optimal is not None for r in results)
    for r in results:
        table.add_row(escape(r.name), *_figure_cells(r, ratios), _short(r.median_decision_s * 1e3),
                      _stable(r.stable), "yes" if r.complete else "[bold red]no[/]")
    return table


def _figure_cells(result, ratios: bool) -> list[str]:
    """One cell per figure column: the value, and its ratio to optimal's on a second line."""
    realized = result.realized_ratio_to_optimal or {}
    cells = []
    for _, key, kind, ratio_key in _COLUMNS:
        value = getattr(result, key)
        text = _short(value) if kind == "num" else _pct(value)
        if ratios:
            ratio = realized.get(ratio_key) if ratio_key else result.ratio_to_optimal
            mark = "*" if ratio_key is None and ratio is not None and \
                result.optimal_exact is False else ""
            text += "\n[dim]" + ("" if ratio is None else f"×{ratio:.3g}{mark}") + "[/]"
        cells.append(text)
    return cells


def _stable(stable: bool | None) -> str:
    return "?" if stable is None else ("yes" if stable else "[bold red]NO[/]")


def _short(value: float) -> str:
    return "-" if value != value else f"{value:.3g}"


def _pct(share: float) -> str:
    return "-" if share != share else f"{100.0 * share:.3g}"


if __name__ == "__main__":
    sys.exit(main())
