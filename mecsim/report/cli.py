"""``python -m mecsim report DIR [--out report.html] [--png DIR] [--cell ID]``.

Wired into ``mecsim.cli`` by :func:`add_parser`; :func:`main` runs it alone
(``python -m mecsim.report.cli DIR``). A missing folder, or one that holds neither a run nor
a sweep, prints one line and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys

EXIT_BAD_INPUT = 2


def _arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("dir", metavar="DIR", help="a run or sweep folder")
    parser.add_argument("--out", help="HTML file to write (default: DIR/report.html)")
    parser.add_argument("--png", metavar="PNG_DIR",
                        help="also write each figure as PNG here (needs kaleido and Chromium)")
    parser.add_argument("--cell", help="in a sweep, the cell whose run the per-run figures "
                                       "show (default: the first)")
    parser.set_defaults(handler=run)
    return parser


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``report`` command to ``mecsim``'s sub-command parsers."""
    return _arguments(subparsers.add_parser(
        "report", help="build an HTML report of a run or sweep folder",
        description="Build one self-contained HTML report (Plotly) of a run or sweep folder."))


def run(args: argparse.Namespace) -> int:
    """Build the report of ``args.dir``; return the exit status."""
    from mecsim.report.build import ReportError, build_report, export_png

    try:
        report = build_report(args.dir, args.out, cell=args.cell)
    except ReportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    drawn = len(report.figures)
    skipped = sum(1 for _, items in report.sections for i in items if i.figure is None)
    print(f"report: {report.path} ({drawn} figures"
          + (f", {skipped} sections skipped" if skipped else "") + ")")
    for note in report.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.png:
        print(export_png(report, args.png))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the report command alone; return the exit status."""
    parser = _arguments(argparse.ArgumentParser(prog="mecsim report",
                                                description=__doc__.splitlines()[0]))
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
