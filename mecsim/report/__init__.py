"""The report: one self-contained HTML page of Plotly figures for a run or sweep folder.

``python -m mecsim report DIR [--out report.html] [--images DIR --format png|svg|pdf]``;
see ``docs/report.md``.
"""

from __future__ import annotations

__all__ = ["ReportError", "build_report", "export_images", "export_png"]


def __getattr__(name: str):
    # plotly is imported only when a report is built
    if name == "export_images":
        from mecsim.report import export

        return export.export_images
    if name in __all__:
        from mecsim.report import build

        return getattr(build, name)
    raise AttributeError(name)
