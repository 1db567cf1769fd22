"""The report's figures: one function per figure.

Each function takes DataFrames (the columns of ``docs/results.md``; a ``run`` column, where
present, names the run a row comes from and the figure averages over runs) and returns a
``plotly.graph_objects.Figure``, or ``None`` where its data are absent. ``colors`` maps a
scheduler label to a colour so that a scheduler keeps its colour across figures; its key
order is the run's scheduler order, which bars, legends and tables follow
(:func:`run_order`). Integer axes get whole-number ticks (:func:`integer_ticks`). The
figures' titles are :data:`TITLES`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.colors import qualitative
from plotly.subplots import make_subplots

from mecsim.report import paper

TITLES = {
    "summary": "Realized and per-slot model cost, and ratios to optimal, per scheduler",
    "iotds.count": "Cost vs number of IoTDs",
    "mecs.count": "Cost vs number of MECs",
    "load": "Cost vs offered load",
    "load_curves": "Realized latency and cost vs offered load, with the largest stable load",
    "loss": "DIRS training: per-agent loss",
    "latency_energy": "Model latency and energy per slot",
    "levy": "Lévy search fitness, proposed vs classic",
    "reward": "Reward per slot",
    "imitation": "Imitation accuracy vs demonstrations, as the paper's Table II",
    "drl": "DRL comparison: training, inference and reward, as the paper's Table III",
    "latency_cdf": "Realized latency distribution (CDF)",
    "energy": "Mean realized energy per scheduler",
    "drops": "Dropped tasks per scheduler and reason",
    "backlog": "MEC backlog over time",
    "per_mec": "Per-MEC utilisation, load share and mean backlog",
    "map": "Map of the area: IoTDs, MECs and placements",
}

MAX_LINE_POINTS = 1500  # points per line after thinning
MAX_CDF_POINTS = 1000
MAP_POINT_BUDGET = 60_000  # IoTD positions over all frames and schedulers of the map
MAP_MAX_FRAMES = 300
DROP_REASONS = ("deadline", "mec_failure", "invalid_decision")
PALETTE = qualitative.Plotly + qualitative.D3 + qualitative.Dark24
#: The map's MEC colours: apart from :data:`PALETTE`, which is the schedulers'.
MEC_PALETTE = qualitative.Set2 + qualitative.Pastel1 + qualitative.Set3
#: The most tick labels an integer axis gets one per value.
MAX_INTEGER_TICKS = 12
#: The CDF figure's point budget over all its lines (settings x schedulers), with at least
#: :data:`MIN_CDF_POINTS` quantiles a line.
CDF_POINT_BUDGET = 60_000
MIN_CDF_POINTS = 200
PAPER_COLOR = "#444444"
#: The cost figures of the overview and sweep figures: (column, axis title), in row order.
#: Realized (simulated) first; the per-slot model's keep their historical column names.
COST_FIGURES = (
    ("realized_cost_per_task", "realized cost per task"),
    ("realized_cost_per_task_ratio_to_optimal", "realized: ratio to optimal"),
    ("mean_cost_per_slot", "per-slot model cost"),
    ("ratio_to_optimal", "per-slot model: ratio to optimal"),
)


#: The sweep key (and ``sweep.parquet`` column) of the offered load (``mecsim.sweep.spec.LOAD``).
LOAD = "load"
LOAD_AXIS = "offered load (share of the network's CPU capacity)"
#: The key under :func:`load_curves`'s title (the report's caption says more).
LOAD_KEY = ("★ largest load at which every seed's run was stable (its backlog does not grow) · "
            "line: mean over seeds · band: smallest to largest seed · open circle: some seed "
            "unstable · dotted: capacity")
#: The panels of :func:`load_curves`: (column, axis title), in row order.
LOAD_FIGURES = (
    ("mean_realized_latency_s", "mean realized latency [s]"),
    ("latency_p95_s", "realized latency p95 [s]"),
    ("realized_cost_per_task", "realized cost per task"),
)


#: The paper's figures of the objective against a grid column, in the paper's scenario.
PAPER_FIGURES = {"iotds.count": "Fig. 9", "mecs.count": "Fig. 10"}
#: The paper's figures that a run's figure reproduces on the paper's scenario.
PAPER_REFS = {"loss": "Fig. 5", "latency_energy": "Fig. 6", "levy": "Fig. 7",
              "reward": "Fig. 8"}


def titled(key: str, paper: bool = False) -> str:
    """``TITLES[key]``, naming the paper's figure (``(paper Fig. 6)``) only with ``paper``.

    ``paper`` is for a run (or sweep) of the paper's own scenario: the figure is then the
    paper's, on its scenario; on any other it is only drawn as the paper draws it.
    """
    ref = PAPER_REFS.get(key) if paper else None
    return f"{TITLES[key]} (paper {ref})" if ref else TITLES[key]


def axis_title(name: str) -> str:
    """Return a readable axis title for a sweep's grid column."""
    return {"iotds.count": "number of IoTDs N", "mecs.count": "number of MECs M",
            "load": LOAD_AXIS}.get(name, name)


def title_for_axis(name: str, paper: bool = False) -> str:
    """Return the title of the sweep's cost figure along grid column ``name``.

    Args:
        name: The grid column.
        paper: The sweep is the paper's (its base scenario is the paper's and only
            ``name`` varies): the title names the paper's figure (``paper Fig. 9``).
    """
    title = TITLES.get(name, f"Cost vs {name}")
    if paper and name in PAPER_FIGURES:
        title += f" (paper {PAPER_FIGURES[name]})"
    return title


def performance_title(name: str) -> str:
    """Return the title of the sweep's latency, energy and drops figure along ``name``."""
    noun = {"iotds.count": "number of IoTDs", "mecs.count": "number of MECs",
            "load": "offered load"}.get(name, name)
    return f"Realized latency, energy and drops vs {noun}"


def palette(names: Sequence[str]) -> dict[str, str]:
    """Give each name a colour, in order."""
    return {name: PALETTE[k % len(PALETTE)] for k, name in enumerate(dict.fromkeys(names))}


def _colors(colors: dict[str, str] | None, names) -> dict[str, str]:
    out = dict(colors or {})
    for name in dict.fromkeys(names):
        if name not in out:
            out[name] = PALETTE[len(out) % len(PALETTE)]
    return out


def run_order(names, colors: dict[str, str] | None) -> list:
    """``names`` (unique) in the order of ``colors``' keys (the run's order), others after.

    :func:`palette` is built in the run's scheduler order, so its key order is that order.
    """
    rank = {name: k for k, name in enumerate(colors or {})}
    unique = list(dict.fromkeys(names))
    return sorted(unique, key=lambda n: (rank.get(n, len(rank)), unique.index(n)))


def integer_ticks(fig: go.Figure, values, axis: str = "x", **where) -> None:
    """Whole-number ticks on an integer axis (slots, updates, demonstrations, MECs).

    At most :data:`MAX_INTEGER_TICKS` distinct values: a tick at each; else plotly's own
    ticks, a step of at least 1, labelled as integers.

    Args:
        fig: The figure.
        values: The axis' values.
        axis: ``"x"`` or ``"y"``.
        **where: ``row``/``col`` of a subplot (default: every axis).
    """
    v = pd.to_numeric(pd.Series(list(values)), errors="coerce").dropna().unique()
    update = fig.update_xaxes if axis == "x" else fig.update_yaxes
    if 0 < len(v) <= MAX_INTEGER_TICKS:
        update(tickmode="array", tickvals=sorted(float(x) for x in v),
               ticktext=[str(int(x)) for x in sorted(v)], **where)
    else:
        update(tickformat="d", tick0=0, **where)
        span = float(v.max() - v.min()) if len(v) else 0.0
        if span <= 2 * MAX_INTEGER_TICKS:
            update(dtick=max(1, math.ceil(span / MAX_INTEGER_TICKS)), **where)


def _present(df: pd.DataFrame | None, *columns: str) -> bool:
    return df is not None and len(df) > 0 and all(c in df.columns for c in columns)


def _order(series: pd.Series) -> list:
    """Unique values in order of appearance."""
    return list(dict.fromkeys(series.tolist()))


def _thin(x: np.ndarray, y: np.ndarray, limit: int = MAX_LINE_POINTS):
    if len(x) <= limit:
        return x, y
    step = math.ceil(len(x) / limit)
    return x[::step], y[::step]


def auto_window(n: int) -> int:
    """Rolling-mean window for a series of ``n`` slots: about n / 20, within [1, 100]."""
    return int(min(100, max(1, round(n / 20))))


def _layout(fig: go.Figure, title: str, **kw) -> go.Figure:
    fig.update_layout(title=title, template="plotly_white", margin={"t": 60, "l": 60, "r": 20},
                      legend={"orientation": "v"}, **kw)
    return fig


def _mean_std(df: pd.DataFrame, keys: list[str], value: str) -> pd.DataFrame:
    grouped = df.groupby(keys, sort=False, dropna=False)[value]
    out = grouped.agg(["mean", "std", "count"]).reset_index()
    out["std"] = out["std"].fillna(0.0)
    return out


# -- overview and sweeps -------------------------------------------------------------------

def _facet_grid(df: pd.DataFrame, x: str, facets: list[str], rows: int, max_facets: int
                ) -> tuple[list[str], list[tuple], go.Figure]:
    """Return the facets that vary besides ``x``, their first combinations, and the figure.

    The figure has ``rows`` rows of panels and one column per combination.
    """
    facets = [f for f in facets if f in df.columns and f != x]
    combos = list(df[facets].drop_duplicates().sort_values(facets).itertuples(index=False)
                  if facets else [()])[:max_facets]
    titles = [", ".join(f"{f}={v}" for f, v in zip(facets, combo, strict=True))
              for combo in combos] if facets else None
    fig = make_subplots(rows=rows, cols=len(combos), shared_xaxes=True, shared_yaxes="rows",
                        subplot_titles=titles, vertical_spacing=0.25 / rows)
    return facets, combos, fig


def _cost_figures(df: pd.DataFrame) -> list[tuple[str, str]]:
    """The :data:`COST_FIGURES` with at least one value in ``df``."""
    return [(c, t) for c, t in COST_FIGURES if c in df.columns and df[c].notna().any()]


def _unstable(df: pd.DataFrame, keys: list[str]) -> set:
    """Keys (tuples of ``keys``' values) of the rows whose run was flagged unstable."""
    if "stable" not in df.columns:
        return set()
    flagged = df["stable"].map(lambda v: isinstance(v, (bool, np.bool_)) and not v)
    return set(df.loc[flagged.astype(bool), keys].itertuples(index=False, name=None))


def scheduler_summary(summary: pd.DataFrame | None,
                      colors: dict[str, str] | None = None) -> go.Figure | None:
    """Bars of the realized and per-slot model costs and their ratios to ``optimal``.

    Panels, where their column has values: realized cost per completed task and its ratio
    to optimal's (top), mean per-slot model cost and the ratio of summed slot costs
    (bottom). Bars of a scheduler flagged unstable in some run are hatched.

    Args:
        summary: One row per run and scheduler, with ``scheduler`` and the columns of
            :data:`COST_FIGURES` (``sweep.parquet``'s names; ``stable`` optional); bars show
            the mean over runs, error bars the standard deviation.
        colors: Scheduler colours.
    """
    if not _present(summary, "scheduler"):
        return None
    panels = _cost_figures(summary)
    if not panels:
        return None
    realized = any(c.startswith("realized") for c, _ in panels)
    place = {c: (1 if c.startswith("realized") or not realized else 2,
                 2 if c.endswith("ratio_to_optimal") else 1) for c, _ in panels}
    rows = max(r for r, _ in place.values())
    cols = max(k for _, k in place.values())
    titles = [""] * (rows * cols)
    for c, title in panels:
        r, k = place[c]
        titles[(r - 1) * cols + k - 1] = title
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, vertical_spacing=0.18)
    colors = _colors(colors, summary["scheduler"])
    unstable = {k[0] for k in _unstable(summary, ["scheduler"])}
    for value, _ in panels:
        stats = _mean_std(summary.dropna(subset=[value]), ["scheduler"], value)
        stats = stats.set_index("scheduler").loc[
            run_order(stats["scheduler"], colors)].reset_index()
        row, col = place[value]
        note = ["unstable in some run" if s in unstable else "" for s in stats["scheduler"]]
        fig.add_bar(x=stats["scheduler"], y=stats["mean"],
                    error_y={"type": "data", "array": stats["std"],
                             "visible": bool((stats["count"] > 1).any())},
                    marker_color=[colors[s] for s in stats["scheduler"]],
                    marker_pattern_shape=["x" if s in unstable else "" for s in
                                          stats["scheduler"]],
                    showlegend=False, customdata=np.stack([stats["count"], note], axis=1),
                    hovertemplate="%{x}: %{y:.4g} (runs: %{customdata[0]}) %{customdata[1]}"
                                  "<extra></extra>", row=row, col=col)
        if col == 2:
            fig.add_hline(y=1.0, line_dash="dot", line_color=PAPER_COLOR, row=row, col=col)
    fig = _layout(fig, TITLES["summary"], height=220 + 220 * rows)
    fig.update_layout(margin={"t": 90})  # the title clear of the panels' titles
    return fig


def sweep_axis(sweep: pd.DataFrame | None, x: str, facets: Sequence[str] = (),
               colors: dict[str, str] | None = None, max_facets: int = 6,
               paper: bool = False) -> go.Figure | None:
    """Costs and their ratios to optimal against column ``x``: :func:`sweep_figures.sweep_axis`.

    Per scheduler the mean over seeds with its 95 % confidence interval, or the median with
    its interquartile range (a button), linear or log y axes (a button); see
    :mod:`mecsim.report.sweep_figures`.
    """
    from mecsim.report import sweep_figures

    return sweep_figures.sweep_axis(sweep, x, facets, colors, max_facets, paper)


def largest_stable_load(sweep: pd.DataFrame | None, x: str = LOAD) -> dict[str, float | None]:
    """Each scheduler's largest load at which every seed's run was ``stable: true``.

    A load counts only when every row of the scheduler at that load (one per seed) is
    complete (where the table says) and has ``stable`` exactly true: a failed, unstable or
    undecided (``null``: too short to tell) run at that load disqualifies it. ``None``: no
    such load (or no ``stable`` column).

    Args:
        sweep: Rows of ``sweep.parquet`` for one setting of the other grid columns, with
            ``scheduler``, ``x`` and ``stable`` (failed rows included: they count).
        x: The load column.
    """
    if not _present(sweep, "scheduler", x):
        return {}
    out: dict[str, float | None] = {}
    for name in _order(sweep["scheduler"]):
        rows = sweep[(sweep["scheduler"] == name) & sweep[x].notna()]
        ok = rows["stable"].map(lambda v: isinstance(v, (bool, np.bool_)) and bool(v)) \
            if "stable" in rows.columns else pd.Series(False, index=rows.index)
        if "complete" in rows.columns:
            ok &= rows["complete"].map(lambda v: isinstance(v, (bool, np.bool_)) and bool(v))
        if "error" in rows.columns:
            ok &= rows["error"].isna() | (rows["error"].astype(str) == "")
        good = ok.groupby(rows[x]).all()
        good = good[good]
        out[name] = float(good.index.max()) if len(good) else None
    return out


def _rgba(color: str, alpha: float) -> str:
    """``#rrggbb`` (or ``rgb(...)``) as ``rgba(..., alpha)``."""
    if color.startswith("#") and len(color) == 7:
        r, g, b = (int(color[k:k + 2], 16) for k in (1, 3, 5))
        return f"rgba({r}, {g}, {b}, {alpha})"
    if color.startswith("rgb(") and color.endswith(")"):
        return f"rgba({color[4:-1]}, {alpha})"
    return color


def _log_ticks(values: pd.Series) -> list[float] | None:
    """Ticks 1, 2, 5 x 10^k over the positive values' range (None: plotly's own)."""
    v = pd.to_numeric(values, errors="coerce")
    v = v[(v > 0) & np.isfinite(v)]
    if v.empty:
        return None
    lo, hi = float(v.min()), float(v.max())
    ticks = [m * 10.0 ** k for k in range(math.floor(math.log10(lo)) - 1,
                                          math.ceil(math.log10(hi)) + 1) for m in (1, 2, 5)]
    inside = [t for t in ticks if lo / 2.5 <= t <= hi * 2.5]
    return inside if len(inside) >= 2 else None


#: Line styles by scheduler order: schedulers that coincide (lydroo on lyapunov) stay visible.
DASHES = ("solid", "dash", "dot", "dashdot", "longdash", "longdashdot")


def load_curves(sweep: pd.DataFrame | None, x: str = LOAD, facets: Sequence[str] = (),
                colors: dict[str, str] | None = None, max_facets: int = 6) -> go.Figure | None:
    """Realized latency (mean, p95) and cost per task against the offered load.

    One row of panels per :data:`LOAD_FIGURES` column with values, log y axes. Per scheduler
    (``legendgroup`` = its label; each trace's ``meta`` is ``{"scheduler", "kind"}``): a
    band from the smallest to the largest seed's value (``kind`` ``spread``), the mean over
    seeds (``mean``; an open circle where some seed's run was unstable; its legend entry
    says ``stable up to load L`` or ``never stable``, without facets) and a star at its
    largest stable load (``stable``: :func:`largest_stable_load`) on the mean line. A dotted
    vertical line marks load 1, the network's CPU capacity; :data:`LOAD_KEY`, under the
    title, says what the marks mean. Where other grid columns
    (``facets``) vary too, one column of panels per combination of their values.

    Args:
        sweep: Rows of ``sweep.parquet`` with the load column ``x``, failed rows included
            (they are left out of the curves, and disqualify their load as stable).
        x: The load column.
        facets: The other grid columns that vary.
        colors: Scheduler colours.
        max_facets: Most panel columns drawn.
    """
    if not _present(sweep, x, "scheduler"):
        return None
    df = sweep[sweep[x].notna()]
    ok = pd.Series(True, index=df.index)
    if "complete" in df.columns:
        ok &= df["complete"].map(lambda v: isinstance(v, (bool, np.bool_)) and bool(v))
    if "error" in df.columns:
        ok &= df["error"].isna() | (df["error"].astype(str) == "")
    good = df[ok]
    panels = [(c, t) for c, t in LOAD_FIGURES if c in good.columns and good[c].notna().any()]
    if not panels:
        return None
    rows = len(panels)
    facets, combos, fig = _facet_grid(df, x, facets, rows, max_facets)
    colors = _colors(colors, df["scheduler"])
    for col, combo in enumerate(combos, start=1):
        part, part_ok = df, good
        for f, v in zip(facets, combo, strict=True):
            part, part_ok = part[part[f] == v], part_ok[part_ok[f] == v]
        stable_at = largest_stable_load(part, x)
        unstable = _unstable(part, ["scheduler", x])
        for k, name in enumerate(_order(part["scheduler"])):
            mark = stable_at.get(name)
            where = "" if facets else (" (never stable)" if mark is None
                                       else f" (stable up to load {mark:g})")
            rows_s = part_ok[part_ok["scheduler"] == name]
            first = True
            for row, (value, _) in enumerate(panels, 1):
                data = rows_s.dropna(subset=[value])
                if data.empty:
                    continue
                stats = data.groupby(x)[value].agg(["mean", "min", "max", "count"]) \
                    .sort_index()
                xs = stats.index.to_numpy(dtype=float)
                fig.add_scatter(
                    x=np.concatenate([xs, xs[::-1]]),
                    y=np.concatenate([stats["max"].to_numpy(), stats["min"].to_numpy()[::-1]]),
                    fill="toself", fillcolor=_rgba(colors[name], 0.18), mode="lines",
                    line={"width": 0, "color": colors[name]}, hoverinfo="skip",
                    name=f"{name} seed range", legendgroup=name, showlegend=False,
                    meta={"scheduler": name, "kind": "spread"}, row=row, col=col)
                flagged = [(name, v) in unstable for v in stats.index]
                fig.add_scatter(
                    x=xs, y=stats["mean"], mode="lines+markers", name=f"{name}{where}",
                    legendgroup=name, showlegend=(col == 1 and first),
                    line={"color": colors[name], "dash": DASHES[k % len(DASHES)]},
                    marker_symbol=["circle-open" if f else "circle" for f in flagged],
                    customdata=np.stack([stats["min"], stats["max"], stats["count"],
                                         ["unstable" if f else "" for f in flagged]], axis=1),
                    hovertemplate=(f"{name}<br>load %{{x:.0%}}<br>mean %{{y:.4g}} (seeds: "
                                   "%{customdata[2]}, min %{customdata[0]:.4g}, max "
                                   "%{customdata[1]:.4g}) %{customdata[3]}<extra></extra>"),
                    meta={"scheduler": name, "kind": "mean"}, row=row, col=col)
                first = False
                if mark is not None and mark in stats.index:
                    fig.add_scatter(
                        x=[mark], y=[float(stats.loc[mark, "mean"])], mode="markers",
                        name=f"{name}: largest stable load", legendgroup=name,
                        showlegend=False,
                        marker={"symbol": "star", "size": 15, "color": colors[name],
                                "line": {"width": 1, "color": "black"}},
                        hovertemplate=(f"{name}: largest load with every seed stable: "
                                       "%{x:.0%}<br>%{y:.4g}<extra></extra>"),
                        meta={"scheduler": name, "kind": "stable"}, row=row, col=col)
        fig.update_xaxes(title_text=LOAD_AXIS, row=rows, col=col)
        values = np.sort(df[x].unique().astype(float))
        if values.min() <= 1.0 <= values.max():
            for row in range(1, rows + 1):
                fig.add_vline(x=1.0, line_dash="dot", line_color=PAPER_COLOR, row=row, col=col,
                              **({"annotation_text": "capacity",
                                  "annotation_position": "top left"} if row == 1 else {}))
    fig.update_xaxes(tickformat=".0%")
    if len(values) <= 16:
        fig.update_xaxes(tickmode="array", tickvals=values.tolist())
    for row, (value, title) in enumerate(panels, 1):
        fig.update_yaxes(title_text=title, type="log", row=row,
                         tickvals=_log_ticks(good[value]), tickformat=".3~g")
    return _layout(fig, f"{TITLES['load_curves']}<br><sup>{LOAD_KEY}</sup>",
                   height=300 + 260 * rows)


# -- DIRS training -------------------------------------------------------------------------

def training_loss(training: pd.DataFrame | None, colors: dict[str, str] | None = None,
                  max_series: int = 24, paper_scenario: bool = False) -> go.Figure | None:
    """Each agent's loss against its update count (pre-training, then online).

    Args:
        training: ``training.parquet`` rows (``kind == "update"`` are used), with an
            optional ``run`` column; the update index counts each agent's updates in file
            order, and lines are means over runs.
        colors: Scheduler colours, for the run's order only (one colour per agent; the
            default order is the table's).
        max_series: Most (scheduler, agent) lines drawn.
        paper_scenario: Whether the run is of the paper's scenario: the title names its
            figure.
    """
    if not _present(training, "kind", "loss", "agent"):
        return None
    df = training[(training["kind"] == "update") & training["loss"].notna()].copy()
    if df.empty:
        return None
    if "run" not in df.columns:
        df["run"] = ""
    df["update"] = df.groupby(["run", "scheduler", "agent"], sort=False).cumcount()
    series = df[["scheduler", "agent"]].drop_duplicates()
    rank = {name: k for k, name in enumerate(run_order(series["scheduler"], colors))}
    series = series.assign(rank=series["scheduler"].map(rank)).sort_values(
        ["rank", "agent"]).drop(columns="rank")  # schedulers in the run's order
    fig = go.Figure()
    agent_colors = palette([int(a) for a in sorted(df["agent"].unique())])
    for k, (name, agent) in enumerate(series.itertuples(index=False)):
        if k >= max_series:
            break
        part = df[(df["scheduler"] == name) & (df["agent"] == agent)]
        curve = part.groupby("update")["loss"].mean()
        x, y = _thin(curve.index.to_numpy(), curve.to_numpy())
        multi = df["scheduler"].nunique() > 1
        fig.add_scatter(x=x, y=y, mode="lines",
                        name=f"{name} · agent {int(agent)}" if multi else f"agent {int(agent)}",
                        line_color=agent_colors[int(agent)],
                        line_dash=["solid", "dash", "dot", "dashdot"][
                            _order(series["scheduler"]).index(name) % 4])
    pre = df[df["loss_name"].isin(["L_I", "L_D"])] if "loss_name" in df.columns else df[:0]
    if not pre.empty and len(pre) < len(df):
        end = pre.groupby(["run", "scheduler", "agent"])["update"].max().min() + 0.5
        fig.add_vline(x=end, line_dash="dot", line_color=PAPER_COLOR,
                      annotation_text="pre-training | online", annotation_position="top")
    fig.add_hline(y=paper.FIG5_LOSS, line_dash="dot", line_color="#aa3333",
                  annotation_text=f"paper, its scenario: ≈{paper.FIG5_LOSS} after "
                                  f"≈{paper.FIG5_UPDATES} updates",
                  annotation_position="bottom right")
    fig.update_xaxes(title_text="update")
    integer_ticks(fig, df["update"])
    fig.update_yaxes(title_text="loss (L_I / L_D pre-training, L_A online)")
    return _layout(fig, titled("loss", paper_scenario), height=420)


def _windows(fig: go.Figure, windows: dict[str, tuple[float, float]] | None, rows: int) -> None:
    for name, (lo, hi) in (windows or {}).items():
        for row in range(1, rows + 1):
            fig.add_vrect(x0=lo, x1=hi, fillcolor="#888888", opacity=0.08, line_width=0,
                          row=row, col=1)
        fig.add_annotation(x=lo, y=1.0, yref="paper", xanchor="left", showarrow=False,
                           text=f"{name}: online training", font={"size": 10})
        break  # one band: the first learning scheduler's


def latency_energy(per_slot: pd.DataFrame | None,
                   windows: dict[str, tuple[float, float]] | None = None,
                   colors: dict[str, str] | None = None,
                   window: int | None = None,
                   paper_scenario: bool = False) -> go.Figure | None:
    """Rolling mean of each slot's model latency (top) and energy (bottom), per scheduler.

    :func:`sweep_figures.slot_curves`: in a run one line per scheduler; in a sweep (a
    ``setting`` column) one grid setting at a time (a dropdown), the mean over seeds with
    its 95 % interval as a band. The y range leaves out a start-up transient.

    Args:
        per_slot: ``scheduler, slot, latency_s, energy_j`` (``slots.parquet``'s
            ``model_latency_s`` / ``model_energy_j``), optional ``run`` (averaged over;
            in a sweep, the seeds) and ``setting`` (a sweep's grid setting).
        windows: ``{scheduler: (first, last)}`` online-training slots, shaded.
        colors: Scheduler colours.
        window: Rolling window in slots (default: :func:`auto_window`).
        paper_scenario: Whether the run is of the paper's scenario: the title names its
            figure.
    """
    from mecsim.report.sweep_figures import slot_curves

    return slot_curves(per_slot, (("latency_s", "latency per slot [s]"),
                                  ("energy_j", "energy per slot [J]")),
                       titled("latency_energy", paper_scenario), windows, colors, window)


def levy_fitness(training: pd.DataFrame | None,
                 colors: dict[str, str] | None = None, paper_scenario: bool = False
                 ) -> go.Figure | None:
    """Mean best objective per Lévy iteration, one line per (scheduler, mode).

    Args:
        training: ``training.parquet`` rows (``kind == "levy"`` are used).
        colors: Unused (proposed and classic have fixed colours).
        paper_scenario: Whether the run is of the paper's scenario: the title names its
            figure.
    """
    if not _present(training, "kind", "mode", "iteration", "fitness"):
        return None
    df = training[(training["kind"] == "levy") & training["fitness"].notna()]
    if df.empty:
        return None
    fig = go.Figure()
    mode_color = {"proposed": "#1f77b4", "classic": "#d62728"}
    multi = df["scheduler"].nunique() > 1
    for name in _order(df["scheduler"]):
        for mode in _order(df[df["scheduler"] == name]["mode"]):
            part = df[(df["scheduler"] == name) & (df["mode"] == mode)]
            stats = _mean_std(part, ["iteration"], "fitness").sort_values("iteration")
            searches = int(stats["count"].max())
            fig.add_scatter(x=stats["iteration"], y=stats["mean"], mode="lines",
                            name=(f"{name} · {mode}" if multi else str(mode))
                            + f" ({searches} searches)",
                            line_color=mode_color.get(str(mode)),
                            hovertemplate=f"{mode}<br>G=%{{x}}<br>%{{y:.4g}}<extra></extra>")
    fig.update_xaxes(title_text="iteration G")
    integer_ticks(fig, df["iteration"])
    fig.update_yaxes(title_text="best objective (fitness), mean over searches")
    return _layout(fig, titled("levy", paper_scenario), height=420)


def reward(per_slot: pd.DataFrame | None,
           windows: dict[str, tuple[float, float]] | None = None,
           colors: dict[str, str] | None = None,
           window: int | None = None,
           paper_scenario: bool = False) -> go.Figure | None:
    """Rolling mean of the reward ``1 / objective`` per slot, one line per scheduler.

    As :func:`latency_energy`: in a sweep one grid setting at a time, with bands.

    Args:
        per_slot: ``scheduler, slot, reward``, optional ``run`` and ``setting``.
        windows: ``{scheduler: (first, last)}`` online-training slots, shaded.
        colors: Scheduler colours.
        window: Rolling window in slots (default: :func:`auto_window`).
        paper_scenario: Whether the run is of the paper's scenario: the title names its
            figure.
    """
    from mecsim.report.sweep_figures import slot_curves

    return slot_curves(per_slot, (("reward", "reward 1 / objective"),),
                       titled("reward", paper_scenario), windows, colors, window)


# -- tables II and III ---------------------------------------------------------------------

def _pm(mean: float, std: float, n: int, fmt: str) -> str:
    if mean is None or not np.isfinite(mean):
        return "-"
    text = format(mean, fmt)
    if n > 1 and np.isfinite(std):
        text += " ± " + format(std, fmt)
    return text


def imitation_accuracy(training: pd.DataFrame | None) -> go.Figure | None:
    """Accuracy after pre-training against the number of demonstrations, per loss and split.

    Beside it, a table of ours (mean ± std over runs) and the paper's values.

    Args:
        training: ``training.parquet`` rows (``kind == "imitation"`` are used), optional
            ``run``.
    """
    if not _present(training, "kind", "accuracy", "split", "demonstrations", "step"):
        return None
    df = training[(training["kind"] == "imitation") & training["accuracy"].notna()].copy()
    if df.empty:
        return None
    if "run" not in df.columns:
        df["run"] = ""
    df["loss_name"] = df.get("loss_name", pd.Series("?", index=df.index)).fillna("?")
    # the DIRS variant: the scheduler's label without its loss suffix ("dirs_shared_L_I")
    df["variant"] = [str(label).removesuffix(f"_{loss}")
                     for label, loss in zip(df["scheduler"], df["loss_name"], strict=True)]
    keys = ["run", "scheduler", "loss_name", "demonstrations"]
    last = df["step"] == df.groupby(keys)["step"].transform("max")
    first = df["step"] == df.groupby(keys)["step"].transform("min")
    series = ["variant", "loss_name", "demonstrations", "split"]
    after = _mean_std(df[last], series, "accuracy")
    before = _mean_std(df[first], series, "accuracy")
    fig = make_subplots(rows=1, cols=2, column_widths=[0.52, 0.48], horizontal_spacing=0.06,
                        specs=[[{"type": "xy"}, {"type": "table"}]])
    colors = {("L_I", "train"): "#1f77b4", ("L_I", "test"): "#17becf",
              ("L_D", "train"): "#d62728", ("L_D", "test"): "#ff7f0e"}
    variants = _order(df["variant"])
    shared_loss = bool((after.groupby("loss_name")["variant"].nunique() > 1).any())
    dashes = dict(zip(variants, ["solid", "dash", "dot", "dashdot"] * len(variants),
                      strict=False))
    groups = after.groupby(["variant", "loss_name", "split"], sort=True)
    for (variant, loss, split), part in sorted(groups, key=lambda g: variants.index(g[0][0])):
        part = part.sort_values("demonstrations")
        name = f"{variant} {loss} {split}" if shared_loss else f"{loss} {split}"
        fig.add_scatter(x=part["demonstrations"], y=100 * part["mean"], mode="lines+markers",
                        name=name, line={"color": colors.get((loss, split)),
                                         "dash": dashes[variant]},
                        error_y={"type": "data", "array": 100 * part["std"], "visible": True},
                        row=1, col=1)
    for (loss, split), value in paper.TABLE2_ACCURACY.items():
        fig.add_scatter(x=[paper.TABLE2_DEMONSTRATIONS], y=[100 * value], mode="markers",
                        name=f"paper {loss} {split} (its scenario)",
                        marker={"symbol": "star", "size": 12,
                                "color": colors.get((loss, split), PAPER_COLOR),
                                "line": {"width": 1, "color": "black"}},
                        row=1, col=1)
    fig.update_xaxes(title_text="demonstrations", row=1, col=1)
    demos = pd.Series(list(df["demonstrations"]) + [paper.TABLE2_DEMONSTRATIONS], dtype=float)
    integer_ticks(fig, demos, row=1, col=1)
    if demos.min() > 0 and demos.max() / demos.min() >= 8:  # counts spread over decades
        fig.update_xaxes(type="log", row=1, col=1)
    fig.update_yaxes(title_text="accuracy of the vote [%]", row=1, col=1)
    rank = {v: k for k, v in enumerate(_order(df["variant"]))}  # the run's order
    table = after.merge(before, on=series, suffixes=("", "_before"))
    table = table.assign(rank=table["variant"].map(rank)).sort_values(
        ["rank", *series[1:]]).drop(columns="rank")
    rows = [[r.variant, r.loss_name, int(r.demonstrations), r.split,
             _pm(100 * r.mean_before, 100 * r.std_before, r.count_before, ".1f"),
             _pm(100 * r.mean, 100 * r.std, r.count, ".1f")] for r in table.itertuples()]
    published = [["paper (its scenario)", loss, paper.TABLE2_DEMONSTRATIONS, split, "-",
                  f"{100 * value:.1f}"]
                 for (loss, split), value in paper.TABLE2_ACCURACY.items()]
    fig.add_table(
        header={"values": ["source", "loss", "demos", "split", "before [%]", "after [%]"],
                "fill_color": "#e8e8e8", "align": "left"},
        cells={"values": [list(col) for col in zip(*(rows + published), strict=True)],
               "fill_color": [["white"] * len(rows) + ["#f4f4f4"] * len(published)],
               "align": "left", "height": 24},
        columnwidth=[1.8, 0.7, 0.8, 0.8, 0.9, 0.9], row=1, col=2)
    return _layout(fig, TITLES["imitation"], height=440)


def drl_comparison(rows: pd.DataFrame | None,
                   colors: dict[str, str] | None = None) -> go.Figure | None:
    """Table III: training time, inference time, average reward, ours beside the paper's.

    The table lists ours (each scheduler's name in its colour, in the run's order), then
    the paper's rows, marked as the paper's on its scenario. The bar chart shows our
    average reward only: the paper's rewards are for its scenario, not on our scale, so
    they stay in the table.

    Args:
        rows: One row per run and learning scheduler: ``scheduler`` (label), ``name``
            (registered name, to find the paper's row), ``train_s``, ``inference_s``,
            ``reward``, ``ratio_to_optimal``.
        colors: Scheduler colours, in the run's order.
    """
    if not _present(rows, "scheduler", "train_s", "inference_s", "reward"):
        return None
    colors = _colors(colors, rows["scheduler"])
    ours = []
    for name in run_order(rows["scheduler"], colors):
        part = rows[rows["scheduler"] == name]
        n = len(part)
        cells = {"scheduler": name, "source": f"mecsim ({n} run{'s' * (n > 1)})"}
        for col, fmt in (("train_s", ".1f"), ("inference_s", ".3g"), ("reward", ".4g"),
                         ("ratio_to_optimal", ".3f")):
            values = part[col].dropna() if col in part.columns else pd.Series(dtype=float)
            cells[col] = _pm(values.mean() if len(values) else float("nan"),
                             values.std() if len(values) > 1 else float("nan"), len(values), fmt)
        cells["_reward"] = part["reward"].mean()
        ours.append(cells)
    published = [{"scheduler": p["label"], "source": "paper (its scenario: N = 30, M = 2)",
                  "train_s": f"{p['train_s']:.2f}", "inference_s": f"{p['inference_s']:.4f}",
                  "reward": f"{p['reward']:.4f}", "ratio_to_optimal": "-"}
                 for p in paper.TABLE3.values()]
    table = ours + published
    bars = [r for r in ours if np.isfinite(r["_reward"])]
    specs = [[{"type": "table"}, {"type": "xy"}]] if bars else [[{"type": "table"}]]
    fig = make_subplots(rows=1, cols=len(specs[0]), specs=specs, horizontal_spacing=0.08,
                        column_widths=[0.7, 0.3] if bars else None,
                        subplot_titles=["", "mecsim: average reward (ours only)"]
                        if bars else None)
    name_colors = [colors[r["scheduler"]] for r in ours] + [PAPER_COLOR] * len(published)
    fig.add_table(
        header={"values": ["scheduler", "source", "training time [s]", "inference [s/slot]",
                           "average reward", "ratio to optimal"],
                "fill_color": "#e8e8e8", "align": "left"},
        cells={"values": [[r[c] for r in table] for c in (
            "scheduler", "source", "train_s", "inference_s", "reward", "ratio_to_optimal")],
            "fill_color": [["white"] * len(ours) + ["#f4f4f4"] * len(published)],
            "font": {"color": [name_colors] + [["#222222"] * len(table)] * 5},
            "align": "left", "height": 24},
        columnwidth=[1.1, 2.4, 1.1, 1.1, 1.1, 1.0], row=1, col=1)
    if bars:
        fig.add_bar(x=[r["scheduler"] for r in bars], y=[r["_reward"] for r in bars],
                    name="mecsim", marker_color=[colors[r["scheduler"]] for r in bars],
                    showlegend=False, row=1, col=2)
        fig.update_yaxes(title_text="average reward 1 / objective", row=1, col=2)
    return _layout(fig, TITLES["drl"], height=max(380, 170 + 30 * len(table)))


# -- realized performance ------------------------------------------------------------------

def latency_cdf(tasks: pd.DataFrame | None, colors: dict[str, str] | None = None,
                points: int = MAX_CDF_POINTS) -> go.Figure | None:
    """Empirical CDF of the realized latency of completed tasks, one line per scheduler.

    Lines in the run's order (``colors``' keys); a line of more than ``points`` tasks is
    thinned to ``points`` evenly spaced quantiles.

    Args:
        tasks: ``scheduler, status, realized_latency_s`` (every seed's rows, pooled).
        colors: Scheduler colours, in the run's order.
        points: Most points a line.
    """
    if not _present(tasks, "scheduler", "status", "realized_latency_s"):
        return None
    df = tasks[(tasks["status"] == "completed") & tasks["realized_latency_s"].notna()]
    if df.empty:
        return None
    colors = _colors(colors, df["scheduler"])
    fig = go.Figure()
    for name in run_order(df["scheduler"], colors):
        values = np.sort(df.loc[df["scheduler"] == name, "realized_latency_s"].to_numpy())
        n = len(values)
        if n > points:
            p = np.linspace(0.0, 1.0, points)
            x, y = np.quantile(values, p), p
        else:
            x, y = values, np.arange(1, n + 1) / n
        fig.add_scatter(x=x, y=y, mode="lines", line_shape="hv", name=f"{name} ({n} tasks)",
                        line_color=colors[name], legendgroup=name, meta={"scheduler": name},
                        hovertemplate=f"{name}<br>%{{x:.4g}} s: %{{y:.3f}}<extra></extra>")
    fig.update_xaxes(title_text="realized latency [s]")
    fig.update_yaxes(title_text="fraction of completed tasks", range=[0, 1.02])
    return _layout(fig, TITLES["latency_cdf"], height=420)


def cdf_points(lines: int) -> int:
    """Quantiles a CDF line keeps when the page holds ``lines`` of them (settings x names)."""
    return int(min(MAX_CDF_POINTS, max(MIN_CDF_POINTS, CDF_POINT_BUDGET // max(1, lines))))


def energy(tasks: pd.DataFrame | None, colors: dict[str, str] | None = None) -> go.Figure | None:
    """Mean realized energy per completed task, per scheduler (hover: std and count).

    Args:
        tasks: ``scheduler, status, realized_energy_j`` (every seed's rows, pooled).
        colors: Scheduler colours, in the run's order (the bars' order).
    """
    if not _present(tasks, "scheduler", "status", "realized_energy_j"):
        return None
    df = tasks[(tasks["status"] == "completed") & tasks["realized_energy_j"].notna()]
    if df.empty:
        return None
    colors = _colors(colors, df["scheduler"])
    stats = _mean_std(df, ["scheduler"], "realized_energy_j").set_index("scheduler") \
        .loc[run_order(df["scheduler"], colors)].reset_index()
    fig = go.Figure(go.Bar(x=stats["scheduler"], y=stats["mean"], name="energy",
                           marker_color=[colors[s] for s in stats["scheduler"]],
                           customdata=np.stack([stats["std"], stats["count"]], axis=1),
                           hovertemplate="%{x}: %{y:.4g} J (std %{customdata[0]:.3g} J, "
                                         "%{customdata[1]} tasks)<extra></extra>"))
    fig.update_yaxes(title_text="energy per completed task [J]")
    return _layout(fig, TITLES["energy"], height=380)


def drops(tasks: pd.DataFrame | None, colors: dict[str, str] | None = None) -> go.Figure | None:
    """Stacked bars of dropped tasks per scheduler, by reason; None when none dropped.

    Args:
        tasks: ``scheduler, status, drop_reason`` (every seed's rows, pooled).
        colors: Scheduler colours, in the run's order (the bars' order; the bars are
            coloured by reason).
    """
    if not _present(tasks, "scheduler", "status"):
        return None
    names = run_order(tasks["scheduler"], colors)
    dropped = tasks[tasks["status"] == "dropped"]
    if dropped.empty:
        return None
    reason = (dropped["drop_reason"].fillna("unknown") if "drop_reason" in dropped.columns
              else pd.Series("unknown", index=dropped.index))
    counts = dropped.assign(reason=reason).groupby(["scheduler", "reason"]).size()
    reasons = [r for r in DROP_REASONS if r in set(reason)] \
        + sorted(set(reason) - set(DROP_REASONS))
    generated = tasks.groupby("scheduler").size()
    fig = go.Figure()
    for k, why in enumerate(reasons):
        fig.add_bar(x=names, y=[int(counts.get((s, why), 0)) for s in names], name=why,
                    marker_color=qualitative.Set2[DROP_REASONS.index(why) if why in
                                                  DROP_REASONS else k % len(qualitative.Set2)],
                    customdata=[int(generated.get(s, 0)) for s in names],
                    hovertemplate=f"%{{x}}: %{{y}} of %{{customdata}} tasks ({why})"
                                  "<extra></extra>")
    fig.update_layout(barmode="stack", showlegend=True, legend_title_text="reason")
    fig.update_yaxes(title_text="dropped tasks", rangemode="tozero", tickformat="d")
    return _layout(fig, TITLES["drops"], height=380)


def backlog(slots: pd.DataFrame | None, colors: dict[str, str] | None = None,
            max_panels: int = 4, mec_panels: bool | None = None) -> go.Figure | None:
    """Tasks uploading to or in service at each MEC when each slot began, per scheduler.

    One panel per MEC up to ``max_panels`` MECs; beyond, the total over MECs (each MEC's
    mean is in :func:`per_mec`). A last panel shows every task not yet ended
    (``backlog_tasks_total``), where the run has it. With several runs (seeds), a line is
    the mean over runs at each slot.

    Args:
        slots: ``scheduler, slot, backlog_tasks_1 ...``.
        colors: Scheduler colours, in the run's order.
        max_panels: Most MEC panels.
        mec_panels: One panel per MEC (True) or the total (False); default: per MEC up to
            ``max_panels``. The report fixes it so that every grid setting's figure has the
            same panels.
    """
    if not _present(slots, "scheduler", "slot"):
        return None
    cols = sorted((c for c in slots.columns if c.startswith("backlog_tasks_")
                   and c.rsplit("_", 1)[1].isdigit() and slots[c].notna().any()),
                  key=lambda c: int(c.rsplit("_", 1)[1]))
    if not cols:
        return None
    df = slots.copy()
    if mec_panels is None:
        mec_panels = len(cols) <= max_panels
    if not mec_panels:
        df["backlog_mecs"] = df[cols].sum(axis=1, min_count=1)
        panels = [("backlog_mecs", "all MECs together" if len(cols) > 1 else "MEC 1")]
    else:
        panels = [(c, f"MEC {c.rsplit('_', 1)[1]}") for c in cols]
    if "backlog_tasks_total" in df.columns and df["backlog_tasks_total"].notna().any():
        panels.append(("backlog_tasks_total", "every task not ended (IoTDs and MECs)"))
    colors = _colors(colors, df["scheduler"])
    fig = make_subplots(rows=len(panels), cols=1, shared_xaxes=True,
                        vertical_spacing=min(0.12, 0.3 / len(panels)),
                        subplot_titles=[p[1] for p in panels])
    for row, (col, _) in enumerate(panels, start=1):
        for name in run_order(df["scheduler"], colors):
            curve = df[df["scheduler"] == name].groupby("slot")[col].mean().sort_index()
            x, y = _thin(curve.index.to_numpy(), curve.to_numpy())
            fig.add_scatter(x=x, y=y, mode="lines", line_shape="hv", name=name,
                            legendgroup=name, showlegend=row == 1, line_color=colors[name],
                            meta={"scheduler": name}, row=row, col=1)
        fig.update_yaxes(title_text="tasks", rangemode="tozero", row=row, col=1)
    fig.update_xaxes(title_text="slot", row=len(panels), col=1)
    integer_ticks(fig, df["slot"])
    return _layout(fig, TITLES["backlog"], height=220 + 200 * len(panels))


def per_mec(table: pd.DataFrame | None,
            colors: dict[str, str] | None = None) -> go.Figure | None:
    """Per MEC (x) and scheduler (grouped bars): utilisation, load share, mean backlog.

    One row of panels per :data:`mecsim.report.per_mec.PER_MEC_VALUES` column with values;
    every MEC is drawn, however many.

    Args:
        table: :func:`mecsim.report.per_mec.per_mec_table`'s rows.
        colors: Scheduler colours, in the run's order (the bars' order).
    """
    from mecsim.report.per_mec import PER_MEC_VALUES

    if not _present(table, "scheduler", "mec"):
        return None
    panels = [(c, t) for c, t in PER_MEC_VALUES if c in table.columns
              and table[c].notna().any()]
    if not panels:
        return None
    colors = _colors(colors, table["scheduler"])
    names = run_order(table["scheduler"], colors)
    offloaded = table.groupby("scheduler", sort=False)["placed"].sum()
    idle = [n for n in names if not offloaded.get(n, 0)]  # e.g. local: no bar anywhere
    names = [n for n in names if n not in idle]
    if not names:
        return None
    percent = {"utilisation", "load_share"}
    fig = make_subplots(rows=len(panels), cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=[t for _, t in panels])
    for row, (value, _) in enumerate(panels, start=1):
        for name in names:
            # every scheduler keeps its slot in every panel (NaN: no bar), so bars align
            part = table[table["scheduler"] == name]
            scale = 100.0 if value in percent else 1.0
            fig.add_bar(x=part["mec"], y=scale * part[value], name=name, legendgroup=name,
                        showlegend=row == 1, marker_color=colors[name], offsetgroup=name,
                        meta={"scheduler": name},
                        customdata=np.stack([part["placed"], part["offloaded"]], axis=1),
                        hovertemplate=(f"{name}<br>MEC %{{x}}: %{{y:.3g}}"
                                       + (" %" if value in percent else " tasks")
                                       + "<br>tasks placed: %{customdata[0]} of "
                                         "%{customdata[1]} offloaded<extra></extra>"),
                        row=row, col=1)
        fig.update_yaxes(title_text="%" if value in percent else "tasks", rangemode="tozero",
                         row=row, col=1)
    fig.update_xaxes(title_text="MEC", row=len(panels), col=1)
    integer_ticks(fig, table["mec"])
    fig.update_layout(barmode="group")
    title = TITLES["per_mec"]
    if idle:
        title += f"<br><sup>not drawn (no task offloaded): {', '.join(idle)}</sup>"
    return _layout(fig, title, height=200 + 200 * len(panels))


# -- the map -------------------------------------------------------------------------------

def _map_title(name: str, colors: dict[str, str] | None) -> str:
    """The map's title, naming the scheduler shown in its colour."""
    if not name:
        return TITLES["map"]
    color = (colors or {}).get(name, "#222222")
    return f"{TITLES['map']}: <span style='color:{color}'><b>{name}</b></span>"


def placement_map(positions: pd.DataFrame | None, tasks: pd.DataFrame | None = None,
                  mec_positions: Sequence[Sequence[float]] | None = None,
                  area_m: Sequence[float] | None = None,
                  schedulers: Sequence[str] | None = None,
                  max_frames: int = MAP_MAX_FRAMES,
                  point_budget: int = MAP_POINT_BUDGET,
                  colors: dict[str, str] | None = None) -> go.Figure | None:
    """Animated map: IoTDs moving, MECs, and each IoTD's placement per slot.

    IoTDs are coloured by where their task of the slot ran (local, MEC ``j``, or no task);
    a line joins an offloading IoTD to its MEC. A dropdown picks the scheduler (the first
    by default); a slider and play button step through the slots (every ``stride``-th slot
    when the run is long, so that the page stays small: the slider's title says so).

    Args:
        positions: ``slot, iotd, x_m, y_m`` (``positions.parquet``).
        tasks: ``scheduler, slot, iotd, target[, task_id]``; without it IoTDs are uncoloured.
        mec_positions: ``(M, 2)`` MEC positions [m], or None (no MEC markers).
        area_m: ``(width, height)`` [m], or None (the positions' extent).
        schedulers: Which schedulers, in order (default: all in ``tasks``, in the run's
            order).
        max_frames: Most frames.
        point_budget: Most IoTD points over all frames and schedulers.
        colors: Scheduler colours, in the run's order: the title names the scheduler shown
            in its colour (MECs get colours of their own, :data:`MEC_PALETTE`).
    """
    if not _present(positions, "slot", "iotd", "x_m", "y_m"):
        return None
    pos = positions.sort_values(["slot", "iotd"])
    all_slots = np.sort(pos["slot"].unique())
    have_tasks = _present(tasks, "scheduler", "slot", "iotd", "target")
    names = list(schedulers) if schedulers else (
        run_order(tasks["scheduler"], colors) if have_tasks else [])
    names = names or [""]
    n_iotds = int(pos["iotd"].nunique())
    mecs = np.asarray(mec_positions, dtype=float).reshape(-1, 2) if mec_positions is not None \
        else np.zeros((0, 2))
    n_mecs = max(len(mecs), int(tasks["target"].max()) if have_tasks and len(tasks) else 0)
    stride = max(1, math.ceil(len(all_slots) / max_frames),
                 math.ceil(len(all_slots) * len(names) * n_iotds / point_budget))
    shown = all_slots[::stride]

    categories = ["no task", "local"] + [f"MEC {j}" for j in range(1, n_mecs + 1)] \
        if have_tasks else ["IoTD"]
    cat_color = {"no task": "#c8c8c8", "local": "#555555", "IoTD": "#1f77b4"}
    for j in range(1, n_mecs + 1):
        cat_color[f"MEC {j}"] = MEC_PALETTE[(j - 1) % len(MEC_PALETTE)]

    placement: dict[str, pd.Series] = {}
    if have_tasks:
        t = tasks[tasks["slot"].isin(shown)]
        if "task_id" in t.columns:
            t = t.sort_values("task_id")
        last = t.groupby(["scheduler", "slot", "iotd"])["target"].last()
        for name in names:
            placement[name] = last.xs(name, level="scheduler") if name in \
                last.index.get_level_values(0) else pd.Series(dtype=float)

    frames_by_slot = {int(s): g for s, g in pos[pos["slot"].isin(shown)].groupby("slot")}

    def slot_traces(slot: int, name: str) -> list[dict]:
        g = frames_by_slot[slot]
        if have_tasks:
            where = placement[name]
            keys = pd.MultiIndex.from_arrays([np.full(len(g), slot), g["iotd"].to_numpy()])
            target = where.reindex(keys).to_numpy() if len(where) else np.full(len(g), np.nan)
        else:
            target = np.full(len(g), np.nan)
        label = np.array([categories[0] if v != v else ("local" if v == 0 else f"MEC {int(v)}")
                          for v in target], dtype=object)
        out = []
        xs, ys = g["x_m"].to_numpy(), g["y_m"].to_numpy()
        iotd = g["iotd"].to_numpy()
        lx: list = []
        ly: list = []
        for k, tgt in enumerate(target):
            if tgt == tgt and 0 < tgt <= len(mecs):
                lx += [xs[k], mecs[int(tgt) - 1, 0], None]
                ly += [ys[k], mecs[int(tgt) - 1, 1], None]
        out.append({"type": "scatter", "x": lx, "y": ly})
        for cat in categories:
            mask = label == cat
            out.append({"type": "scatter", "x": xs[mask].tolist(), "y": ys[mask].tolist(),
                        "text": [f"IoTD {i}" for i in iotd[mask]]})
        return out

    per_sched = len(categories) + 1
    fig = go.Figure()
    first = int(shown[0])
    for s, name in enumerate(names):
        traces = slot_traces(first, name)
        visible = s == 0
        fig.add_scatter(x=traces[0]["x"], y=traces[0]["y"], mode="lines", name="offload link",
                        line={"color": "#999999", "width": 1}, hoverinfo="skip",
                        visible=visible, legendgroup="link", showlegend=True)
        for cat, tr in zip(categories, traces[1:], strict=True):
            fig.add_scatter(x=tr["x"], y=tr["y"], text=tr["text"], mode="markers", name=cat,
                            legendgroup=cat, visible=visible,
                            marker={"size": 9, "color": cat_color[cat],
                                    "line": {"width": 0.5, "color": "black"}},
                            hovertemplate=f"%{{text}}: {cat}<br>(%{{x:.1f}}, %{{y:.1f}}) m"
                                          "<extra></extra>")
    if len(mecs):
        fig.add_scatter(x=mecs[:, 0], y=mecs[:, 1], mode="markers+text", name="MECs",
                        text=[f"MEC {j}" for j in range(1, len(mecs) + 1)],
                        textposition="top center",
                        marker={"symbol": "square", "size": 16,
                                "color": [cat_color.get(f"MEC {j}", "#000000")
                                          for j in range(1, len(mecs) + 1)],
                                "line": {"width": 2, "color": "black"}},
                        hovertemplate="%{text} (%{x:.1f}, %{y:.1f}) m<extra></extra>")
    frames = []
    for slot in shown:
        data, indices = [], []
        for s, name in enumerate(names):
            data += slot_traces(int(slot), name)
            indices += list(range(s * per_sched, (s + 1) * per_sched))
        frames.append(go.Frame(data=data, traces=indices, name=str(int(slot))))
    fig.frames = frames
    n_traces = len(fig.data)
    menus = [{
        "type": "buttons", "direction": "left", "x": 0.0, "y": -0.08, "xanchor": "left",
        "yanchor": "top", "pad": {"r": 10, "t": 10}, "showactive": False,
        "buttons": [
            {"label": "▶ play", "method": "animate",
             "args": [None, {"frame": {"duration": 300, "redraw": True},
                             "transition": {"duration": 0}, "fromcurrent": True}]},
            {"label": "❚❚ pause", "method": "animate",
             "args": [[None], {"frame": {"duration": 0, "redraw": False},
                               "mode": "immediate", "transition": {"duration": 0}}]},
        ]}]
    if len(names) > 1:
        buttons = []
        for s, name in enumerate(names):
            vis = [s * per_sched <= k < (s + 1) * per_sched for k in range(len(names) * per_sched)]
            vis += [True] * (n_traces - len(vis))
            buttons.append({"label": name, "method": "update",
                            "args": [{"visible": vis}, {"title.text": _map_title(name, colors)}]})
        from mecsim.report.selector import menu, menu_label

        menus.append(menu(buttons, 0, y=1.02))
        fig.add_annotation(**menu_label("scheduler:", names, y=1.02))
    slider = {
        "active": 0, "x": 0.2, "len": 0.8, "y": -0.02, "yanchor": "top",
        "currentvalue": {"prefix": (f"slot (every {stride} slots shown) " if stride > 1
                                    else "slot ")},
        "steps": [{"label": str(int(s)), "method": "animate",
                   "args": [[str(int(s))], {"frame": {"duration": 0, "redraw": True},
                                            "mode": "immediate",
                                            "transition": {"duration": 0}}]}
                  for s in shown]}
    if area_m is not None:
        width, height = float(area_m[0]), float(area_m[1])
    else:
        width = float(max(pos["x_m"].max(), mecs[:, 0].max() if len(mecs) else 0.0))
        height = float(max(pos["y_m"].max(), mecs[:, 1].max() if len(mecs) else 0.0))
    pad_x, pad_y = 0.04 * width or 1.0, 0.04 * height or 1.0
    fig.update_xaxes(range=[-pad_x, width + pad_x], title_text="x [m]", constrain="domain")
    fig.update_yaxes(range=[-pad_y, height + pad_y], title_text="y [m]", scaleanchor="x",
                     scaleratio=1)
    title = _map_title(names[0], colors)
    fig = _layout(fig, title, height=640, updatemenus=menus, sliders=[slider])
    fig.update_layout(margin={"b": 110})
    return fig
