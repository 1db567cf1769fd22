"""Static images of the report's figures (PNG, SVG or PDF) through kaleido.

kaleido 1.x drives a Chrome or Chromium it finds on the machine (Debian: ``chromium``).
:func:`export_images` never raises: it returns one line that says what was written, or why
nothing (or not everything) was.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

#: The formats ``--format`` accepts.
FORMATS = ("png", "svg", "pdf")
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
WIDTH = 1100  # [px] every image's width; its height is the figure's


def anchor(text: str) -> str:
    """``text`` as an HTML id or file name: letters and digits kept, the rest ``-``."""
    return "".join(c if c.isalnum() else "-" for c in text.lower()).strip("-")


def _reason(exc: BaseException) -> str:
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


def _unavailable(fmt: str) -> str | None:
    """Why kaleido cannot write images here (None: it can)."""
    try:
        import kaleido
    except ImportError:
        return f"{fmt.upper()} export skipped: kaleido is not installed (pip install kaleido)"
    version = str(getattr(kaleido, "__version__", "1"))
    if not version.startswith("0.") and not any(shutil.which(b) for b in BROWSERS):
        return (f"{fmt.upper()} export skipped: kaleido needs Chrome or Chromium and none "
                "was found (e.g. apt-get install chromium)")
    return None


def _write_one(fig: Any, path: Path, fmt: str, height: int) -> None:
    fig.write_image(path, format=fmt, width=WIDTH, height=height)


def export_images(report: Any, out_dir: str | Path, fmt: str = "png") -> str:
    """Write each figure of ``report`` as ``OUT_DIR/KEY.FMT``; return one line.

    The figures are written together (one browser); any the batch did not write (it
    failed, or skipped one) are written one by one, and the line names the first figure
    that failed and why. An interactive figure's image is its
    first state: the map's first frame and scheduler, a menu's default setting.

    Args:
        report: A :class:`mecsim.report.build.Report`.
        out_dir: The folder (created).
        fmt: ``png``, ``svg`` or ``pdf``.

    Returns:
        ``"PNG: 9 images in DIR"``, or a line that says why the images were skipped or which
        figure failed.
    """
    if fmt not in FORMATS:
        return f"image export skipped: unknown format {fmt!r} (choose from {', '.join(FORMATS)})"
    why = _unavailable(fmt)
    if why:
        return why
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    figs = list(report.figures.items())
    paths = [out_dir / f"{anchor(key)}.{fmt}" for key, _ in figs]
    heights = [int(fig.layout.height or 500) for _, fig in figs]
    for path in paths:  # an old image must not pass for a new one
        path.unlink(missing_ok=True)
    try:
        import plotly.io as pio

        pio.write_images([f for _, f in figs], paths, format=fmt, width=WIDTH,
                         height=heights)
    except Exception:  # noqa: BLE001 - retried one at a time below, to name the figure
        pass
    for (key, fig), path, height in zip(figs, paths, heights, strict=True):
        if path.exists():
            continue
        try:  # what the batch did not write (it failed, or skipped a figure)
            _write_one(fig, path, fmt, height)
        except Exception as exc:  # noqa: BLE001 - kaleido's errors vary
            return (f"{fmt.upper()} export failed at figure {key!r}: {_reason(exc)} "
                    f"({sum(1 for p in paths if p.exists())} of {len(paths)} written)")
        if not path.exists():
            return f"{fmt.upper()} export failed at figure {key!r}: no file was written"
    return f"{fmt.upper()}: {len(paths)} images in {out_dir}"
