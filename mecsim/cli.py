"""Command line: ``python -m mecsim run | train | sweep | report | validate | list``.

Bad input (an unknown key, a wrong value, a missing file, an unknown scheduler) prints one
line naming the key and the file and exits with status 2, without a traceback.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from rich.console import Console
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
    console = Console(stderr=True)
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


def summary_table(results, scenario) -> Table:
    """Return the side-by-side table printed at the end of a run.

    Columns: mean model cost per slot, mean realized latency and energy of completed tasks,
    dropped tasks, ratio of the mean cost to ``optimal``'s on the same slots (``*``: the
    optimum was a local-search value with a lower bound, not proven exact, on some slots),
    median decision time, whether the scheduler ran to the end.
    """
    bound = any(r.optimal_exact is False for r in results)
    caption = "* optimal is a bound on some slots (local search)" if bound else None
    table = Table(title=f"{scenario.name}: {scenario.slots} slots, seed {scenario.seed}",
                  caption=caption)
    for col in ("scheduler", "cost/slot", "latency s", "energy J", "drops", "/optimal",
                "decide ms", "done"):
        table.add_column(col, justify="left" if col == "scheduler" else "right")
    for r in results:
        ratio = "-" if r.ratio_to_optimal is None else f"{r.ratio_to_optimal:.4f}"
        if r.ratio_to_optimal is not None and r.optimal_exact is False:
            ratio += "*"
        table.add_row(r.name, _num(r.mean_cost_per_slot), _num(r.mean_realized_latency_s),
                      _num(r.mean_realized_energy_j), str(r.counts.get("dropped", 0)), ratio,
                      _num(r.median_decision_s * 1e3), "yes" if r.complete else "no")
    return table


def _num(value: float) -> str:
    return "-" if value != value else f"{value:.4g}"


if __name__ == "__main__":
    sys.exit(main())
