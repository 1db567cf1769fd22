"""Issue 9, "the simulated truth": each case seen on the old engine, before and after.

Every "what was seen" case of the issue is rerun on the old engine (a git revision, checked
out into a temporary worktree) and on the current tree, and its figures are printed side by
side with the target. The same probe code runs against both versions: this script starts
itself once per version in *probe mode* (``--probe-json``), with that version's tree first
on ``sys.path``, and only uses what both versions have (``load_scenario``,
``run_scenario``, the Parquet files, the fading generators); new features are detected by
their presence. Each version runs its own ``scenarios/dense_100.yaml``.

Probes:

1. uploads: the longest upload and its rate, the longest wait behind an earlier upload of
   the same IoTD, the share of uploads that waited more than 10 s (``random``, ``greedy``);
2. deadlines: how late deadline drops are recorded, in-flight tasks already past their
   deadline at the end;
3. fading: the power correlation of the Jakes generator at lags 1-5 against J0^2, and
   the lag-1 correlation of ``dense_100``'s device-steps;
4. shadowing: the correlation of each link's shadowing between the two halves of a run,
   and against the distance moved;
5. run length: mean realized latency at 50 and 400 slots, tasks in flight, ``local`` against
   ``optimal`` on the per-slot model and on realized cost;
6. a MEC failure at t = 0: tasks placed on the failed MEC.

This is not a test: it prints the figures (Markdown) and exits 0 even when a target is
missed; a probe that fails in one version shows its error in that cell.

Usage::

    python benchmarks/bench_truth.py                 # about 2 min on 2 cores
    python benchmarks/bench_truth.py --quick         # smaller runs, about 40 s
    python benchmarks/bench_truth.py --json out.json --probes uploads,deadlines
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_REV = "7934394"  # main before the engine of issue 9
SCENARIO = Path("scenarios") / "dense_100.yaml"
LIGHT_MPS = 299_792_458.0
WAIT_LIMIT_S = 10.0  # the "waited more than 10 s"
FADING_TOLERANCE = 0.02  # |sample correlation - target| for "met", besides the finite-Q
# allowance of the power correlation of a sum of sinusoids (see probe_fading)
SHADOW_DISTANCES_M = (2.0, 5.0, 10.0, 20.0, 40.0)
SHADOW_TOLERANCE = 0.05  # |sample correlation - exp(-d / d_corr)| for "met"

# ============================================================================ probe mode
# Everything below, down to the driver, runs inside one version's tree.


class Probe:
    """What the probes of one version share: the tree, the options, a scratch folder."""

    def __init__(self, tree: Path, args: argparse.Namespace, scratch: Path) -> None:
        self.tree, self.args, self.scratch = tree, args, scratch
        self._runs = 0
        from mecsim.config import SchedulerSpec, load_scenario
        from mecsim.engine.runner import run_scenario

        self._load, self._run, self._spec = load_scenario, run_scenario, SchedulerSpec

    def scenario(self, *overrides: str):
        """This version's ``dense_100`` with ``overrides`` (``--set`` syntax)."""
        return self._load(self.tree / SCENARIO, [*self.args.set, *overrides])

    def run(self, scenario, names: list[str], channels: bool = False) -> Path:
        """Run ``names`` on ``scenario``; return the results folder (errors raise)."""
        self._runs += 1
        out = self.scratch / f"run{self._runs}"
        results = self._run(scenario, out, schedulers=[self._spec(name=n) for n in names],
                            channels=channels)
        for r in results:
            if r.error or not r.complete:
                raise RuntimeError(f"{r.name}: {r.error or 'incomplete'}")
        return out


def _tasks(folder: Path):
    import pandas as pd

    return pd.read_parquet(folder / "tasks.parquet")


def row(key: str, label: str, value, fmt: str = "{:.3g}", target: str = "",
        ok: bool | None = None, bound: bool = False) -> dict:
    """One figure: ``bound`` marks a lower bound (a task still running at the end)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        text, value = "n/a", None
    elif isinstance(value, str):
        text = value
    else:
        value = float(value) if not isinstance(value, bool) else value
        text = ("≥ " if bound else "") + fmt.format(value)
    return {"key": key, "label": label, "value": value, "text": text, "target": target,
            "ok": None if ok is None else bool(ok)}


# ---------------------------------------------------------------------------- 1. uploads
def upload_times(tasks, slot_s: float, end_s: float) -> dict:
    """Start, end and wait of every upload of one scheduler's tasks (offloaded ones).

    New engine: ``start_s`` and ``uploaded_s`` as written. An upload still waiting at the
    end waited at least ``end_s - epoch``; one still in progress lasted at least
    ``end_s - start``: both are lower bounds (``open``). Old engine (no ``start_s``): an
    upload kept its decision slot's rate and an IoTD's uploads were first come first served,
    so the times are exactly those it fixed at placement (even past the run's end).
    """
    off = tasks[(tasks["target"] > 0) & (tasks["drop_reason"].fillna("") != "invalid")]
    off = off.sort_values("task_id")
    epoch = off["slot"].to_numpy() * slot_s
    bits = off["data_bits"].to_numpy()
    if "start_s" in off.columns:
        start = off["start_s"].to_numpy()
        end = off["uploaded_s"].to_numpy()
        started = np.isfinite(start)
        wait = np.where(started, start - epoch, end_s - epoch)
        wait_open = ~started
        running = started & ~np.isfinite(end) & (off["status"].to_numpy() == "in_flight")
        duration = np.where(np.isfinite(end), end - start, np.where(running, end_s - start,
                                                                    np.nan))
        duration_open = running
        check = None
    else:
        rate = off["rate_bps"].to_numpy()
        upload_s = bits / rate
        dev = off["iotd"].to_numpy()
        start = np.empty_like(epoch)
        free: dict[int, float] = {}
        for k, (d, t, u) in enumerate(zip(dev.tolist(), epoch.tolist(), upload_s.tolist(),
                                          strict=True)):
            start[k] = max(t, free.get(d, 0.0))
            free[d] = start[k] + u
        end = start + upload_s
        wait, duration = start - epoch, upload_s
        wait_open = duration_open = np.zeros(epoch.size, dtype=bool)
        running = (start < end_s) & (end > end_s)
        # The old engine wrote tx_power * upload time as the energy of an offloaded task.
        energy = off["realized_energy_j"].to_numpy()
        expected = off["tx_power_w"].to_numpy() * upload_s
        done = off["done_s"].to_numpy()
        check = bool(np.allclose(energy, expected, rtol=1e-9, atol=0.0)
                     and np.all(~np.isfinite(done) | (done >= end - 1e-9)))
    return {"bits": bits, "rate_bps": off["rate_bps"].to_numpy(), "wait": wait,
            "wait_open": wait_open, "duration": duration, "duration_open": duration_open,
            "running": int(running.sum()), "check": check, "n": int(epoch.size),
            "rows": off, "end": end if "start_s" in off.columns else None}


def replay_upload_end(sc, iotd: int, mec: int, power_w: float, bits: float,
                      start_s: float, end_s: float) -> float | None:
    """When an upload ends if it follows the world's channel step by step (new engine).

    The world is regenerated (the same seed: the same channel for every scheduler) and the
    link's gain at each fading step of each slot (``SlotWorld.channel``) gives the rate
    ``B log2(1 + P g / (N0 B))``, integrated from ``start_s`` until ``bits`` are sent.
    Returns None when the world has no per-step channel (old engine) or the upload does not
    end before ``end_s``.
    """
    from mecsim.engine.world import World

    ch = sc.channel
    noise_w = ch.noise_psd_w_per_hz * ch.bandwidth_hz
    world = World(sc, sc.seed)
    left, now = bits, start_s
    for slot in range(int(math.ceil(end_s / sc.slot_s))):
        w = world.next_slot()
        if not hasattr(w, "channel"):
            return None
        if (slot + 1) * sc.slot_s <= start_s:
            continue
        gains = w.channel.gains(np.array([iotd]), np.array([mec]))[:, 0]
        rates = ch.bandwidth_hz * np.log2(1.0 + power_w * gains / noise_w)
        edges = w.time_s + w.channel.step_s * np.arange(gains.size + 1)
        for k, rate in enumerate(rates.tolist()):
            span = edges[k + 1] - max(edges[k], now)
            if span <= 0:
                continue
            if rate * span >= left:
                return max(edges[k], now) + left / rate
            left -= rate * span
            now = edges[k + 1]
    return None


def probe_uploads(p: Probe) -> list[dict]:
    slots = p.args.slots
    sc = p.scenario(f"slots={slots}")
    folder = p.run(sc, ["random", "greedy"])
    tasks = _tasks(folder)
    end_s = slots * sc.slot_s
    rows = []
    for name in ("random", "greedy"):
        u = upload_times(tasks[tasks["scheduler"] == name], sc.slot_s, end_s)
        if u["n"] == 0:
            rows.append(row(f"{name}.uploads", f"{name}: uploads", 0, "{:.0f}"))
            continue
        k = int(np.nanargmax(u["duration"]))
        longest = float(u["duration"][k])
        mean_rate = u["bits"][k] / longest if longest > 0 else float("nan")
        j = int(np.argmax(u["wait"]))
        late = float(np.mean(u["wait"] > WAIT_LIMIT_S))
        rows += [
            row(f"{name}.uploads", f"{name}: uploads", u["n"], "{:.0f}"),
            row(f"{name}.longest_upload_s", f"{name}: longest upload [s]", longest, "{:.1f}",
                "follows the channel: no upload held for minutes at one fade's rate",
                longest < 60.0, bool(u["duration_open"][k])),
            row(f"{name}.longest_upload_rate_bps",
                f"{name}: its mean rate [bit/s] (bits / duration)", mean_rate, "{:.4g}"),
            row(f"{name}.longest_upload_decision_rate_bps",
                f"{name}: its decision-epoch rate [bit/s]", u["rate_bps"][k], "{:.4g}"),
            row(f"{name}.longest_wait_s",
                f"{name}: longest wait behind the IoTD's earlier uploads [s]",
                float(u["wait"][j]), "{:.1f}", "seconds, not minutes",
                float(u["wait"][j]) < 60.0, bool(u["wait_open"][j])),
            row(f"{name}.share_wait_gt_10s", f"{name}: uploads that waited > 10 s", late,
                "{:.1%}", "≪ before: only real uplink queues"),
            row(f"{name}.uploads_running_at_end", f"{name}: uploads in progress at the end",
                u["running"], "{:.0f}", "a few (each ends within seconds)"),
        ]
        if u["end"] is not None and np.isfinite(u["end"][k]) and not u["duration_open"][k]:
            off = u["rows"].iloc[k]
            replay = replay_upload_end(sc, int(off["iotd"]), int(off["target"]) - 1,
                                       float(off["tx_power_w"]), float(off["data_bits"]),
                                       float(off["start_s"]), end_s)
            gap = None if replay is None else abs(replay - float(u["end"][k]))
            rows.append(row(f"{name}.longest_upload_replay_gap_s",
                            f"{name}: its end replayed on the world's channel steps, "
                            f"|replay - written| [s]", gap, "{:.2g}", "0",
                            gap is not None and gap < 1e-6))
        if u["check"] is not None:
            rows.append(row(f"{name}.reconstruction",
                            f"{name}: old FCFS times match the written energy and done_s",
                            "yes" if u["check"] else "NO"))
    return rows


# -------------------------------------------------------------------------- 2. deadlines
def probe_deadlines(p: Probe) -> list[dict]:
    slots, deadline = p.args.slots, p.args.deadline
    sc = p.scenario(f"slots={slots}", f"tasks.deadline_s={deadline}")
    folder = p.run(sc, ["random", "greedy"])
    tasks = _tasks(folder)
    end_s = slots * sc.slot_s
    rows = []
    for name in ("random", "greedy"):
        t = tasks[tasks["scheduler"] == name]
        rel = t["deadline_s"].to_numpy() if "deadline_s" in t.columns else \
            np.full(len(t), float(deadline))
        status = t["status"].to_numpy()
        arrival = t["arrival_s"].to_numpy()
        done = t["done_s"].to_numpy()
        drop = (status == "dropped") & (t["drop_reason"].to_numpy() == "deadline")
        late = done[drop] - arrival[drop] - rel[drop]
        flying = status == "in_flight"
        past = flying & (end_s - arrival > rel + 1e-9)
        overdue = (status == "completed") & (done - arrival > rel + 1e-9)
        median = float(np.median(late)) if late.size else float("nan")
        worst = float(np.max(late)) if late.size else float("nan")
        rows += [
            row(f"{name}.deadline_drops", f"{name}: deadline drops (share of tasks)",
                float(drop.mean()), "{:.1%}"),
            row(f"{name}.lateness_median_s", f"{name}: lateness of deadline drops, median [s]",
                median, "{:.3g}", "0", late.size == 0 or abs(median) < 1e-6),
            row(f"{name}.lateness_max_s", f"{name}: lateness of deadline drops, max [s]",
                worst, "{:.3g}", "0", late.size == 0 or abs(worst) < 1e-6),
            row(f"{name}.in_flight_past_deadline",
                f"{name}: tasks in flight at the end already past their deadline",
                float(past.sum() / max(flying.sum(), 1)), "{:.1%}", "0 %",
                not past.any()),
            row(f"{name}.in_flight_at_end", f"{name}: tasks in flight at the end",
                int(flying.sum()), "{:.0f}"),
            row(f"{name}.completed_late", f"{name}: completed after their deadline",
                int(overdue.sum()), "{:.0f}", "0", not overdue.any()),
        ]
    return rows


# ----------------------------------------------------------------------------- 3. fading
def _jakes_j0(x):
    from scipy.special import j0

    return j0(x)


def sos_power_correlation(b: float, q: int, grid: int = 4096) -> float:
    """Power correlation coefficient of a ``q``-sinusoid Zheng-Xiao generator at ``b``.

    ``(E_theta[c^2] - 1/(2Q)) / (1 - 1/(2Q))`` with ``c = (1/Q) sum_q cos(b cos alpha_q)``
    and ``alpha_q = (2 pi q - pi + theta) / (4Q)``, theta uniform: the ensemble value,
    which tends to ``J0(b)^2`` as ``Q`` grows (Zheng and Xiao 2003).
    """
    theta = (np.arange(grid) + 0.5) / grid * 2 * np.pi - np.pi
    alpha = (2 * np.pi * np.arange(1, q + 1)[None] - np.pi + theta[:, None]) / (4 * q)
    c = np.cos(b * np.cos(alpha)).mean(axis=1)
    return float((np.mean(c**2) - 1 / (2 * q)) / (1 - 1 / (2 * q)))


def _fading_generator(p: Probe):
    """``("sum_of_sinusoids", Q)`` or ``("ar1", None)``: what ``rho: jakes`` uses here."""
    fad = p.scenario().channel.fading
    if getattr(fad, "sum_of_sinusoids", False):
        return "sum_of_sinusoids", int(getattr(fad, "sinusoids", 8))
    return "ar1", None


def fading_samples(p: Probe, links: int, samples: int, speed: float, carrier: float,
                   step: float) -> tuple[str, np.ndarray, np.ndarray]:
    """Power and complex gain of ``links`` links at ``samples`` steps: ``(samples, links)``."""
    from mecsim.physics import fading as fmod

    kind, q = _fading_generator(p)
    rng = np.random.default_rng(p.args.seed)
    if kind == "sum_of_sinusoids":
        gen = fmod.SumOfSinusoids(links, 1, rng, wavelength_m=LIGHT_MPS / carrier,
                                  sinusoids=q)
        power, gain = [], []
        for t in range(samples):
            travelled = np.full(links, speed * step * t)
            power.append(gen.power(travelled)[:, 0])
            gain.append(gen.scattered(travelled)[:, 0])
        return f"sum of sinusoids, Q = {q}", np.array(power), np.array(gain)
    gen = fmod.Fading(links, 1, rng)
    rho = float(fmod.jakes_rho(speed, carrier, step))
    power, gain = [gen.step(0.0)[:, 0]], [gen.g[:, 0]]
    for _ in range(samples - 1):
        power.append(gen.step(rho)[:, 0])
        gain.append(gen.g[:, 0])
    return f"AR(1), rho = J0 at lag 1 = {rho:.3f}", np.array(power), np.array(gain)


def lag_correlations(series: np.ndarray, lags: int) -> tuple[np.ndarray, np.ndarray]:
    """Sample correlation of ``series`` (time, links) at lags 1..``lags``, pooled over origins.

    Returns the power-style (real) Pearson correlation and, for complex series, the real
    part of the normalised cross-correlation ``E[g(t) g*(t + k)] / E|g|^2``.
    """
    origins = series.shape[0] - lags
    pearson, cross = [], []
    for k in range(1, lags + 1):
        a, b = series[:origins].ravel(), series[k:k + origins].ravel()
        if np.iscomplexobj(series):
            cross.append(float(np.real(np.mean(a * np.conj(b)))
                               / np.sqrt(np.mean(np.abs(a) ** 2) * np.mean(np.abs(b) ** 2))))
        else:
            pearson.append(float(np.corrcoef(a, b)[0, 1]))
    return np.array(pearson), np.array(cross)


def dense_lag1_rho(p: Probe, slots: int) -> tuple[np.ndarray, str]:
    """Lag-1 correlation ``J0(2 pi v step / lambda)`` of every device-step of ``dense_100``.

    Old engine: one fading step per slot, ``v`` = the device's speed at the epoch (what its
    world used). New engine: ``channel.fading.step_s`` and
    ``v = max(distance moved in the slot / slot_s, min_speed_mps)``.
    """
    from mecsim.engine.world import World
    from mecsim.physics.fading import jakes_rho

    sc = p.scenario(f"slots={slots + 1}")
    fad, carrier, slot_s = sc.channel.fading, sc.channel.carrier_hz, sc.slot_s
    world = World(sc, sc.seed)
    positions, speeds = [], []
    for _ in range(slots + 1):
        w = world.next_slot()
        positions.append(np.array(w.positions_m))
        mobility = getattr(world, "_mobility", None)
        speeds.append(None if mobility is None else np.array(mobility.speeds_mps))
    positions = np.array(positions)
    moved = np.hypot(*(positions[1:] - positions[:-1]).transpose(2, 0, 1))  # (slots, N)
    if hasattr(sc, "fading_steps"):
        step = slot_s / sc.fading_steps
        v = np.maximum(moved / slot_s, getattr(fad, "min_speed_mps", 0.0))
        how = f"step {step:g} s, v = max(moved / slot_s, {fad.min_speed_mps:g} m/s)"
    elif speeds[0] is not None:
        step, v = slot_s, np.array(speeds[1:])
        how = f"step {step:g} s (the slot), v = the device's speed"
    else:
        step, v = slot_s, moved / slot_s
        how = f"step {step:g} s (the slot), v = moved / slot_s"
    return np.asarray(jakes_rho(v, carrier, step)).ravel(), how


def probe_fading(p: Probe) -> list[dict]:
    a = p.args
    lags = 5
    label, power, gain = fading_samples(p, a.links, lags + 10, a.speed, a.carrier, a.step)
    corr_power, _ = lag_correlations(power, lags)
    _, corr_gain = lag_correlations(gain, lags)
    doppler = a.speed * a.carrier / LIGHT_MPS
    _, q = _fading_generator(p)
    rows = [row("generator", "Jakes generator of this version", label)]
    for k in range(1, lags + 1):
        b = 2 * np.pi * doppler * k * a.step
        j0 = float(_jakes_j0(b))
        target = f"J0² = {j0 ** 2:.3f}"
        allowance = 0.0
        if q is not None:  # a finite sum of sinusoids: its power correlation is lower
            target += f" (Q = {q} theory {sos_power_correlation(b, q):.3f})"
            allowance = (1 - j0**2) / (2 * q - 1)
        rows.append(row(f"power_lag{k}", f"power correlation at lag {k}", corr_power[k - 1],
                        "{:.3f}", target,
                        abs(corr_power[k - 1] - j0**2) <= FADING_TOLERANCE + allowance))
        rows.append(row(f"gain_lag{k}", f"complex gain correlation at lag {k}",
                        corr_gain[k - 1], "{:.3f}", f"J0 = {j0:.3f}",
                        abs(corr_gain[k - 1] - j0) <= FADING_TOLERANCE))
    rho, how = dense_lag1_rho(p, a.fading_slots)
    rows += [
        row("dense_step", "dense_100: fading step and Doppler speed", how),
        row("dense_iid", "dense_100: device-steps with |rho| < 0.1 at lag 1",
            float(np.mean(np.abs(rho) < 0.1)), "{:.1%}", "small: correlated fading"),
        row("dense_frozen", "dense_100: device-steps with rho = 1 at lag 1 (frozen)",
            float(np.mean(rho >= 1.0 - 1e-12)), "{:.1%}", "0 %",
            not np.any(rho >= 1.0 - 1e-12)),
        row("dense_median", "dense_100: median lag-1 rho", float(np.median(rho)), "{:.3f}"),
    ]
    return rows


# -------------------------------------------------------------------------- 4. shadowing
def _shadow_db(ch, beta0: float, d_min: float) -> np.ndarray:
    """``10 log10(gain max(d, d_min)^2 / beta0)``: shadowing plus fading [dB]."""
    d = np.maximum(ch["distance_m"].to_numpy(), d_min)
    return 10.0 * np.log10(ch["gain"].to_numpy() * d ** 2 / beta0)


def probe_shadowing(p: Probe) -> list[dict]:
    import pandas as pd

    slots = p.args.halves_slots
    sc = p.scenario(f"slots={slots}")
    folder = p.run(sc, ["local"], channels=True)
    ch = pd.read_parquet(folder / "channels.parquet")
    pos = pd.read_parquet(folder / "positions.parquet")
    ch["s_db"] = _shadow_db(ch, sc.channel.beta0, sc.channel.d_min_m)
    half = slots // 2
    ch["half"] = ch["slot"] >= half
    means = ch.groupby(["iotd", "mec", "half"])["s_db"].mean().unstack("half")
    corr = float(np.corrcoef(means[False], means[True])[0, 1])
    pos["half"] = pos["slot"] >= half
    centre = pos.groupby(["iotd", "half"])[["x_m", "y_m"]].mean().unstack("half")
    shift = np.hypot(centre[("x_m", True)] - centre[("x_m", False)],
                     centre[("y_m", True)] - centre[("y_m", False)])
    pos = pos.sort_values(["iotd", "slot"])
    xy = pos[["x_m", "y_m"]].to_numpy().reshape(sc.iotds.count, slots, 2)
    path = np.hypot(*np.diff(xy[:, :half], axis=1).transpose(2, 0, 1)).sum(axis=1)
    fad = sc.channel.fading
    d_corr = getattr(fad, "shadowing_decorrelation_m", None)
    rows = [
        row("decorrelation_m", "shadowing decorrelation distance [m]",
            "fixed for the run" if d_corr is None else f"{d_corr:g}"),
        row("halves_corr", f"correlation of link shadowing, slots < {half} vs ≥ {half}",
            corr, "{:.3f}", "≈ 0 when devices move ≫ d_corr", abs(corr) < 0.2),
        row("halves_moved_m", "median distance between a device's mean positions [m]",
            float(np.median(shift)), "{:.0f}"),
        row("halves_path_m", "median path of a device in the first half [m]",
            float(np.median(path)), "{:.0f}", "≫ d_corr"),
    ]
    return rows + shadow_vs_distance(p, d_corr)


def shadow_vs_distance(p: Probe, d_corr: float | None) -> list[dict]:
    """Shadowing correlation of a link between two epochs against the path between them.

    A run with Rician K = 1e6 makes the fading power 1 to within 0.2 %, so
    ``10 log10(gain d^2 / beta0)`` is the shadowing itself. The path of a device between
    two epochs is the sum of its straight moves from epoch to epoch (positions.parquet),
    the distance the engine's Gudmundson walk uses. Pairs of epochs up to
    ``--shadow-lags`` apart are pooled in bins of +-10 % around each distance.
    """
    import pandas as pd

    slots = p.args.shadow_slots
    sc = p.scenario(f"slots={slots}", "channel.fading.model=rician",
                    "channel.fading.rician_k=1e6")
    folder = p.run(sc, ["local"], channels=True)
    ch = pd.read_parquet(folder / "channels.parquet").sort_values(["iotd", "mec", "slot"])
    pos = pd.read_parquet(folder / "positions.parquet").sort_values(["iotd", "slot"])
    n, m = sc.iotds.count, sc.mecs.count
    s = _shadow_db(ch, sc.channel.beta0, sc.channel.d_min_m).reshape(n, m, slots)
    xy = pos[["x_m", "y_m"]].to_numpy().reshape(n, slots, 2)
    step_m = np.hypot(*np.diff(xy, axis=1).transpose(2, 0, 1))  # (n, slots - 1)
    path = np.concatenate([np.zeros((n, 1)), np.cumsum(step_m, axis=1)], axis=1)
    target_d = 10.0 if d_corr is None else d_corr
    sums = np.zeros((len(SHADOW_DISTANCES_M), 7))  # n, x, y, xx, yy, xy, expected
    for lag in range(1, min(p.args.shadow_lags, slots - 1) + 1):
        dist = np.repeat(path[:, lag:] - path[:, :-lag], m, axis=0).ravel()
        x, y = s[:, :, :-lag].ravel(), s[:, :, lag:].ravel()
        for b, d in enumerate(SHADOW_DISTANCES_M):
            sel = np.abs(dist - d) <= 0.1 * d
            xs, ys = x[sel], y[sel]
            sums[b] += (sel.sum(), xs.sum(), ys.sum(), (xs * xs).sum(), (ys * ys).sum(),
                        (xs * ys).sum(), np.exp(-dist[sel] / target_d).sum())
    rows = []
    for (k, sx, sy, sxx, syy, sxy, se), d in zip(sums, SHADOW_DISTANCES_M, strict=True):
        label = f"shadowing correlation after a {d:g} m path"
        if k < 100:
            rows.append(row(f"corr_at_{d:g}m", label, None))
            continue
        cov = sxy / k - sx * sy / k**2
        r = cov / np.sqrt((sxx / k - (sx / k) ** 2) * (syy / k - (sy / k) ** 2))
        expected = se / k
        rows.append(row(f"corr_at_{d:g}m", f"{label} (±10 %, {int(k)} link pairs)", r,
                        "{:.3f}", f"exp(-d/{target_d:g}) = {expected:.3f}",
                        abs(r - expected) <= SHADOW_TOLERANCE))
    return rows


# ------------------------------------------------------------------------- 5. run length
def realized_cost(t, phi_t: float, phi_e: float) -> float:
    done = t[t["status"] == "completed"]
    return float(np.mean(phi_t * done["realized_latency_s"] + phi_e * done["realized_energy_j"]))


def probe_run_length(p: Probe) -> list[dict]:
    short, long = p.args.slots_short, p.args.slots_long
    sc = p.scenario(f"slots={long}")
    tasks = _tasks(p.run(sc, ["local", "greedy"]))
    end_short = short * sc.slot_s
    rows = []
    for name in ("local", "greedy"):
        t = tasks[tasks["scheduler"] == name]
        done = t["status"] == "completed"
        lat = t["realized_latency_s"]
        early = done & (t["done_s"] < end_short)
        in_short = t["slot"] < short
        flying_short = in_short & ~early & ~((t["status"] == "dropped")
                                             & (t["done_s"] < end_short))
        mean_short = float(lat[early].mean())
        mean_long = float(lat[done].mean())
        rows += [
            row(f"{name}.latency_{short}", f"{name}: mean realized latency at {short} slots [s]",
                mean_short, "{:.2f}"),
            row(f"{name}.latency_{long}", f"{name}: mean realized latency at {long} slots [s]",
                mean_long, "{:.2f}"),
            row(f"{name}.growth", f"{name}: {long}-slot mean / {short}-slot mean",
                mean_long / mean_short, "{:.2f}", "≈ 1: does not grow with the run",
                mean_long / mean_short < 1.5),
            row(f"{name}.in_flight_{short}", f"{name}: in flight at the end of {short} slots",
                float(flying_short.sum() / max(in_short.sum(), 1)), "{:.1%}"),
            row(f"{name}.in_flight_{long}", f"{name}: in flight at the end of {long} slots",
                float((t["status"] == "in_flight").mean()), "{:.1%}", "a few %",
                float((t["status"] == "in_flight").mean()) < 0.05),
        ]
    slots_opt = p.args.slots_optimal
    sc = p.scenario(f"slots={slots_opt}")
    folder = p.run(sc, ["local", "optimal"])
    summary = json.loads((folder / "summary.json").read_text())["schedulers"]
    tasks = _tasks(folder)
    w = sc.weights
    cost = {n: realized_cost(tasks[tasks["scheduler"] == n], w.latency_per_s, w.energy_per_j)
            for n in ("local", "optimal")}
    model = summary["local"].get("ratio_to_optimal")
    realized = cost["local"] / cost["optimal"]
    rows += [
        row("local_model_ratio", f"local / optimal, per-slot model cost ({slots_opt} slots)",
            model, "{:.2f}×"),
        row("local_realized_ratio",
            f"local / optimal, realized cost per completed task ({slots_opt} slots)",
            realized, "{:.2f}×", "close to the model ratio (stable queues)",
            model is not None and realized < 2.0 * model),
        row("local_realized_cost", "local: realized cost per completed task", cost["local"],
            "{:.3g}"),
        row("optimal_realized_cost", "optimal: realized cost per completed task",
            cost["optimal"], "{:.3g}"),
    ]
    return rows


# --------------------------------------------------------------------------- 6. failure
def probe_failure(p: Probe) -> list[dict]:
    import pandas as pd

    start, duration = 0.0, 50.0
    sc = p.scenario(f"slots={p.args.failure_slots}",
                    f"mecs.failures=[{{mec: 1, start_s: {start:g}, duration_s: {duration:g}}}]")
    names = ["random", "greedy", "optimal"]
    folder = p.run(sc, names)
    tasks = _tasks(folder)
    slots = pd.read_parquet(folder / "slots.parquet")
    rows = []
    for name in names:
        t = tasks[tasks["scheduler"] == name]
        epoch = t["slot"] * sc.slot_s
        down = (epoch >= start) & (epoch < start + duration)
        placed = int(((t["target"] == 1) & down).sum())
        rows.append(row(f"{name}.placed_on_down_mec",
                        f"{name}: tasks placed on MEC 1 while it is down", placed, "{:.0f}",
                        "0", placed == 0))
    first = slots[(slots["scheduler"] == names[0]) & (slots["slot"] == 0)]
    seen = bool(first["available_1"].iloc[0])
    rows.append(row("epoch0_available", "epoch 0 sees MEC 1 as available",
                    "yes" if seen else "no", target="no", ok=not seen))
    return rows


PROBES: dict[str, Callable[[Probe], list[dict]]] = {
    "uploads": probe_uploads,
    "deadlines": probe_deadlines,
    "fading": probe_fading,
    "shadowing": probe_shadowing,
    "run_length": probe_run_length,
    "failure": probe_failure,
}
TITLES = {
    "uploads": "1. Uploads (dense_100, random and greedy)",
    "deadlines": "2. Deadlines (dense_100, tasks.deadline_s set)",
    "fading": "3. Fading correlation (Jakes)",
    "shadowing": "4. Shadowing (dense_100, local)",
    "run_length": "5. Run length (dense_100)",
    "failure": "6. MEC 1 fails at t = 0 (dense_100)",
}


def probe_main(args: argparse.Namespace) -> None:
    """Probe mode: run the probes on ``args.tree``'s mecsim; write ``args.probe_json``."""
    tree = Path(args.tree).resolve()
    sys.path.insert(0, str(tree))
    import mecsim

    out: dict = {"mecsim": mecsim.__file__, "tree": str(tree), "probes": {}}
    with tempfile.TemporaryDirectory(prefix="bench_truth_") as scratch:
        for name in args.probes:
            started = time.perf_counter()
            try:
                p = Probe(tree, args, Path(scratch) / name)
                result = {"rows": PROBES[name](p)}
            except Exception as exc:  # noqa: BLE001 - reported in the table, then go on
                result = {"error": f"{type(exc).__name__}: {exc}",
                          "traceback": traceback.format_exc()}
            result["seconds"] = time.perf_counter() - started
            out["probes"][name] = result
            print(f"[{tree.name}] {name}: {result['seconds']:.1f} s"
                  + (f" - {result['error']}" if "error" in result else ""), file=sys.stderr)
    Path(args.probe_json).write_text(json.dumps(out, indent=1, default=float))


# ============================================================================ driver


def probe_args(args: argparse.Namespace) -> list[str]:
    """The options handed on to a probe subprocess."""
    keys = ("slots", "deadline", "links", "speed", "carrier", "step", "fading_slots",
            "halves_slots", "shadow_slots", "shadow_lags", "slots_short", "slots_long",
            "slots_optimal", "failure_slots", "seed")
    out = ["--probes", ",".join(args.probes)]
    for item in args.set:
        out += ["--set", item]
    for k in keys:
        out += [f"--{k.replace('_', '-')}", str(getattr(args, k))]
    return out


def run_probes(tree: Path, args: argparse.Namespace, scratch: Path, tag: str) -> dict:
    """Run this script in probe mode on ``tree`` (its own mecsim and schedulers)."""
    out = scratch / f"{tag}.json"
    env = dict(os.environ, PYTHONPATH=str(tree))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--probe-json", str(out),
           "--tree", str(tree), *probe_args(args)]
    started = time.perf_counter()
    proc = subprocess.run(cmd, cwd=tree, env=env, capture_output=True, text=True)
    sys.stderr.write(proc.stderr)
    if proc.returncode != 0 or not out.exists():
        return {"error": f"probe process failed (exit {proc.returncode})", "probes": {},
                "seconds": time.perf_counter() - started}
    result = json.loads(out.read_text())
    result["seconds"] = time.perf_counter() - started
    return result


def tree_state(tree: Path) -> str:
    """``HEAD`` of a checkout and how many tracked files differ from it."""
    def git(*cmd: str) -> str:
        return subprocess.run(["git", "-C", str(tree), *cmd], capture_output=True,
                              text=True).stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "?"
    changed = len(git("status", "--porcelain", "--untracked-files=no").splitlines())
    return f"{head} + {changed} modified tracked files" if changed else head


def old_worktree(rev: str, scratch: Path) -> Path:
    """Check ``rev`` out into a detached worktree under ``scratch``."""
    path = scratch / f"old-{rev}"
    subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(path), rev],
                   check=True, capture_output=True, text=True)
    return path


def remove_worktree(path: Path) -> None:
    subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(path)],
                   check=False, capture_output=True, text=True)


def cell(version: dict, probe: str, key: str) -> tuple[str, bool | None]:
    """The text of one figure in one version, and whether it met its target."""
    if version.get("error") and not version.get("probes"):
        return f"error: {version['error']}", None
    result = version["probes"].get(probe)
    if result is None:
        return "not run", None
    if "error" in result:
        return f"error: {result['error']}", None
    for r in result["rows"]:
        if r["key"] == key:
            return r["text"], r["ok"]
    return "n/a", None


def _once(text: str, tag: str, shown: set[str]) -> str:
    """A version's error in full on its first row, then a pointer to it."""
    if not text.startswith("error"):
        return text
    if tag in shown:
        return "(error above)"
    shown.add(tag)
    return text


def _mark(ok: bool | None) -> str:
    return {True: "yes", False: "no", None: "–"}[ok]


def merged_rows(probe: str, before: dict, after: dict) -> dict[str, dict]:
    """Every figure of a probe in either version, in the probes' order (labels, targets)."""
    lists = [(v.get("probes", {}).get(probe) or {}).get("rows", []) for v in (after, before)]
    keys: list[str] = [r["key"] for r in lists[0]]
    previous = None
    for r in lists[1]:  # a figure only the old version has goes after its predecessor
        if r["key"] not in keys:
            keys.insert(keys.index(previous) + 1 if previous in keys else len(keys), r["key"])
        previous = r["key"]
    found = {r["key"]: r for rows in reversed(lists) for r in rows}
    return {k: found[k] for k in keys}


def table(probe: str, before: dict, after: dict) -> str:
    """A Markdown table of one probe: figure, before, after, target, met (before / after)."""
    rows = merged_rows(probe, before, after)
    lines = [f"### {TITLES[probe]}", "",
             "| figure | before | after | target | met (before / after) |",
             "|---|---|---|---|---|"]
    if not rows:
        b, _ = cell(before, probe, "")
        a, _ = cell(after, probe, "")
        lines.append(f"| (probe failed) | {b} | {a} | | |")
    shown: set[str] = set()
    for key, r in rows.items():
        b, ok_b = cell(before, probe, key)
        a, ok_a = cell(after, probe, key)
        b, a = _once(b, "before", shown), _once(a, "after", shown)
        met = f"{_mark(ok_b)} / {_mark(ok_a)}" if (ok_b, ok_a) != (None, None) else ""
        cells = [r["label"], b, a, r["target"], met]
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def driver_main(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    state = tree_state(ROOT)
    with tempfile.TemporaryDirectory(prefix="bench_truth_") as tmp:
        scratch = Path(tmp)
        worktree, before_error = None, ""
        try:
            worktree = old_worktree(args.rev, scratch)
            jobs = [(worktree, "before"), (ROOT, "after")]
        except subprocess.CalledProcessError as exc:
            jobs = [(ROOT, "after")]
            before_error = f"git worktree add {args.rev} failed: {exc.stderr.strip()}"
        try:
            with ThreadPoolExecutor(max_workers=1 if args.serial else 2) as pool:
                futures = {tag: pool.submit(run_probes, tree, args, scratch, tag)
                           for tree, tag in jobs}
                results = {tag: f.result() for tag, f in futures.items()}
        finally:
            if worktree is not None:
                remove_worktree(worktree)
    before = results.get("before") or {"error": before_error, "probes": {}}
    after = results["after"]
    total = time.perf_counter() - started
    print(f"# bench_truth: issue 9 before ({args.rev}) and after (this tree)\n")
    trees = {"before": f"revision {args.rev}", "after": f"this tree, HEAD {state}"}
    for tag, version in (("before", before), ("after", after)):
        where = version.get("mecsim", "?")
        print(f"- {tag} ({trees[tag]}): mecsim from `{where}`, "
              f"{version.get('seconds', 0):.0f} s")
    print(f"- slots {args.slots}, deadline {args.deadline:g} s, run length "
          f"{args.slots_short}/{args.slots_long} slots, optimal {args.slots_optimal} slots; "
          f"fading: {args.speed:g} m/s at {args.carrier / 1e9:g} GHz, step "
          f"{args.step * 1e3:g} ms, {args.links} links")
    print(f"- wall time {total:.0f} s\n")
    for probe in args.probes:
        print(table(probe, before, after))
        print()
    for tag, version in (("before", before), ("after", after)):
        for name, result in version.get("probes", {}).items():
            if "traceback" in result and args.verbose:
                print(f"{tag} {name}:\n{result['traceback']}", file=sys.stderr)
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"rev": args.rev, "after_tree": state, "options": vars(args), "wall_s": total,
             "before": before, "after": after}, indent=1, default=str))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rev", default=DEFAULT_REV, help="the old engine's git revision")
    ap.add_argument("--probes", default=",".join(PROBES),
                    help=f"comma-separated subset of {','.join(PROBES)}")
    ap.add_argument("--quick", action="store_true", help="smaller runs (a smoke check)")
    ap.add_argument("--slots", type=int, default=None,
                    help="slots of the upload and deadline runs (default 200)")
    ap.add_argument("--deadline", type=float, default=5.0, help="tasks.deadline_s [s]")
    ap.add_argument("--links", type=int, default=None,
                    help="links of the fading generator (default 40000)")
    ap.add_argument("--speed", type=float, default=1.0, help="fading probe's speed [m/s]")
    ap.add_argument("--carrier", type=float, default=2.4e9, help="carrier [Hz]")
    ap.add_argument("--step", type=float, default=0.01, help="fading probe's step [s]")
    ap.add_argument("--fading-slots", type=int, default=None,
                    help="dense_100 slots for the lag-1 rho shares (default 200)")
    ap.add_argument("--halves-slots", type=int, default=None,
                    help="slots of the shadowing halves run (default 1000, the scenario's)")
    ap.add_argument("--shadow-slots", type=int, default=None,
                    help="slots of the shadowing-vs-distance run (default 200)")
    ap.add_argument("--shadow-lags", type=int, default=40,
                    help="largest epoch lag pooled in the shadowing-vs-distance bins")
    ap.add_argument("--slots-short", type=int, default=50)
    ap.add_argument("--slots-long", type=int, default=None, help="default 400")
    ap.add_argument("--slots-optimal", type=int, default=None,
                    help="slots of the local vs optimal run (default 200)")
    ap.add_argument("--failure-slots", type=int, default=5)
    ap.add_argument("--seed", type=int, default=0, help="seed of the fading generators")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="extra scenario override for every probe in both versions "
                         "(keys both versions know, e.g. tasks.arrival.rate_per_s=0.8)")
    ap.add_argument("--serial", action="store_true",
                    help="run the two versions one after the other (default: in parallel)")
    ap.add_argument("--json", help="also write every figure to this JSON file")
    ap.add_argument("--verbose", action="store_true", help="print probe tracebacks")
    ap.add_argument("--probe-json", help=argparse.SUPPRESS)  # probe mode: write here
    ap.add_argument("--tree", default=str(ROOT), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    quick = args.quick
    defaults = {"slots": (200, 60), "links": (40000, 10000), "fading_slots": (200, 50),
                "halves_slots": (1000, 100), "shadow_slots": (200, 60), "slots_long": (400, 150),
                "slots_optimal": (200, 30)}
    for key, (full, small) in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, small if quick else full)
    args.probes = [p.strip() for p in args.probes.split(",") if p.strip()]
    unknown = [p for p in args.probes if p not in PROBES]
    if unknown:
        ap.error(f"unknown probes: {', '.join(unknown)} (known: {', '.join(PROBES)})")
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.probe_json:
        probe_main(args)
    else:
        driver_main(args)


if __name__ == "__main__":
    main()
