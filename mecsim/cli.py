"""Command line: ``python -m mecsim run | train | sweep | report | validate | list``.

Bad input (an unknown key, a wrong value, a missing file, an unknown scheduler) prints one
line naming the key and the file and exits with status 2, without a traceback; so does a
refused output folder (a file, not writable, not empty without ``--force``, a ``--resume``
with other options). A failure during a run exits with 1, Ctrl-C with 130.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
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

EXIT_BAD_INPUT = 2
EXIT_SCHEDULER_FAILED = 1
EXIT_INTERRUPTED = 130
# Commands whose parsers need neither mecsim.sweep nor mecsim.report (see _parser)
_OWN_COMMANDS = ("run", "train", "validate", "list")


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = _parser(argv)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_BAD_INPUT
    return args.handler(args)


def console_main() -> int:
    """``mecsim`` and ``python -m mecsim``: :func:`main`, then an exit no Ctrl-C can garble.

    Once the command is over (finished or interrupted, its files on disk), a late Ctrl-C
    (the second of two pressed quickly) is ignored, so that it cannot raise
    ``KeyboardInterrupt`` inside the interpreter's shutdown (``threading._shutdown`` and
    ``atexit`` hooks) and print a traceback. A Ctrl-C that escapes :func:`main` exits 130.
    """
    try:
        try:
            return main()
        finally:
            signal.signal(signal.SIGINT, signal.SIG_IGN)
    except KeyboardInterrupt:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        return EXIT_INTERRUPTED


#: The ``scenario`` argument's help (``run``, ``train``, ``validate``).
SCENARIO_HELP = ("scenario YAML file, or a built-in scenario's name (tiny, paper, dense_100, ...: "
                 "'mecsim list'); an existing file wins over a name")


def _parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The ``mecsim`` parser.

    Args:
        argv: The command line; when its command is one of ``_OWN_COMMANDS`` the parser
            has no ``sweep`` and ``report`` commands, whose parsers import their packages
            (``mecsim.sweep.spec``'s pydantic models). None: every command.
    """
    from mecsim import __version__

    parser = argparse.ArgumentParser(
        prog="mecsim", description="mecsim: a discrete-event simulator of mobile-edge-computing "
        "networks with pluggable schedulers. Commands: run, train, sweep, report, validate, "
        "list; 'mecsim COMMAND --help' for each.")
    parser.add_argument("--version", action="version", version=f"mecsim {__version__}")
    sub = parser.add_subparsers(dest="command")
    run = sub.add_parser(
        "run", help="simulate a scenario with its schedulers",
        description="Simulate SCENARIO with each of its schedulers on the same world (common "
        "random numbers), print the offered load and a side-by-side table, and write the run "
        "folder (summary.json, slots/tasks/channels tables). Exit 0 success, 1 a failure "
        "during the run, 2 bad input, 130 interrupted.")
    run.add_argument("scenario", help=SCENARIO_HELP)
    run.add_argument("--out", help="output folder, new or empty (default: "
                                   "results/NAME-seedS-TIME)")
    run.add_argument("--force", action="store_true",
                     help="replace the run already in --out (its files are deleted first)")
    run.add_argument("--resume", metavar="DIR",
                     help="finish the run in DIR: keep its complete schedulers, run the others "
                          "(same scenario and options as that run)")
    _add_overrides(run)
    run.add_argument("--scheduler", action="append", default=[],
                     help="scheduler to run instead of the scenario's (repeatable); "
                          "sb3:PATH.zip runs a trained Stable-Baselines3 policy")
    run.add_argument("--checkpoint", action="append", default=[], metavar="[LABEL=]PATH",
                     help="evaluate a trained checkpoint frozen (repeatable): sets "
                          "checkpoint: PATH (and train: false where it takes one) on the "
                          "scheduler LABEL (label or name), or without LABEL on the run's "
                          "only learning scheduler (or the one the checkpoint was trained "
                          "as, added to the run)")
    run.add_argument("--seed", type=int, help="scenario seed")
    run.add_argument("--slots", type=int, help="number of decision epochs")
    run.add_argument("--channels", action=argparse.BooleanOptionalAction, default=None,
                     help="write channels.parquet (default: when N*M <= 10000)")
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    run.add_argument("--workers", type=_workers_arg, default="auto", metavar="N|auto",
                     help="schedulers simulated at once, each in a worker process; the results "
                          "are the same (default auto: one per CPU, at most one per scheduler, "
                          "as many as fit in memory; 1: one after the other)")
    run.set_defaults(handler=_run)
    train = sub.add_parser(
        "train", help="train a learning scheduler and save it",
        description="Train a learning scheduler (DIRS by default) on the training world of "
        "SCENARIO (a world seed derived from the scenario seed, never the one run simulates) "
        "and save its checkpoint to --out, with its training log and OUT.meta.json (seeds, "
        "slots, whether the schedule finished). Evaluate it frozen with run --checkpoint.")
    train.add_argument("scenario", help=SCENARIO_HELP)
    train.add_argument("--out", required=True, help="checkpoint file to write")
    train.add_argument("--scheduler", default="dirs",
                       help="scheduler to train (default: dirs; its params come from the "
                            "scenario's entry of that name, if any)")
    train.add_argument("--run-dir", help="run folder (default: CHECKPOINT.run/)")
    _add_overrides(train)
    train.add_argument("--seed", type=int, help="scenario seed (training runs on the world "
                                                "seed derived from it)")
    train.add_argument("--slots", type=int, help="number of decision epochs (default: the "
                       "scheduler's whole training schedule plus 5 %%, where it says; else "
                       "the scenario's)")
    train.add_argument("--quiet", action="store_true", help="no progress bar")
    train.set_defaults(handler=_train)
    val = sub.add_parser(
        "validate", help="check a scenario file",
        description="Check SCENARIO (with --set overrides): every key, unit and range, the "
        "schedulers and their parameters; print the run's memory and time estimate. Exit 0 "
        "when valid, 2 otherwise.")
    val.add_argument("scenario", help=SCENARIO_HELP)
    _add_overrides(val)
    val.set_defaults(handler=_validate)
    lst = sub.add_parser(
        "list", help="list registered schedulers and shipped scenarios",
        description="List the registered schedulers (built-in and entry points) and the "
        "built-in scenarios (the files of scenarios/, shipped in the package too), which "
        "run, train and validate take by name: 'mecsim run tiny'.")
    lst.set_defaults(handler=_list)
    command = next((a for a in argv or () if not a.startswith("-")), None)
    if command not in _OWN_COMMANDS:
        from mecsim.report import cli as report_cli
        from mecsim.sweep import cli as sweep_cli

        report_cli.add_parser(sub)
        sweep_cli.add_parser(sub)
    return parser


def _workers_arg(text: str) -> int | str:
    """``--workers``'s value: ``auto`` or a whole number of at least 1."""
    if text == "auto":
        return text
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1 or 'auto', not {text!r}")
    return value


def _add_overrides(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="override a scenario key (repeatable)")


def _load(args):
    from mecsim.config import ScenarioError, load_scenario
    from mecsim.scenario_files import resolve_scenario

    overrides = list(args.overrides)
    if getattr(args, "seed", None) is not None:
        overrides.append(f"seed={args.seed}")
    if getattr(args, "slots", None) is not None:
        overrides.append(f"slots={args.slots}")
    try:
        return load_scenario(resolve_scenario(args.scenario), overrides)
    except ScenarioError as exc:
        _error(str(exc))
        return None


def _error(message: str) -> None:
    console = Console(stderr=True, highlight=False, emoji=False)  # ":X:" stays text
    for line in str(message).splitlines() or [""]:  # the text is never read as markup
        console.print(f"[bold red]error:[/] {escape(line)}", markup=True, soft_wrap=True)


def _warning(message: str) -> None:
    Console(stderr=True, highlight=False, emoji=False).print(
        f"[bold yellow]warning:[/] {escape(message)}", markup=True, soft_wrap=True)


def _chosen_schedulers(args, scenario) -> tuple[list, list[str]]:
    """The specs a command runs (``--scheduler`` picks by name) and each one's key path."""
    names = getattr(args, "scheduler", None)
    if not names or isinstance(names, str):
        return list(scenario.schedulers), [f"schedulers.{k}" for k in
                                           range(len(scenario.schedulers))]
    index = {s.name: k for k, s in enumerate(scenario.schedulers)}
    specs = [scenario.schedulers[index[n]] if n in index else _named_spec(n) for n in names]
    where = [f"schedulers.{index[n]}" if n in index else f"--scheduler {n}" for n in names]
    return specs, where


def _run_specs(args, scenario) -> tuple[list, list[str]]:
    """The specs a command runs and their key paths, ``--checkpoint`` applied.

    Raises:
        mecsim.preflight.PreflightError: When a ``--checkpoint`` names no scheduler of the
            run, a scheduler that does not learn, or one already given a checkpoint.
    """
    from mecsim.preflight import PreflightError

    specs, where = _chosen_schedulers(args, scenario)
    given: dict[int, str] = {}
    for item in getattr(args, "checkpoint", None) or []:
        k = _checkpoint_target(item, specs, where)
        if k in given:
            raise PreflightError(f"--checkpoint {item}: {specs[k].label} already gets "
                                 f"--checkpoint {given[k]}")
        given[k] = item
        spec = specs[k]
        params = {**spec.params, "checkpoint": _checkpoint_arg(item)[1]}
        if _takes_train(spec.name):  # frozen where the learner has a train switch
            params["train"] = False
        specs[k] = type(spec)(name=spec.name, params=params, label=spec.label)
    return specs, where


def _checkpoint_arg(item: str) -> tuple[str | None, str]:
    """``LABEL=PATH`` or ``PATH`` (a ``=`` after a path separator belongs to the path)."""
    label, sep, path = item.partition("=")
    if sep and label and "/" not in label and os.sep not in label:
        return label, path
    return None, item


def _checkpoint_target(item: str, specs: list, where: list[str]) -> int:
    """The index of the spec that ``--checkpoint ITEM`` loads into (appended if needed).

    With ``LABEL=``, the run's scheduler of that label (or, failing that, the only one of
    that name); without, the run's only learning scheduler. Where there is none, the
    scheduler the checkpoint was trained as (its sidecar, :func:`mecsim.training.read_meta`,
    else the scheduler named ``LABEL``) is added to the run with its training params,
    labelled ``LABEL`` if given: ``--checkpoint a=A.pt --checkpoint b=B.pt`` compares two.
    """
    from mecsim.config import SchedulerSpec
    from mecsim.preflight import PreflightError
    from mecsim.training import read_meta

    label, path = _checkpoint_arg(item)
    option = f"--checkpoint {item}"
    if not path:
        raise PreflightError(f"{option}: no file given ([LABEL=]PATH)")
    if label is not None:
        hits = [k for k, s in enumerate(specs) if s.label == label]
        hits = hits or [k for k, s in enumerate(specs) if s.name == label]
        what = f"named {label}"
    else:
        hits = [k for k, s in enumerate(specs) if _learns_name(s.name)]
        what = "that learn"
    if len(hits) > 1:
        raise PreflightError(f"{option}: the run has several schedulers {what} "
                             f"({', '.join(specs[k].label for k in hits)}); say which: "
                             f"--checkpoint LABEL={path}")
    if hits:
        k = hits[0]
    else:
        meta = (read_meta(path) or {}).get("scheduler") or {}
        name = meta.get("name") or label
        if not name:
            raise PreflightError(f"{option}: the run has no learning scheduler and the "
                                 f"checkpoint has no sidecar ({Path(path).name}.meta.json) "
                                 "naming one; add it with --scheduler NAME")
        params = dict(meta.get("params") or {}) if meta.get("name") else {}
        specs.append(SchedulerSpec(name=name, params=params,
                                   label=label or meta.get("label") or name))
        where.append(option)
        k = len(specs) - 1
    if not _learns_name(specs[k].name):
        raise PreflightError(f"{option}: {specs[k].label} does not learn; it has no "
                             "checkpoint to load")
    return k


def _takes_train(name: str) -> bool:
    """Whether the scheduler ``name``'s constructor takes ``train`` (False if unresolved)."""
    from mecsim.registry import accepts_param

    try:
        return accepts_param(name, "train")
    except ValueError:
        return False


def _learns_name(name: str) -> bool:
    """Whether the scheduler registered as ``name`` learns (False when it cannot load).

    Raises:
        mecsim.preflight.PreflightError: When its module needs an extra that is not
            installed (a learner without torch): it may learn, so that is what is said.
    """
    from mecsim.preflight import PreflightError
    from mecsim.registry import MissingExtraError, scheduler_class

    try:
        return learns(scheduler_class(name))
    except MissingExtraError as exc:
        raise PreflightError(str(exc)) from None
    except ValueError:
        return False


def _named_spec(name: str):
    """The spec of ``--scheduler NAME``: ``sb3:PATH`` is the policy scheduler on PATH.

    Its label is ``sb3:`` and the file's name (labels name result parts: no ``/``).
    """
    from mecsim.config import MAX_NAME_CHARS, SchedulerSpec
    from mecsim.registry import SB3_PREFIX, sb3_entry_point, sb3_policy_path

    path = sb3_policy_path(name)
    if path is None:
        try:
            return SchedulerSpec(name=name, params={})
        except ValueError:  # reported by name where the scheduler is looked up
            return SchedulerSpec.model_construct(name=name, params={}, label=name)
    label = (SB3_PREFIX + Path(path).name)[:MAX_NAME_CHARS]
    return SchedulerSpec(name=sb3_entry_point(path), params={"path": path}, label=label)


def _preflight(args, scenario):
    """Check a loaded scenario before it runs; its estimate, or None when refused (printed).

    The schedulers must resolve and accept their params, and the run's estimated memory
    must fit this machine (:mod:`mecsim.preflight`); a run estimated to take over an hour
    gets a one-line warning. The estimate's ``workers`` is the run's ``--workers``.
    """
    if scenario is None:
        return None
    estimate = _estimate(args, scenario)
    if estimate is None:
        return None
    if estimate.long:
        _warning(f"{args.scenario}: {estimate.warning()}")
    return estimate


def _estimate(args, scenario):
    """The run's :class:`mecsim.preflight.Estimate`, or None when refused (printed)."""
    from mecsim.preflight import PreflightError, auto_workers, check_schedulers, preflight

    try:
        specs, where = _run_specs(args, scenario)
        check_schedulers(specs, where, scenario)
        workers = getattr(args, "workers", "auto")  # validate: what run would do by default
        workers = auto_workers(scenario, specs) if workers == "auto" else workers
        return preflight(scenario, specs, workers=workers)
    except PreflightError as exc:
        _error(f"{args.scenario}: {exc}")
        return None


def _validate(args) -> int:
    """Check a scenario as ``run`` would, without running: keys, schedulers, memory.

    Prints ``valid (...)`` and the run's estimate; exits 2 on anything ``run`` would refuse.
    """
    scenario = _load(args)
    estimate = None if scenario is None else _estimate(args, scenario)
    if estimate is None:
        return EXIT_BAD_INPUT
    print(f"{args.scenario}: valid ({scenario.iotds.count} IoTDs, {scenario.mecs.count} MECs, "
          f"{scenario.slots} slots, schedulers: "
          f"{', '.join(s.name for s in scenario.schedulers)})")
    print(f"{args.scenario}: {estimate.line()}")
    if estimate.long:
        _warning(f"{args.scenario}: {estimate.warning()}")
    return 0


def _list(args) -> int:
    from mecsim.registry import registered, spec

    console = Console()
    table = Table(title="schedulers")
    table.add_column("id")
    table.add_column("entry point")
    table.add_column("needs")
    for name in registered():
        table.add_row(name, str(spec(name).entry_point), _needs(name))
    console.print(table)
    console.print(_scenario_table())
    return 0


def _needs(name: str) -> str:
    """The ``needs`` cell of ``list``: ``learn extra`` for a scheduler that needs one.

    ``, not installed`` is added where a module of that extra is missing (found without
    importing it); empty for a scheduler that needs no extra.
    """
    import importlib.util

    from mecsim.registry import EXTRA_OF_MODULE, extra

    wanted = extra(name)
    if wanted is None:
        return ""
    modules = [m for m, e in EXTRA_OF_MODULE.items() if e == wanted]
    missing = any(importlib.util.find_spec(m) is None for m in modules)
    return f"{wanted} extra" + (", not installed" if missing else "")


def _scenario_table():
    """The built-in scenarios: name, file and first comment line; the folder in the caption."""
    from mecsim.scenario_files import builtin_dir, builtin_scenarios, describe

    found = builtin_scenarios()
    if not found:
        return Text("scenarios: no built-in scenario files found (this installation ships "
                    "none); give a scenario file's path")
    caption = (f"files in {escape(str(builtin_dir()))}; run one by name ('mecsim run "
               f"{next(iter(found))}') or copy one to edit it")
    table = Table(title="scenarios", caption=caption, caption_justify="left")
    table.add_column("name")
    table.add_column("file")
    table.add_column("what it is")
    for name, path in found.items():
        table.add_row(name, escape(path.name), escape(describe(path)))
    return table


def _run(args) -> int:
    from mecsim.engine.interrupt import Interrupted
    from mecsim.engine.runner import run_scenario
    from mecsim.engine.stability import load_line, offered_load
    from mecsim.registry import make, scheduler_class

    scenario = _load(args)
    estimate = _preflight(args, scenario)  # schedulers, memory and time; None if refused
    if estimate is None:
        return EXIT_BAD_INPUT
    specs, _ = _run_specs(args, scenario)  # checked by the preflight: cannot fail now
    _checkpoint_warnings(args, scenario, specs)
    for s in specs:
        try:
            scheduler_class(s.name)
        except ValueError as exc:
            _error(f"{args.scenario}: schedulers: {exc}")
            return EXIT_BAD_INPUT
    out, problem = _output_folder(args, scenario, specs)
    if problem:
        _error(problem)
        return EXIT_BAD_INPUT
    console = Console(stderr=True, highlight=False)
    console.print(load_line(offered_load(scenario)), markup=False, soft_wrap=True)
    if args.resume:
        console.print(_resume_line(out, specs), markup=False, soft_wrap=True)
    progress = _progress(console, args.quiet)
    kept = (f"the slots written so far are in {out} (summary.json counts them); "
            f"--resume {out} finishes the run")
    try:
        with progress:
            results = run_scenario(scenario, out, schedulers=specs, make=make,
                                   channels=args.channels, progress=_ticker(progress),
                                   resume=bool(args.resume), workers=estimate.workers)
    except KeyboardInterrupt:
        with _ctrl_c_ignored():  # a second Ctrl-C must not turn this into a traceback
            _error(f"interrupted: {kept}")
        return EXIT_INTERRUPTED
    except Interrupted as exc:
        _error(f"{exc}: {kept}")
        return EXIT_SCHEDULER_FAILED
    except Exception as exc:  # noqa: BLE001 - e.g. a full disk: the last commit stands
        _error(f"{type(exc).__name__}: {exc}; {kept}")
        return EXIT_SCHEDULER_FAILED
    with _ctrl_c_ignored():  # the run is over and on disk: print its table whole
        return _print_results(results, scenario, console, out)


def _checkpoint_warnings(args, scenario, specs) -> None:
    """Warn about checkpoints whose sidecar tells of a doubtful evaluation.

    Trained on this run's very world (seed), or saved before its training schedule
    finished (:func:`mecsim.training.read_meta`).
    """
    from mecsim.training import read_meta

    for spec in specs:
        path = spec.params.get("checkpoint")
        meta = read_meta(path) if path else None
        if not meta:
            continue
        if meta.get("training_world_seed") == scenario.seed:
            _warning(f"{spec.label}: {path} was trained on world seed {scenario.seed}, this "
                     "run's: it is evaluated on its own training world (use another --seed)")
        if meta.get("finished") is False:
            _warning(f"{spec.label}: {path} was saved before its training schedule finished "
                     f"({meta.get('slots')} slots of about {meta.get('slots_needed')})")


def _print_results(results, scenario, console: Console, out: Path) -> int:
    """Print the end table, warnings and errors; return the exit status."""
    Console(width=max(Console().width, 110)).print(summary_table(results, scenario))
    for r in results:
        if r.training_slots:
            console.print(f"[bold yellow]note:[/] {escape(r.name)} (online): still learning "
                          f"on {r.training_slots} of {r.slots} slots; its figures are its "
                          "training's, not its policy's (evaluate it frozen: mecsim train, "
                          "then run --checkpoint)", soft_wrap=True)
        if r.stable is False:
            console.print(f"[bold yellow]warning:[/] {r.name}: its backlog grows (unstable); "
                          "its means depend on the run's length", soft_wrap=True)
    print(f"results: {out}")
    failed = [r for r in results if r.error]
    for r in failed:
        _error(r.error)
    return EXIT_SCHEDULER_FAILED if failed else 0


@contextmanager
def _ctrl_c_ignored() -> Iterator[None]:
    """Ignore Ctrl-C during the block (main thread only): the last messages of a run."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler if previous is None
                      else previous)


#: Files a run folder holds besides its tables (``--force`` empties only run folders).
RUN_FILES = ("scenario.yaml", "summary.json", "report.html", "error.txt")


def _output_folder(args, scenario, specs) -> tuple[Path, str | None]:
    """The run's folder, ready to write; or the one-line reason it cannot be used."""
    if args.resume:
        out = Path(args.resume)
        if args.out and Path(args.out).resolve() != out.resolve():
            return out, f"--out {args.out} and --resume {args.resume} name different folders"
        if args.force:
            return out, "--force replaces a run and --resume finishes one: give only one"
        problem = _resume_problem(out, scenario, specs, args.channels)
    elif args.out:
        out = Path(args.out)
        problem = _fresh_problem(out, args.force)
    else:
        return _default_folder(scenario)
    return out, problem or _unwritable(out, "--resume" if args.resume else "--out")


def _default_folder(scenario) -> tuple[Path, str | None]:
    """A new folder ``results/NAME-seedS-TIME``, ``-2``, ``-3``... if that one exists."""
    base = Path("results") / (
        f"{scenario.name}-seed{scenario.seed}-{time.strftime('%Y%m%d-%H%M%S')}")
    for n in range(1, 10_000):
        out = base if n == 1 else base.with_name(f"{base.name}-{n}")
        try:
            out.mkdir(parents=True)
            return out, None
        except FileExistsError:
            continue
        except OSError as exc:
            return out, f"cannot create the output folder {out}: {exc.strerror or exc}"
    return base, f"cannot find a free folder name next to {base}"


def _fresh_problem(out: Path, force: bool) -> str | None:
    """Why ``--out`` cannot take a new run (a file; a run there, without ``--force``)."""
    if out.exists() and not out.is_dir():
        return f"--out {out}: is a file, not a folder"
    entries = sorted(out.iterdir()) if out.is_dir() else []
    if not entries:
        return None
    if not force:
        return (f"--out {out}: the folder is not empty (an earlier run?); add --force to "
                f"replace it, or --resume {out} to finish it")
    others = [p.name for p in entries if not _run_entry(p.name)]
    if others:
        return (f"--force: {out} holds files that are not a run's ({', '.join(others[:3])}"
                f"{', ...' if len(others) > 3 else ''}); not emptying it")
    try:
        for path in entries:
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    except OSError as exc:
        return f"--force: cannot empty {out}: {exc.strerror or exc}"
    return None


def _run_entry(name: str) -> bool:
    """Whether ``name`` is one of a run folder's files (or a temporary or older form)."""
    from mecsim.engine.records import TABLES

    base = name[1:] if name.startswith(".") else name
    for suffix in (".tmp", ".partial"):
        base = base.removesuffix(suffix)
    tables = {f"{t}.parquet" for t in TABLES}
    return base in RUN_FILES or base in tables or name.startswith(".probe-")


def _unwritable(out: Path, option: str) -> str | None:
    """Why files cannot be written in ``out`` (made if missing), or None."""
    import tempfile

    try:
        out.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=out, prefix=".probe-")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        return f"{option} {out}: cannot write there ({exc.strerror or exc})"
    return None


def _resume_problem(out: Path, scenario, specs, channels: bool | None) -> str | None:
    """Why ``--resume OUT`` cannot finish the run in OUT with this command's options."""
    from mecsim.config import ScenarioError, load_scenario, scenario_to_dict
    from mecsim.engine.folder import complete_schedulers, read_summary
    from mecsim.engine.records import table_path
    from mecsim.engine.runner import want_channels

    stored_path = out / "scenario.yaml"
    if not stored_path.is_file():
        return f"--resume {out}: no run to finish there (no scenario.yaml)"
    try:
        stored = load_scenario(stored_path)
    except ScenarioError as exc:
        return f"--resume {out}: {exc}"
    if stored != scenario:
        keys = _differing_keys(scenario_to_dict(stored), scenario_to_dict(scenario))
        return (f"--resume {out}: this command's scenario differs from {stored_path} in "
                f"{', '.join(keys[:4])}{', ...' if len(keys) > 4 else ''}; give the scenario "
                "and options of the run being finished")
    summary = read_summary(out)
    entries = (summary or {}).get("schedulers") or {}
    ran = [label for label, _ in sorted(entries.items(), key=lambda kv: (
        kv[1].get("index", 0) if isinstance(kv[1], dict) else 0))]
    asked = [s.label for s in specs]
    if entries and ran != asked:
        return (f"--resume {out}: it ran the schedulers {', '.join(ran)}; this command asks "
                f"for {', '.join(asked)}")
    had = table_path(out, "channels").is_dir()
    if asked[0] in complete_schedulers(out, summary) and want_channels(scenario, channels) \
            != had:
        return (f"--resume {out}: it was run {'with' if had else 'without'} channels.parquet; "
                f"give {'--channels' if had else '--no-channels'}")
    return None


def _differing_keys(a, b, key: str = "") -> list[str]:
    """The dotted keys whose values differ between two nested mappings."""
    if isinstance(a, dict) and isinstance(b, dict):
        keys = list(a) + [k for k in b if k not in a]
        return [d for k in keys
                for d in _differing_keys(a.get(k), b.get(k), f"{key}.{k}" if key else str(k))]
    return [] if a == b else [key or "(top level)"]


def _resume_line(out: Path, specs) -> str:
    """``resuming OUT: kept a, b (complete); running c`` (on stderr before the bars)."""
    from mecsim.engine.folder import complete_schedulers

    done = complete_schedulers(out)
    kept = [s.label for s in specs if s.label in done]
    todo = [s.label for s in specs if s.label not in done]
    return (f"resuming {out}: kept {', '.join(kept) or 'nothing'} (complete); running "
            f"{', '.join(todo) or 'nothing'}")


def learns(cls: type) -> bool:
    """Return True when a scheduler class learns: it overrides ``feedback``.

    ``feedback`` is the training hook of the contract; a scheduler that keeps the base
    class's no-op learns nothing from a run, so ``train`` has nothing to save.
    """
    from mecsim.scheduler import Scheduler

    return getattr(cls, "feedback", None) is not Scheduler.feedback


def _train(args) -> int:
    """Train on the scenario's training world; save the checkpoint and its sidecar."""
    from mecsim.engine.interrupt import Interrupted
    from mecsim.preflight import PreflightError, check_schedulers
    from mecsim.registry import make, scheduler_class
    from mecsim.training import (
        TrainingError,
        meta_path,
        schedule_slots,
        train,
        training_scenario,
        training_spec,
    )

    scenario = _load(args)
    if scenario is None:
        return EXIT_BAD_INPUT
    spec = training_spec(scenario, args.scheduler)
    try:
        cls = scheduler_class(spec.name)
    except ValueError as exc:
        _error(f"{args.scenario}: schedulers: {exc}")
        return EXIT_BAD_INPUT
    if not learns(cls):
        _error(f"{args.scenario}: --scheduler {args.scheduler}: {cls.__name__} does not learn "
               "(it does not override feedback, the training hook); nothing to train")
        return EXIT_BAD_INPUT
    try:
        check_schedulers([spec], [f"--scheduler {args.scheduler}"], scenario)
    except PreflightError as exc:
        _error(f"{args.scenario}: {exc}")
        return EXIT_BAD_INPUT
    if args.slots is None:  # the whole schedule, not the scenario's evaluation length
        need = schedule_slots(make(spec.name, **dict(spec.params)))
        if need:
            args.slots = need + need // 20 + 5  # a margin for slots without tasks
            print(f"{spec.label}: training for {args.slots} slots (its schedule: {need} slots "
                  f"with tasks, plus a margin; --slots sets another length)", flush=True)
            scenario = _load(args)
            if scenario is None:
                return EXIT_BAD_INPUT
    out = Path(args.out)
    run_dir = Path(args.run_dir) if args.run_dir else out.with_name(out.name + ".run")
    world = training_scenario(scenario).seed
    print(f"training {spec.label} on world seed {world} (the training world of scenario seed "
          f"{scenario.seed}; run evaluates seed S on world seed S)", flush=True)
    progress = _progress(Console(stderr=True), args.quiet)
    try:
        with progress:
            trained = train(scenario, spec, out, run_dir=run_dir, scenario_file=args.scenario,
                            make=make, progress=_ticker(progress))
    except (KeyboardInterrupt, Interrupted) as exc:
        why = str(exc) or "interrupted"
        _error(f"{why}: nothing saved to {out}; the run so far is in {run_dir}")
        return 130 if isinstance(exc, KeyboardInterrupt) else EXIT_SCHEDULER_FAILED
    except TrainingError as exc:
        _error(str(exc))
        return EXIT_SCHEDULER_FAILED
    result, meta = trained.result, trained.meta
    phase = meta["phase"]
    print(f"saved {spec.label} to {out} after {result.slots} slots "
          f"({result.wall_s:.1f} s{', phase ' + phase if phase else ''}); sidecar "
          f"{meta_path(out)}; run: {run_dir}")
    if not trained.finished:
        need = trained.slots_needed
        _warning(f"{spec.label}: its training schedule did not finish in {result.slots} slots "
                 f"(still learning at the end; the checkpoint is a mid-training one)"
                 + (f"; the schedule needs about {need} slots with tasks: --slots {need}"
                    if need else ""))
    return 0


class _TasksPerSecond(ProgressColumn):
    """Tasks simulated per second of the scheduler's own time (to its end, once finished)."""

    def render(self, task) -> Text:
        seconds = task.finished_time or task.elapsed  # finished_time: elapsed at the end
        rate = task.fields.get("tasks", 0) / seconds if seconds else 0.0
        return Text(f"{rate:,.0f} tasks/s", style="cyan")


REFRESH_S = 0.1  # [s] the progress bars are redrawn at most this often


def _progress(console: Console, quiet: bool) -> Progress:
    """The progress bars, drawn from the main thread (:func:`_ticker`).

    Rich's own refresh thread is off: a run forks its workers (:mod:`mecsim.engine.workers`)
    while the bars are shown, and a fork taken while another thread holds the console's
    lock would leave that lock held in the worker.
    """
    return Progress(TextColumn("{task.description:<12}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("slots"), _TasksPerSecond(), TimeRemainingColumn(),
                    console=console, disable=quiet, transient=False, auto_refresh=False)


def _ticker(progress: Progress):
    last = [0.0]  # [s] monotonic time of the last redraw

    def start(name: str, total: int):
        task = progress.add_task(name, total=total, tasks=0)
        count = [0]

        def tick(slot: int, tasks: int) -> None:
            count[0] += tasks
            progress.update(task, completed=slot + 1, tasks=count[0])
            now = time.monotonic()
            if now - last[0] >= REFRESH_S or slot + 1 >= total:
                progress.refresh()
                last[0] = now
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
    lower bound, not proven exact, on some slots). The caption's first line gives each
    scheduler's share of the tasks it placed that it sent to a MEC (``offload_share``; a
    table 110 characters wide has no room for one more column), the rest says what the
    labels mean.
    """
    from mecsim.engine.stability import offered_load

    load = offered_load(scenario)
    caption = _offload_caption(results) + TABLE_CAPTION
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
        name = escape(r.name) + (" (online)" if getattr(r, "training_slots", 0) else "")
        table.add_row(name, *_figure_cells(r, ratios), _short(r.median_decision_s * 1e3),
                      _stable(r.stable), "yes" if r.complete else "[bold red]no[/]")
    return table


def _offload_caption(results) -> str:
    """The caption's line on each scheduler's share of its placed tasks sent to a MEC."""
    shares = [f"{escape(r.name)} {_pct(getattr(r, 'offload_share', float('nan')))}"
              for r in results]
    return "offloaded (% of the tasks placed that went to a MEC): " + ", ".join(shares) + "\n"


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
