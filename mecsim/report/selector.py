"""One figure with a dropdown that picks which of several same-shaped figures is shown.

The report draws the realized-performance figures of a sweep once per grid setting (the
cells' settings other than the seed, pooled over seeds) and joins them with
:func:`with_selector`: every figure's traces go into one figure, and a dropdown's buttons
show one setting's traces and title at a time.
"""

from __future__ import annotations

import plotly.graph_objects as go

#: Each trace's ``meta["setting"]`` names the setting it belongs to.
SETTING = "setting"


def with_selector(figures: dict[str, go.Figure | None], default: str | None = None,
                  label: str = "setting:") -> go.Figure | None:
    """Join same-shaped figures (the same subplots and axes) into one with a dropdown.

    Args:
        figures: ``{setting: figure}``, in menu order; ``None`` figures are left out.
        default: The setting shown first (default: the first with a figure).
        label: The text before the dropdown.

    Returns:
        The default's layout with every figure's traces (``meta["setting"]`` set on each;
        only the default's visible; the title names the setting shown), and one dropdown
        button per setting that shows its traces and title (a menu of one where the other
        settings have no figure, so that the page says whose figure it is); the figure
        itself when there is one setting;
        None when no setting has a figure.
    """
    drawn = {k: f for k, f in figures.items() if f is not None}
    if not drawn:
        return None
    if default not in drawn:
        default = next(iter(drawn))
    if len(figures) == 1:
        return drawn[default]
    base = go.Figure(layout=drawn[default].layout)
    base.update_layout(title_text=_title(drawn[default], default))
    owners: list[str] = []
    for setting, fig in drawn.items():
        for trace in fig.data:
            meta = dict(trace.meta) if isinstance(trace.meta, dict) else {}
            trace.update(meta={**meta, SETTING: setting},
                         visible=(trace.visible if trace.visible is not None else True)
                         if setting == default else False)
            base.add_trace(trace)
            owners.append(setting)
    buttons = []
    for setting, fig in drawn.items():
        shown = [owner == setting for owner in owners]
        buttons.append({"label": setting, "method": "update",
                        "args": [{"visible": shown}, {"title.text": _title(fig, setting)}]})
    menus = list(base.layout.updatemenus or [])
    menus.append(menu(buttons, list(drawn).index(default)))
    base.update_layout(updatemenus=menus, margin={"t": 100})
    base.add_annotation(**menu_label(label, [str(b["label"]) for b in buttons]))
    return base


def _title(fig: go.Figure, setting: str) -> str:
    """The figure's title with the setting shown under it (static images name it too)."""
    return f"{fig.layout.title.text or ''}<br><sup>{setting}</sup>"


def menu(buttons: list[dict], active: int = 0, y: float = 1.0) -> dict:
    """A dropdown at the top right, above the plot (``y`` in paper coordinates)."""
    return {"type": "dropdown", "x": 1.0, "y": y, "xanchor": "right", "yanchor": "bottom",
            "pad": {"b": 8}, "buttons": buttons, "active": active, "showactive": True}


def menu_label(text: str, labels: list[str], y: float = 1.0) -> dict:
    """The annotation left of :func:`menu`'s dropdown, placed by its estimated width."""
    width = 7 * max((len(x) for x in labels), default=4) + 45  # [px] text, arrow, padding
    return {"text": text, "x": 1.0, "y": y, "xref": "paper", "yref": "paper",
            "xanchor": "right", "yanchor": "bottom", "xshift": -width - 8, "yshift": 14,
            "showarrow": False}
