"""``python -m mecsim report DIR [--out report.html] [--images DIR] [--format png|svg|pdf]``.

``--png DIR`` is ``--images DIR --format png``; ``--format`` alone writes to ``DIR/images``;
``--cell ID`` picks a sweep's default cell.

Wired into ``mecsim.cli`` by :func:`add_parser`; :func:`main` runs it alone
(``python -m mecsim.report.cli DIR``). A missing folder, or one that holds neither a run nor
a sweep, prints one line and exits with status 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from mecsim.report.export import FORMATS

EXIT_BAD_INPUT = 2


def _arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("dir", metavar="DIR", help="a run or sweep folder")
    parser.add_argument("--out", help="HTML file to write (default: DIR/report.html)")
    parser.add_argument("--images", metavar="DIR",
                        help="also write each figure as an image here (needs kaleido and "
                             "Chrome or Chromium)")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="the images' format (default: png); alone, the images go to "
                             "DIR/images")
    parser.add_argument("--png", metavar="PNG_DIR",
                        help="the same as --images PNG_DIR --format png")
    parser.add_argument("--cell", help="in a sweep, the cell whose grid setting the pooled "
                                       "figures show first, and whose run the map shows "
                                       "(default: the first with tasks.parquet)")
    parser.set_defaults(handler=run)
    return parser


def add_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``report`` command to ``mecsim``'s sub-command parsers."""
    return _arguments(subparsers.add_parser(
        "report", help="build an HTML report of a run or sweep folder",
        description="Build one self-contained HTML report (Plotly) of a run or sweep folder."))


def _images(args: argparse.Namespace) -> tuple[str | None, str]:
    """``(folder, format)`` of the images asked for; raise ValueError on a conflict."""
    png = getattr(args, "png", None)
    images = getattr(args, "images", None)
    fmt = getattr(args, "format", None)
    if png and images:
        raise ValueError("give --png DIR or --images DIR, not both")
    if png and fmt not in (None, "png"):
        raise ValueError(f"--png writes PNG; for {fmt} use --images DIR --format {fmt}")
    if fmt and not (images or png):  # --format alone: beside the report
        images = str(Path(args.dir) / "images")
    return (png or images), (fmt or "png")


def run(args: argparse.Namespace) -> int:
    """Build the report of ``args.dir``; return the exit status."""
    from mecsim.report.build import ReportError, build_report
    from mecsim.report.export import export_images

    try:
        images, fmt = _images(args)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
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
    if images:
        print(export_images(report, images, fmt))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Run the report command alone; return the exit status."""
    parser = _arguments(argparse.ArgumentParser(prog="mecsim report",
                                                description=__doc__.splitlines()[0]))
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
