"""The report's figure of a learner's own training metrics (``training.parquet``).

A scheduler's ``drain_log()`` rows may carry keys outside
:data:`mecsim.engine.records.TRAINING_COLUMNS`: each is a free-form metric, a float64
column of ``training.parquet`` (docs/training.md). :func:`learner_metrics` draws one panel
per such metric, one line per scheduler, against the rows' ``slot``, else their ``step``,
else their order. It reuses the per-slot machinery of :mod:`mecsim.report.sweep_figures`
(rolling means, the mean over seeds with its band, the setting menu). Unlike the per-slot
figures, the y range is not cut after a warm-up: a learning curve's start is what it shows.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from mecsim.engine.records import TRAINING_COLUMNS
from mecsim.report import figures as F
from mecsim.report import sweep_figures as S

#: Most metric panels drawn; the figure's subtitle names the others.
MAX_METRICS = 12
#: The ``kind`` of DIRS's and the DRL peers' rows (drawn by the other figures, left out).
DIRS_KINDS = ("update", "slot", "levy", "imitation")
#: Columns the report adds to the training rows (not metrics).
REPORT_COLUMNS = ("run", "setting")
TITLE = "Training metrics: the learner's own logged metrics"
#: The x axis of each panel: (column, axis title, hover name), first that applies.
X_AXES = (("slot", "slot", "slot"), ("step", "step", "step"))
ORDER_AXIS = ("logged value number, no slot or step logged", "value")
#: Plot height per panel and the gap between panels (pixels).
PANEL_PX = 230
GAP_PX = 95
CAPTION = (
    "Every free-form metric a scheduler logged (drain_log keys outside DIRS's columns; "
    "training.parquet), one panel each (the first 12 in order of first use; the subtitle "
    "names any left out; none for a metric with no value), one line per scheduler. The x "
    "axis is the rows' slot where every row of the metric has one, else their step, else "
    "the n-th value the scheduler logged (its axis title says which); rows at the same x "
    "are averaged. Rolling mean over about 1/20 of a series (at most 100 values; none "
    "below 30): the window is in each x-axis title. Rows of DIRS's kinds (update, slot, "
    "levy, imitation) are left out. The y axes show the whole curves, early learning "
    "included. In a sweep: one grid setting at a time (the menu where there are "
    "several), per scheduler the mean over seeds of each seed's rolling mean, the band "
    "its 95 % confidence interval.")


def own_rows(training: pd.DataFrame) -> pd.DataFrame:
    """The rows that are not DIRS's (their ``kind`` is null or a learner's own)."""
    if "kind" not in training.columns:
        return training
    return training[~training["kind"].isin(DIRS_KINDS)]


def metric_columns(training: pd.DataFrame | None) -> list[str]:
    """The free-form metrics with at least one value outside DIRS's rows, in table order.

    Args:
        training: ``training.parquet`` rows (with the report's ``run``/``setting`` columns).
    """
    if training is None or training.empty or "scheduler" not in training.columns:
        return []
    known = {name for name, _ in TRAINING_COLUMNS} | set(REPORT_COLUMNS)
    rows = own_rows(training)
    return [c for c in training.columns
            if c not in known and pd.api.types.is_numeric_dtype(training[c])
            and rows[c].notna().any()]


def metric_frame(rows: pd.DataFrame, metric: str) -> tuple[pd.DataFrame, str, str]:
    """One metric's rows with its x values in ``slot``; the axis title and hover name.

    x is ``slot`` where every row holding the metric has one, else ``step`` likewise,
    else the row's order (1, 2, ...) within its scheduler (and run).

    Args:
        rows: The learner's rows (:func:`own_rows`): ``scheduler``, the metric, optionally
            ``slot``, ``step``, ``run``, ``setting``.
        metric: The metric's column.

    Returns:
        ``(frame, axis title, hover name)``; ``frame`` has ``scheduler``, ``slot`` (the x
        values), the metric, and ``run``/``setting`` where ``rows`` has them.
    """
    part = rows[rows[metric].notna()]
    keep = ["scheduler", metric] + [c for c in REPORT_COLUMNS if c in part.columns]
    for column, title, hover in X_AXES:
        if column in part.columns and part[column].notna().all():
            return part[keep].assign(slot=part[column].astype("int64")), title, hover
    keys = [c for c in ("run", "scheduler") if c in part.columns]
    order = part.groupby(keys, sort=False).cumcount() + 1
    return part[keep].assign(slot=order.astype("int64")), *ORDER_AXIS


def learner_metrics(training: pd.DataFrame | None, colors: dict[str, str] | None = None,
                    window: int | None = None, max_metrics: int = MAX_METRICS
                    ) -> go.Figure | None:
    """One panel per free-form training metric, one line per scheduler; None without any.

    A run (no ``setting`` column): per scheduler the rolling mean of the metric (the
    mean over ``run``s where there are several). A sweep (``setting``: the cell's grid
    values without the seed; ``run``: the cell): per scheduler the mean over seeds of each
    seed's rolling mean with its 95 % band, one setting at a time (a dropdown where there
    are several). Traces carry ``meta`` ``{"scheduler", "metric"[, "setting", "kind"]}``.

    Args:
        training: ``training.parquet`` rows: ``scheduler``, the metrics, ``kind``,
            ``slot``, ``step``; ``run``; ``setting`` in a sweep.
        colors: Scheduler colours (:func:`figures.palette`).
        window: Rolling window (default: :func:`figures.auto_window` of each series).
        max_metrics: Most panels; the subtitle names the metrics left out.
    """
    metrics = metric_columns(training)
    if not metrics:
        return None
    rows = own_rows(training)
    shown, left = metrics[:max_metrics], metrics[max_metrics:]
    sweep = "setting" in rows.columns and "run" in rows.columns
    settings = F._order(rows["setting"]) if sweep else [""]
    height = 170 + PANEL_PX * len(shown) + GAP_PX * (len(shown) - 1)
    fig = make_subplots(rows=len(shown), cols=1, subplot_titles=shown,
                        vertical_spacing=GAP_PX / (height - 170))
    colors = F._colors(colors, rows["scheduler"])
    n_lines = max(1, len(settings) * rows["scheduler"].nunique() * len(shown)
                  * (3 if sweep else 1))
    limit = int(min(F.MAX_LINE_POINTS, max(300, S.SWEEP_POINT_BUDGET // n_lines)))
    for row, metric in enumerate(shown, 1):
        _panel(fig, rows, metric, row, colors, window, limit, sweep)
    _one_legend_entry(fig)
    title = TITLE
    if left:
        title += f"<br><sup>{len(left)} more metrics not drawn: {', '.join(left)}</sup>"
    fig = F._layout(fig, title, height=height)
    if len(settings) > 1:
        for trace in fig.data:  # the first setting shows first
            if trace.meta.get("setting") != settings[0]:
                trace.visible = False
        autorange = {s: [None] * len(shown) for s in settings}
        fig = S._menus_below_title(fig, S._setting_menu(fig, settings, autorange))
    return fig


def _panel(fig: go.Figure, rows: pd.DataFrame, metric: str, row: int,
           colors: dict[str, str], window: int | None, limit: int,
           sweep: bool) -> None:
    """Draw one metric's lines (every setting's) in panel ``row`` and title its x axis."""
    frame, axis, hover = metric_frame(rows, metric)
    start = len(fig.data)
    if sweep:
        used, _ = S._sweep_lines(fig, frame, metric, colors, window, row, True, limit)
    else:
        used, _ = S._run_lines(fig, frame, metric, colors, window, row, True)
    for trace in fig.data[start:]:
        trace.meta = {**trace.meta, "metric": metric}
        if trace.hovertemplate:
            trace.hovertemplate = trace.hovertemplate.replace("<br>slot %{x}",
                                                              f"<br>{hover} %{{x}}")
    title = axis if used <= 1 else f"{axis} (rolling mean over {used})"
    fig.update_xaxes(title_text=title, row=row, col=1, **S.integer_ticks(frame["slot"]))


def _one_legend_entry(fig: go.Figure) -> None:
    """Show each scheduler once in the legend per setting (its first line)."""
    seen = set()
    for trace in fig.data:
        key = (trace.meta.get("scheduler"), trace.meta.get("setting"))
        first = trace.meta.get("kind") != "band" and key not in seen
        trace.showlegend = first
        if first:
            seen.add(key)
