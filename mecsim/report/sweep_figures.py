"""The sweep figures: metrics against each swept key, and the per-slot curves (Figs. 6, 8).

Against a swept key, every metric is drawn per scheduler as the mean over seeds with a 95 %
confidence interval (Student t, ``n - 1`` degrees of freedom), or, picked by a button on
the figure, as the median with its interquartile range; a second pair of buttons switches
the y axes between linear and log. So one outlier seed can be looked past without leaving
the page. The per-slot curves of a sweep show one grid setting at a time (a dropdown), per
scheduler the mean over seeds with its 95 % interval as a band; their y range is set from
the data after the warm-up so that a start-up transient does not flatten the others.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots
from scipy import stats as st

from mecsim.report import figures as F

#: Confidence level of the intervals over seeds.
LEVEL = 0.95
#: Share of a per-slot series treated as warm-up when the y range is chosen.
WARMUP = 0.10
#: Percentiles of the post-warm-up curves that the y range covers, and the margin added.
RANGE_PERCENTILES = (1.0, 99.0)
RANGE_MARGIN = 0.10
#: Points of all lines of a per-slot sweep figure together (each line keeps 300 to 1,500).
SWEEP_POINT_BUDGET = 60_000
#: The cost panels (realized, then the per-slot model): :data:`figures.COST_FIGURES`.
COST_PANELS = F.COST_FIGURES
#: The realized performance panels against a swept key: (column, axis title), in row order.
PERF_PANELS = (
    ("mean_realized_latency_s", "mean realized latency [s]"),
    ("latency_p95_s", "realized latency p95 [s]"),
    ("mean_realized_energy_j", "energy per completed task [J]"),
    ("drop_rate", "drop rate (dropped / generated)"),
)
#: Columns whose values cannot be negative: their interval is cut at 0.
NON_NEGATIVE = {c for c, _ in COST_PANELS + PERF_PANELS}
#: The switches' labels.
STAT_LABELS = {"mean": f"mean ± {LEVEL:.0%} CI", "median": "median + IQR"}
#: Under the per-slot figures.
RANGE_NOTE = ("y range: 1st-99th percentile of the curves after the first 10 % of slots "
              "(autoscale shows all)")


def interval_stats(df: pd.DataFrame, keys: list[str], value: str) -> pd.DataFrame:
    """Mean, 95 % confidence half-width, median and quartiles of ``value`` per ``keys``.

    The half-width is ``t(0.975, n - 1) s / sqrt(n)`` with ``s`` the sample standard
    deviation over the ``n`` rows (seeds); NaN for a single row (no interval). Quartiles
    are pandas' linear interpolation.

    Args:
        df: Rows with ``keys`` and ``value`` (NaN values are left out).
        keys: The grouping columns.
        value: The column summarised.

    Returns:
        One row per group: ``keys``, ``mean``, ``std``, ``count``, ``ci``, ``median``,
        ``q25``, ``q75``.
    """
    data = df.dropna(subset=[value])
    grouped = data.groupby(keys, sort=False, dropna=False)[value]
    out = grouped.agg(["mean", "std", "count", "median"]).reset_index()
    out["q25"] = grouped.quantile(0.25).to_numpy()
    out["q75"] = grouped.quantile(0.75).to_numpy()
    out["ci"] = ci_half_width(out["std"].to_numpy(float), out["count"].to_numpy(int))
    return out


def ci_half_width(std: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Half-width of the 95 % Student-t interval of a mean (NaN where ``count < 2``)."""
    std = np.asarray(std, dtype=float)
    count = np.asarray(count, dtype=float)
    out = np.full(std.shape, np.nan)
    many = count >= 2
    if many.any():
        t = st.t.ppf(0.5 + LEVEL / 2, count[many] - 1)
        out[many] = t * std[many] / np.sqrt(count[many])
    return out


def integer_ticks(values: Sequence | np.ndarray | pd.Series, max_ticks: int = 12) -> dict:
    """Axis settings that put ticks on integers only.

    Up to ``max_ticks`` distinct values: a tick at each value; more: a 1-2-5 step of at
    least 1 (about ten ticks) from 0.

    Args:
        values: The axis' values (integers).
        max_ticks: Most ticks at the values themselves.
    """
    v = np.unique(np.asarray(pd.to_numeric(pd.Series(values), errors="coerce").dropna(),
                             dtype=float))
    if len(v) == 0:
        return {"tickformat": "d"}
    if len(v) <= max_ticks:
        return {"tickformat": "d", "tickmode": "array", "tickvals": [int(x) for x in v]}
    return {"tickformat": "d", "tickmode": "linear", "tick0": 0,
            "dtick": nice_step((v.max() - v.min()) / 10.0)}


def nice_step(raw: float) -> int:
    """The smallest 1, 2 or 5 x 10^k at least ``raw`` and at least 1."""
    if not raw > 1:
        return 1
    exp = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * exp >= raw:
            return int(m * exp)
    return int(10 * exp)  # pragma: no cover - the loop always returns


def _is_integer(values: pd.Series) -> bool:
    return pd.api.types.is_integer_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _hover(name: str, x: str, at, row: pd.Series, unstable: bool) -> tuple[str, str]:
    """The hover texts of one point: mean ± CI, and median + IQR."""
    n = int(row["count"])
    seeds = f"{n} seed{'s' * (n != 1)}"
    mean = f"mean {row['mean']:.4g}"
    mean += (f" ± {row['ci']:.3g} ({LEVEL:.0%} CI, {seeds})" if n > 1
             else f" ({seeds}: no interval)")
    median = f"median {row['median']:.4g} (IQR {row['q25']:.4g} to {row['q75']:.4g}, {seeds})"
    tail = "<br>some seed's run unstable" if unstable else ""
    head = f"{name}<br>{x}={at}<br>"
    return head + mean + tail, head + median + tail


def _panels(df: pd.DataFrame, panels: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(c, t) for c, t in panels if c in df.columns and df[c].notna().any()]


def _stat_traces(fig: go.Figure, stats: pd.DataFrame, x: str, name: str, color: str,
                 value: str, flagged: list[bool], row: int, col: int) -> None:
    """Add one scheduler's mean (± CI, visible) and median (+ IQR, hidden) lines."""
    texts = [_hover(name, x, at, r, f) for at, (_, r), f in
             zip(stats[x].tolist(), stats.iterrows(), flagged, strict=True)]
    symbols = ["circle-open" if f else "circle" for f in flagged]
    ci = stats["ci"].fillna(0.0).to_numpy()
    minus = np.minimum(ci, stats["mean"].clip(lower=0)) if value in NON_NEGATIVE else ci
    common = {"x": stats[x], "mode": "lines+markers", "name": name, "legendgroup": name,
              "line_color": color, "marker_symbol": symbols, "row": row, "col": col,
              "hovertemplate": "%{text}<extra></extra>"}
    fig.add_scatter(y=stats["mean"], showlegend=False, text=[t[0] for t in texts],
                    error_y={"type": "data", "symmetric": False, "array": ci,
                             "arrayminus": minus, "visible": True},
                    meta={"scheduler": name, "stat": "mean", "metric": value}, **common)
    fig.add_scatter(y=stats["median"], showlegend=False, visible=False,
                    text=[t[1] for t in texts],
                    error_y={"type": "data", "symmetric": False,
                             "array": (stats["q75"] - stats["median"]).to_numpy(),
                             "arrayminus": (stats["median"] - stats["q25"]).to_numpy(),
                             "visible": True},
                    meta={"scheduler": name, "stat": "median", "metric": value}, **common)


def _legend(fig: go.Figure, names: list[str], colors: dict[str, str], unstable: bool) -> None:
    """Legend entries (data-less traces after the others, ``meta`` kind ``legend``).

    One per scheduler, a filled circle whatever its first point, so that a scheduler whose
    first point is unstable is not mistaken for one that always is; and, where some point
    is, an open circle that says what it means.
    """
    for name in names:
        fig.add_scatter(x=[None], y=[None], mode="lines+markers", name=name, legendgroup=name,
                        line_color=colors[name], marker_symbol="circle",
                        meta={"scheduler": name, "kind": "legend"})
    if unstable:
        fig.add_scatter(x=[None], y=[None], mode="markers", name="some seed unstable",
                        marker={"symbol": "circle-open", "color": F.PAPER_COLOR},
                        meta={"kind": "legend"})


def _switches(fig: go.Figure) -> list[dict]:
    """The statistic (mean ± CI / median + IQR) and y-axis (linear / log) buttons."""
    stat = [t.meta.get("stat") if isinstance(t.meta, dict) else None for t in fig.data]
    yaxes = [k for k in fig.layout.to_plotly_json() if k.startswith("yaxis")] or ["yaxis"]
    stat_buttons = [{"label": STAT_LABELS[s], "method": "restyle",
                     "args": [{"visible": [v is None or v == s for v in stat]}]}
                    for s in ("mean", "median")]
    axis_buttons = [{"label": f"{kind} y", "method": "relayout",
                     "args": [{f"{y}.type": kind for y in yaxes}]}
                    for kind in ("linear", "log")]
    common = {"type": "buttons", "direction": "right", "showactive": True, "active": 0,
              "y": 1.0, "yanchor": "bottom", "pad": {"t": 0, "b": 12},
              "font": {"size": 11}}
    return [{**common, "buttons": stat_buttons, "x": 0.0, "xanchor": "left"},
            {**common, "buttons": axis_buttons, "x": 1.0, "xanchor": "right"}]


def sweep_metrics(sweep: pd.DataFrame | None, x: str, panels: Sequence[tuple[str, str]],
                  title: str, facets: Sequence[str] = (), colors: dict[str, str] | None = None,
                  max_facets: int = 6) -> go.Figure | None:
    """Metrics against the swept key ``x``, per scheduler, with intervals over seeds.

    One row of panels per ``panels`` column that has values (a column missing from an
    older ``sweep.parquet``, or all empty, gets no panel). Per scheduler two lines per
    panel (``meta``: ``{"scheduler", "stat", "metric"}``): the mean over seeds with its
    95 % Student-t confidence interval as error bars (visible; none for a single seed; the
    interval of a metric that cannot be negative is cut at 0), and the median with the
    interquartile range (hidden). Buttons switch between the two, and between linear and
    log y axes. A point where some seed's run was unstable is an open circle. Where other
    grid columns (``facets``) vary too, one column of panels per combination of their
    values (the first ``max_facets``).

    Args:
        sweep: Rows of ``sweep.parquet`` without failed cells.
        x: The grid column on the x axis.
        panels: ``(column, axis title)`` per row.
        title: The figure's title.
        facets: The other grid columns that vary.
        colors: Scheduler colours (:func:`figures.palette`).
        max_facets: Most panel columns drawn.
    """
    if not F._present(sweep, x, "scheduler"):
        return None
    df = sweep[sweep[x].notna()]
    panels = _panels(df, panels)
    if df.empty or not panels:
        return None
    rows = len(panels)
    facets, combos, fig = F._facet_grid(df, x, list(facets), rows, max_facets)
    colors = F._colors(colors, df["scheduler"])
    unstable = F._unstable(df, ["scheduler", x, *facets])
    for col, combo in enumerate(combos, start=1):
        part = df
        for f, v in zip(facets, combo, strict=True):
            part = part[part[f] == v]
        for name in F._order(part["scheduler"]):
            mine = part[part["scheduler"] == name]
            for row, (value, _) in enumerate(panels, 1):
                stats = interval_stats(mine, [x], value)
                if stats.empty:
                    continue
                stats = stats.sort_values(x).reset_index(drop=True)
                flagged = [(name, v, *combo) in unstable for v in stats[x]]
                _stat_traces(fig, stats, x, name, colors[name], value, flagged, row, col)
        fig.update_xaxes(title_text=F.axis_title(x), row=rows, col=col)
    _legend(fig, F._order(df["scheduler"]), colors, bool(unstable))
    if _is_integer(df[x]):
        fig.update_xaxes(**integer_ticks(df[x]))
    elif pd.api.types.is_numeric_dtype(df[x]) and df[x].nunique() <= 12:
        fig.update_xaxes(tickmode="array", tickvals=np.sort(df[x].unique()).tolist())
    for row, (value, label) in enumerate(panels, 1):
        fig.update_yaxes(title_text=label, row=row, col=1)
        if value in NON_NEGATIVE:
            fig.update_yaxes(rangemode="nonnegative", row=row)
    fig = F._layout(fig, title, height=320 + 220 * rows)
    return _menus_below_title(fig, _switches(fig))


def _menus_below_title(fig: go.Figure, menus: list[dict]) -> go.Figure:
    """Put the title at the top of the figure and the menus between it and the panels.

    Above subplot titles (or a note at the panels' top edge) the menus sit higher.
    """
    lift = 26 if fig.layout.annotations else 0
    menus = [{**m, "pad": {**m.get("pad", {}), "b": m.get("pad", {}).get("b", 0) + lift}}
             for m in menus]
    fig.update_layout(updatemenus=menus, margin={"t": 125 + lift},
                      title={"y": 1.0, "yref": "container", "yanchor": "top",
                             "pad": {"t": 14}})
    return fig


def sweep_axis(sweep: pd.DataFrame | None, x: str, facets: Sequence[str] = (),
               colors: dict[str, str] | None = None, max_facets: int = 6,
               paper: bool = False) -> go.Figure | None:
    """Realized and per-slot model costs, and their ratios to optimal, against ``x``.

    :func:`sweep_metrics` with :data:`COST_PANELS` (sweeps from before the realized
    columns get the per-slot model's two rows only), titled by
    :func:`figures.title_for_axis` (``paper``: the figure is the paper's).

    Args:
        sweep: Rows of ``sweep.parquet`` without failed cells.
        x: The grid column on the x axis (e.g. ``iotds.count``).
        facets: The other grid columns that vary.
        colors: Scheduler colours.
        max_facets: Most panel columns drawn.
        paper: Whether the sweep is the paper's (its title then names the paper's figure).
    """
    if not F._present(sweep, x, "scheduler", "mean_cost_per_slot"):
        return None
    return sweep_metrics(sweep.dropna(subset=["mean_cost_per_slot"]), x, COST_PANELS,
                         F.title_for_axis(x, paper), facets, colors, max_facets)


def sweep_performance(sweep: pd.DataFrame | None, x: str, facets: Sequence[str] = (),
                      colors: dict[str, str] | None = None,
                      max_facets: int = 6) -> go.Figure | None:
    """Mean and p95 realized latency, energy per completed task and drop rate against ``x``.

    :func:`sweep_metrics` with :data:`PERF_PANELS`; None when the sweep has none of them.

    Args:
        sweep: Rows of ``sweep.parquet`` without failed cells.
        x: The grid column on the x axis.
        facets: The other grid columns that vary.
        colors: Scheduler colours.
        max_facets: Most panel columns drawn.
    """
    return sweep_metrics(sweep, x, PERF_PANELS, F.performance_title(x), facets, colors,
                         max_facets)


# -- per-slot curves -----------------------------------------------------------------------

def robust_range(curves: Sequence[tuple[np.ndarray, np.ndarray]]) -> list[float] | None:
    """A y range that a start-up transient does not set, or None when none is needed.

    From the points of ``curves`` (``(slots, values)`` pairs) after the first
    :data:`WARMUP` share of the slots: the 1st to 99th percentile, widened by
    :data:`RANGE_MARGIN` of its span on each side (not below 0 where no value is).
    None when the full data fit in it already (autorange is then as good).

    Args:
        curves: The drawn curves (band edges included), as slot and value arrays.
    """
    xs = [np.asarray(c[0], dtype=float) for c in curves if len(c[0])]
    ys = [np.asarray(c[1], dtype=float) for c in curves if len(c[0])]
    if not xs:
        return None
    lo_x, hi_x = min(x.min() for x in xs), max(x.max() for x in xs)
    cut = lo_x + WARMUP * (hi_x - lo_x)
    later = np.concatenate([y[x >= cut] for x, y in zip(xs, ys, strict=True)])
    every = np.concatenate(ys)
    later, every = later[np.isfinite(later)], every[np.isfinite(every)]
    if not len(later):
        return None
    lo, hi = np.percentile(later, RANGE_PERCENTILES)
    margin = RANGE_MARGIN * (hi - lo) or RANGE_MARGIN * abs(hi) or 1.0
    lower, upper = lo - margin, hi + margin
    if every.min() >= 0:  # never below 0 for a quantity that is never negative
        lower = max(lower, 0.0)
    if lower <= every.min() and upper >= every.max():
        return None
    return [float(lower), float(upper)]


def _rolling(curve: pd.Series, window: int | None) -> tuple[pd.Series, int]:
    w = window or F.auto_window(len(curve))
    return curve.rolling(w, min_periods=1).mean(), w


def _run_lines(fig: go.Figure, per_slot: pd.DataFrame, value: str, colors: dict[str, str],
               window: int | None, row: int, legend: bool):
    """One rolling-mean line per scheduler (a run); return the window and the curves."""
    df = per_slot.dropna(subset=[value])
    used, curves = 1, []
    for name in F._order(df["scheduler"]):
        curve = df[df["scheduler"] == name].groupby("slot")[value].mean().sort_index()
        smooth, w = _rolling(curve, window)
        used = max(used, w)
        x, y = F._thin(smooth.index.to_numpy(), smooth.to_numpy())
        curves.append((x, y))
        fig.add_scatter(x=x, y=y, mode="lines", name=name, legendgroup=name,
                        showlegend=legend, line_color=colors[name],
                        meta={"scheduler": name},
                        hovertemplate=f"{name}<br>slot %{{x}}<br>%{{y:.4g}}<extra></extra>",
                        row=row, col=1)
    return used, curves


def seed_band(part: pd.DataFrame, value: str, window: int | None) -> tuple[pd.DataFrame, int]:
    """Per slot, the mean over runs (seeds) of each run's rolling mean, and its 95 % CI.

    Args:
        part: One scheduler's rows at one grid setting: ``run, slot`` and ``value``.
        value: The column.
        window: Rolling window (default: :func:`figures.auto_window` of the run's length).

    Returns:
        ``(frame, window)``: ``slot`` index with ``mean``, ``lower``, ``upper`` (NaN where
        fewer than two runs have the slot; ``lower`` cut at 0 when no value is negative)
        and ``count``.
    """
    smooth, used = {}, 1
    for run, rows in part.dropna(subset=[value]).groupby("run", sort=False):
        curve = rows.groupby("slot")[value].mean().sort_index()
        smooth[run], w = _rolling(curve, window)
        used = max(used, w)
    wide = pd.DataFrame(smooth).sort_index()
    count = wide.notna().sum(axis=1)
    mean = wide.mean(axis=1)
    half = ci_half_width(wide.std(axis=1).to_numpy(), count.to_numpy())
    lower = mean - half
    if part[value].min() >= 0:  # a quantity that cannot be negative: the band stops at 0
        lower = lower.clip(lower=0.0)
    out = pd.DataFrame({"mean": mean, "lower": lower, "upper": mean + half,
                        "count": count})
    return out, used


def _sweep_lines(fig: go.Figure, per_slot: pd.DataFrame, value: str, colors: dict[str, str],
                 window: int | None, row: int, legend: bool, limit: int):
    """Per setting and scheduler: the mean over seeds and its band; return window, curves."""
    df = per_slot.dropna(subset=[value])
    used, curves = 1, {}
    for setting in F._order(per_slot["setting"]):
        curves[setting] = []
        here = df[df["setting"] == setting]
        for name in F._order(here["scheduler"]):
            band, w = seed_band(here[here["scheduler"] == name], value, window)
            used = max(used, w)
            x, y = F._thin(band.index.to_numpy(), band["mean"].to_numpy(), limit)
            meta = {"scheduler": name, "setting": setting}
            ok = band.dropna(subset=["lower", "upper"])
            if len(ok):
                bx, up = F._thin(ok.index.to_numpy(), ok["upper"].to_numpy(), limit)
                _, low = F._thin(ok.index.to_numpy(), ok["lower"].to_numpy(), limit)
                fig.add_scatter(x=np.concatenate([bx, bx[::-1]]),
                                y=np.concatenate([up, low[::-1]]), fill="toself",
                                fillcolor=F._rgba(colors[name], 0.2), mode="lines",
                                line={"width": 0, "color": colors[name]}, hoverinfo="skip",
                                name=f"{name} {LEVEL:.0%} CI", legendgroup=name,
                                showlegend=False, meta={**meta, "kind": "band"},
                                row=row, col=1)
            curves[setting].append((x, y))
            seeds = int(band["count"].max())
            fig.add_scatter(x=x, y=y, mode="lines", name=name, legendgroup=name,
                            showlegend=legend, line_color=colors[name],
                            meta={**meta, "kind": "mean"},
                            hovertemplate=(f"{name}<br>slot %{{x}}<br>mean %{{y:.4g}} over "
                                           f"{seeds} seed{'s' * (seeds != 1)}<extra></extra>"),
                            row=row, col=1)
    return used, curves


def _setting_menu(fig: go.Figure, settings: list[str], ranges: dict[str, list]) -> list[dict]:
    """The dropdown that shows one grid setting's traces and sets its y ranges."""
    owner = [t.meta.get("setting") if isinstance(t.meta, dict) else None for t in fig.data]
    buttons = []
    for setting in settings:
        layout = {}
        for k, r in enumerate(ranges[setting], start=1):
            axis = "yaxis" if k == 1 else f"yaxis{k}"
            layout.update({f"{axis}.range": r, f"{axis}.autorange": r is None})
        buttons.append({"label": setting, "method": "update",
                        "args": [{"visible": [o is None or o == setting for o in owner]},
                                 layout]})
    return [{"type": "dropdown", "buttons": buttons, "active": 0, "showactive": True,
             "x": 0.0, "xanchor": "left", "y": 1.0, "yanchor": "bottom",
             "pad": {"b": 12}}]


def slot_curves(per_slot: pd.DataFrame | None, panels: Sequence[tuple[str, str]], title: str,
                windows: dict[str, tuple[float, float]] | None = None,
                colors: dict[str, str] | None = None, window: int | None = None
                ) -> go.Figure | None:
    """Per-slot rolling means, one panel per ``panels`` column, run or sweep.

    A run (no ``setting`` column): one line per scheduler (the mean over the ``run``s where
    there are several). A sweep (``setting``: the cell's grid values without the seed;
    ``run``: the cell): one grid setting at a time, picked in a dropdown; per scheduler the
    mean over seeds of each seed's rolling mean (``meta`` kind ``mean``) and a band, its
    95 % Student-t interval over seeds (kind ``band``; none with one seed). The y range of
    each panel comes from :func:`robust_range` (per setting), so a start-up transient does
    not set it (the bands do not either); the full curves stay in the figure.

    Args:
        per_slot: ``scheduler, slot`` and the panels' columns; ``run``; ``setting`` in a
            sweep.
        panels: ``(column, axis title)`` per row.
        title: The figure's title.
        windows: ``{scheduler: (first, last)}`` online-training slots; the first is shaded.
        colors: Scheduler colours.
        window: Rolling window in slots (default: :func:`figures.auto_window`).
    """
    if not F._present(per_slot, "scheduler", "slot", *(c for c, _ in panels)):
        return None
    panels = [(c, t) for c, t in panels if per_slot[c].notna().any()]
    if not panels:
        return None
    rows = len(panels)
    fig = make_subplots(rows=rows, cols=1, shared_xaxes=True, vertical_spacing=0.06)
    colors = F._colors(colors, per_slot["scheduler"])
    sweep = "setting" in per_slot.columns and "run" in per_slot.columns
    settings = F._order(per_slot["setting"]) if sweep else [""]
    n_lines = max(1, len(settings) * per_slot["scheduler"].nunique() * rows * (3 if sweep
                                                                                else 1))
    limit = int(min(F.MAX_LINE_POINTS, max(300, SWEEP_POINT_BUDGET // n_lines)))
    ranges: dict[str, list] = {s: [] for s in settings}
    w = 1
    for row, (value, label) in enumerate(panels, 1):
        if sweep:
            used, curves = _sweep_lines(fig, per_slot, value, colors, window, row, row == 1,
                                        limit)
        else:
            used, lines = _run_lines(fig, per_slot, value, colors, window, row, row == 1)
            curves = {"": lines}
        w = max(w, used)
        for s in settings:
            ranges[s].append(robust_range(curves.get(s, [])))
        fig.update_yaxes(title_text=label, row=row, col=1)
    F._windows(fig, windows, rows)
    fig.update_xaxes(title_text=f"slot (rolling mean over {w})", row=rows, col=1)
    fig.update_xaxes(**integer_ticks(per_slot["slot"]))
    for row, r in enumerate(ranges[settings[0]], 1):
        if r is not None:
            fig.update_yaxes(range=r, row=row, col=1)
    fig = F._layout(fig, f"{title}<br><sup>{RANGE_NOTE}</sup>", height=200 + 200 * rows
                    + (40 if sweep else 0))
    if sweep:
        for trace in fig.data:  # the first setting shows first
            if isinstance(trace.meta, dict) and trace.meta.get("setting") not in (None,
                                                                                 settings[0]):
                trace.visible = False
        fig = _menus_below_title(fig, _setting_menu(fig, settings, ranges))
    return fig



# -- captions ------------------------------------------------------------------------------

_STATS = ("Buttons: the statistic (mean over seeds with its 95 % confidence interval, "
          "Student t with n-1 degrees of freedom, no interval where a point has one seed; "
          "or the median with the interquartile range, which one outlier seed cannot move "
          "far) and the y axes (linear or log). The interval of a quantity that cannot be "
          "negative is cut at 0. Open circles: some seed's run was unstable (its backlog "
          "grows). Failed cells are left out.")
COST_CAPTION = ("Per scheduler, from the top: realized cost per completed task (simulated) "
                "and its ratio to optimal's; per-slot model cost (the spec's objective) and "
                "the ratio of the summed slot costs to optimal's on the same slots (sweeps "
                "from before the realized columns show these two only). " + _STATS)
PERF_CAPTION = ("Per scheduler, from the top: mean and 95th-percentile realized latency of "
                "completed tasks, realized energy per completed task and the share of "
                "generated tasks dropped (a column an older sweep lacks has no panel). "
                + _STATS)
SLOT_CAPTION = ("In a sweep: one grid setting at a time (the menu); per scheduler the mean "
                "over seeds of each seed's rolling mean, the band its 95 % confidence "
                "interval (Student t; no band with one seed). The y range covers the 1st to "
                "99th percentile of the curves after the first 10 % of slots, so a start-up "
                "transient does not flatten the other curves; autoscale (double-click) shows "
                "all the data.")
RUN_SLOT_CAPTION = ("The y range covers the 1st to 99th percentile of the curves after the "
                    "first 10 % of slots, so a start-up transient does not flatten the other "
                    "curves; autoscale (double-click) shows all the data.")
