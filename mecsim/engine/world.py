"""The world of a run: everything that does not depend on the scheduler's decisions.

IoTD mobility, channel gains and task arrivals are drawn from named random streams of the
scenario seed, one slot at a time, so every scheduler of a run meets exactly the same
world (common random numbers) while memory stays flat however long the run.

Within a slot the channel changes at every fading step (``channel.fading.step_s``): a
:class:`SlotChannel` gives any link's gain at each step of the slot, for the uploads in
progress. Positions are the mobility model's at each epoch and move in a straight line
between two epochs; the fading follows each device's Doppler distance and the shadowing
the distance it moved (``docs/physics.md``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mecsim.engine.normals import NormalsAhead
from mecsim.physics.arrivals import make_arrivals, make_distribution
from mecsim.physics.fading import (
    SPEED_OF_LIGHT_MPS,
    THREAD_EVAL_CHUNK,
    Fading,
    Shadowing,
    SumOfSinusoids,
    jakes_rho,
)
from mecsim.physics.mobility import make_mobility
from mecsim.rng import streams


class SlotChannel:
    """Every link's gain at each fading step of one slot ``[start_s, start_s + slot_s)``.

    Step ``s`` covers ``[start_s + s step_s, start_s + (s + 1) step_s)``; the gain is
    constant within a step. Step 0 holds the epoch's gains, those the scheduler sees.
    Ask during the slot: with candidate links (``channel.candidate_mecs``) the next epoch
    draws new fading parameters for the links it replaces.

    Args:
        start_s: The slot's epoch [s].
        step_s: Fading step [s].
        gain_fn: ``gain_fn(iotd, mec) -> (steps, k)`` gains [-] of links ``(iotd[k], mec[k])``.
        steps: Number of steps in the slot.
    """

    def __init__(self, start_s: float, step_s: float, steps: int, gain_fn) -> None:
        self.start_s, self.step_s, self.steps = start_s, step_s, steps
        self._gain_fn = gain_fn

    def gains(self, iotd: np.ndarray, mec: np.ndarray) -> np.ndarray:
        """Return the ``(steps, k)`` gains of links ``(iotd[k], mec[k])`` (0-based) [-]."""
        return self._gain_fn(np.asarray(iotd, dtype=np.int64), np.asarray(mec, dtype=np.int64))


@dataclass(frozen=True)
class SlotWorld:
    """The world at one decision epoch.

    Attributes:
        slot: Epoch index.
        time_s: Epoch time ``slot * slot_s`` [s].
        positions_m: ``(N, 2)`` IoTD positions [m].
        distance_m: ``(N, M)`` IoTD-MEC distances [m]; with ``candidates``, ``(N, K)``:
            column ``c`` is the distance to MEC ``candidates[:, c]``.
        gains: ``(N, M)`` channel power gains at the epoch [-] (what schedulers see).
        iotd: ``(n,)`` IoTD of each task decided at this epoch, ordered by arrival.
        arrival_s: ``(n,)`` arrival times [s], in ``(time_s - slot_s, time_s]``.
        data_bits: ``(n,)`` upload sizes [bit].
        cycles: ``(n,)`` CPU cycles [cycle].
        deadline_s: ``(n,)`` relative deadlines [s] (``inf``: none).
        channel: The gains at every fading step of the slot.
        candidates: ``(N, K)`` 0-based MECs each IoTD has a link to at this epoch
            (``channel.candidate_mecs``; a MEC keeps its column while it stays a
            candidate), ``None`` when every IoTD has a link to every MEC. ``gains`` is 0
            on every other link.
    """

    slot: int
    time_s: float
    positions_m: np.ndarray
    distance_m: np.ndarray
    gains: np.ndarray
    iotd: np.ndarray
    arrival_s: np.ndarray
    data_bits: np.ndarray
    cycles: np.ndarray
    deadline_s: np.ndarray
    channel: SlotChannel
    candidates: np.ndarray | None = None


class World:
    """Generates :class:`SlotWorld` instances, slot after slot, from a scenario and a seed.

    Args:
        scenario: A validated :class:`mecsim.config.Scenario`.
        seed: The run's seed (overrides ``scenario.seed`` when given).
    """

    def __init__(self, scenario, seed: int | None = None) -> None:
        self.scenario = scenario
        rng = streams(scenario.seed if seed is None else seed)
        sc = scenario
        n, m = sc.iotds.count, sc.mecs.count
        self.mec_positions_m = np.asarray(sc.mec_positions_m, dtype=float)
        area = tuple(sc.area_m)
        initial = rng["placement"].uniform((0.0, 0.0), area, size=(n, 2))
        mob = sc.iotds.mobility
        self._mobility = make_mobility(mob.model, n, area, rng["mobility"],
                                       initial_positions_m=initial,
                                       **mob.model_dump(exclude={"model"}))
        fad = sc.channel.fading
        k = sc.channel.candidate_mecs
        self._k = None if k is None or k >= m else int(k)  # links per IoTD; None: all M
        self._candidates: np.ndarray | None = None  # (N, K) MECs of the link columns
        self._tree = None  # k-d tree of the MEC positions (candidate links only)
        self._rng_fading = rng["fading"]
        cols = m if self._k is None else self._k
        self._steps = sc.fading_steps
        self._step_s = sc.slot_s / self._steps
        self._wavelength_m = SPEED_OF_LIGHT_MPS / sc.channel.carrier_hz
        rician_k = fad.rician_k if fad.model == "rician" else 0.0
        if fad.sum_of_sinusoids:
            self._sos = SumOfSinusoids(n, cols, rng["fading"], wavelength_m=self._wavelength_m,
                                       sinusoids=fad.sinusoids, rician_k=rician_k)
            self._ar1 = None
        else:
            self._sos = None
            self._ar1 = Fading(n, cols, rng["fading"], rician_k=rician_k)
        self._rng_shadowing = rng["shadowing"]
        self._normals: NormalsAhead | None = None  # draw_normals_ahead
        self._eval_chunk: int | None = None  # draw_in_large_calls (None: cache-sized)
        self._shadowing = Shadowing(n, cols, self._rng_shadowing, std_db=fad.shadowing_std_db,
                                    decorrelation_m=fad.shadowing_decorrelation_m)
        self._shadow_db: np.ndarray | None = None  # [dB] shadowing at the next epoch
        self._travelled_m = np.zeros(n)  # [m] Doppler distance of each device
        arr = sc.tasks.arrival
        self._arrivals = make_arrivals(arr.process, **arr.model_dump(exclude={"process"}))
        self._ages_vary = arr.process != "per_slot"
        self._data = _distribution(sc.tasks.data_bits)
        self._cycles = _distribution(sc.tasks.cycles)
        self._deadline = None if sc.tasks.deadline_s is None else _distribution(
            sc.tasks.deadline_s)
        self._rng_arrivals = rng["arrivals"]
        self._rng_sizes = rng["sizes"]
        self._rng_deadlines = rng["deadlines"]
        self._next_positions = np.array(self._mobility.positions_m, dtype=float)
        self._slot = 0

    @property
    def prefetchable(self) -> bool:
        """Whether a slot's channel stays valid while the next slot is drawn.

        False with candidate links: choosing the next slot's links draws new fading
        parameters in place for the links it replaces, which the current slot's uploads
        may still be reading (:class:`mecsim.engine.prefetch.WorldAhead`).
        """
        return self._k is None

    @property
    def links(self) -> int:
        """Number of device-MEC links the world keeps (``N M``, or ``N K``)."""
        return self.scenario.iotds.count * (self.scenario.mecs.count if self._k is None
                                            else self._k)

    def draw_normals_ahead(self) -> bool:
        """Draw the shadowing walk's normals in a background thread from now on.

        The values are the same, bit for bit (:class:`mecsim.engine.normals.NormalsAhead`);
        a block holds four slots' worth, at most ``NORMALS_BLOCK``. Call :meth:`close` when
        done.

        Returns:
            Whether it is on: not when the shadowing draws nothing after the first epoch
            (none, or fixed) or a slot has a single fading step.
        """
        fad = self.scenario.channel.fading
        if (self._normals is not None or fad.shadowing_std_db == 0.0 or self._steps < 2
                or fad.shadowing_decorrelation_m is None):
            return self._normals is not None
        block = min(4 * self._steps * self.links, NORMALS_BLOCK)
        self._normals = NormalsAhead(self._rng_shadowing, block)
        self._shadowing.draw_with(self._normals.take)
        return True

    def draw_in_large_calls(self) -> None:
        """Evaluate the epoch's fading in fewer, larger numpy calls from now on.

        For a world drawn in a background thread beside the engine's Python
        (:class:`mecsim.engine.prefetch.WorldAhead`): every numpy call gives the GIL back and
        must take it again, and there each take waits for the engine's thread to let go.
        The values are the same, bit for bit.
        """
        self._eval_chunk = THREAD_EVAL_CHUNK

    @property
    def normals_ahead(self) -> bool:
        """Whether the shadowing's normals are drawn ahead (:meth:`draw_normals_ahead`)."""
        return self._normals is not None

    def close(self) -> None:
        """Wait for normals being drawn ahead (idempotent; the world may go on)."""
        if self._normals is not None:
            self._normals.close()

    def next_slot(self) -> SlotWorld:
        """Advance the world to the next epoch and return it."""
        sc = self.scenario
        slot_s, steps = sc.slot_s, self._steps
        positions = self._next_positions
        self._mobility.step(slot_s)  # one slot ahead: positions move linearly in between
        end = self._next_positions = np.array(self._mobility.positions_m, dtype=float)
        moved_m = np.hypot(*(end - positions).T)  # [m] during this slot
        doppler_mps = np.maximum(moved_m / slot_s, sc.channel.fading.min_speed_mps)
        cand = self._choose_links(positions)  # (N, K) or None: every MEC
        distance = self._distances(positions, cand)  # (N, M), or (N, K) with candidates [m]
        cols = distance.shape[1]
        shadow_db = self._shadowing_steps(moved_m / steps)  # (steps, N, K) [dB]
        fading = self._fading_steps(doppler_mps)  # (steps, N, K) or None (sum of sinusoids)
        time_s = self._slot * slot_s
        span_m = doppler_mps * slot_s  # [m] Doppler distance over the slot
        travelled = self._travelled_m.copy()
        self._travelled_m += span_m
        frac = np.arange(steps)[:, None] / steps  # (steps, 1) of the slot elapsed

        def link_gains(iotd: np.ndarray, mec: np.ndarray, col: np.ndarray) -> np.ndarray:
            start = positions[iotd]
            move, at = end[iotd] - start, self.mec_positions_m[mec]
            # x and y apart, each (steps, k) and contiguous: start + frac move - MEC
            dx = frac * move[:, 0]
            dx += start[:, 0]
            dx -= at[:, 0]
            dy = frac * move[:, 1]
            dy += start[:, 1]
            dy -= at[:, 1]
            dist = np.hypot(dx, dy, out=dx)  # [m]
            if fading is None:
                dop = travelled[iotd][None] + frac * span_m[iotd][None]
                power = self._sos.links_power(dop, iotd * cols + col)  # valid: unchecked
            else:
                power = fading[:, iotd, col]
            return self._gain(dist, power, shadow_db[:, iotd, col])

        cache = _LinkCache(cols, steps, link_gains)

        def gain_fn(iotd: np.ndarray, mec: np.ndarray) -> np.ndarray:
            col, linked = _columns(cand, iotd, mec)
            if linked is None:
                return cache.gains(iotd, mec, col)
            gain = np.zeros((steps, iotd.size))  # 0: no link
            gain[:, linked] = cache.gains(iotd[linked], mec[linked], col[linked])
            return gain

        channel = SlotChannel(time_s, self._step_s, steps, gain_fn)
        distance.flags.writeable = False  # schedulers see it (Observation.distance_m)
        power0 = self._sos.power(travelled, self._eval_chunk) if fading is None else fading[0]
        gains = self._gain(distance, power0, shadow_db[0])
        if cand is not None:  # gain 0: no link
            linked = gains
            gains = np.zeros((linked.shape[0], self.mec_positions_m.shape[0]))
            np.put_along_axis(gains, cand, linked, axis=1)
        iotd, offset = self._arrivals.sample(sc.iotds.count, slot_s, self._rng_arrivals)
        # A task decided at this epoch arrived during the slot before it (per_slot: at it).
        arrival = time_s - slot_s + offset if self._ages_vary else np.full(iotd.size, time_s)
        data = self._data.sample(iotd.size, self._rng_sizes)
        cycles = self._cycles.sample(iotd.size, self._rng_sizes)
        deadline = np.full(iotd.size, np.inf) if self._deadline is None else \
            self._deadline.sample(iotd.size, self._rng_deadlines)
        world = SlotWorld(self._slot, time_s, positions, distance, gains,
                          np.asarray(iotd, dtype=np.int64), np.asarray(arrival, dtype=float),
                          np.asarray(data, dtype=float), np.asarray(cycles, dtype=float),
                          np.asarray(deadline, dtype=float), channel, cand)
        self._slot += 1
        return world

    def _distances(self, positions_m: np.ndarray, cand: np.ndarray | None) -> np.ndarray:
        """IoTD-MEC distances [m]: ``(N, M)``, or ``(N, K)`` to the candidates ``cand``.

        Computed in chunks of IoTDs (small temporaries).
        """
        mec = self.mec_positions_m
        cols = mec.shape[0] if cand is None else cand.shape[1]
        out = np.empty((positions_m.shape[0], cols))
        rows = max(1, _CHUNK_LINKS // max(cols, 1))
        for start in range(0, positions_m.shape[0], rows):
            part = positions_m[start:start + rows]
            if cand is None:
                dx = np.subtract.outer(part[:, 0], mec[:, 0])
                dy = np.subtract.outer(part[:, 1], mec[:, 1])
            else:
                near = mec[cand[start:start + rows]]  # (rows, K, 2)
                dx = part[:, None, 0] - near[..., 0]
                dy = part[:, None, 1] - near[..., 1]
            np.hypot(dx, dy, out=out[start:start + rows])
        return out

    def _choose_links(self, positions_m: np.ndarray) -> np.ndarray | None:
        """Each IoTD's ``K`` nearest MECs, ``(N, K)``; fresh fading for a new link.

        The nearest MECs come from a k-d tree of the MEC positions (``N log M``, no
        ``N x M`` matrix). A MEC that stays among the ``K`` nearest keeps its column (and
        its link's fading and shadowing); a column whose MEC left gets a MEC that joined,
        with new independent fading and a stationary shadowing draw.
        """
        if self._k is None:
            return None
        k = self._k
        if self._tree is None:
            from scipy.spatial import cKDTree  # only with candidate links

            self._tree = cKDTree(self.mec_positions_m)
        nearest = self._tree.query(positions_m, k=k)[1].reshape(-1, k).astype(np.int64)
        old = self._candidates
        if old is None:  # the first epoch: nearest first (the tree's order), drawn fresh
            nearest.flags.writeable = False
            self._candidates = nearest
            return nearest
        kept = (old[:, :, None] == nearest[:, None, :]).any(axis=2)  # (N, K) old columns
        joined = ~(nearest[:, :, None] == old[:, None, :]).any(axis=2)  # (N, K) new MECs
        if kept.all():
            return old
        free = np.argsort(kept, axis=1, kind="stable")  # columns to refill first
        new = np.argsort(~joined, axis=1, kind="stable")  # joining MECs first
        fill = np.arange(k)[None, :] < joined.sum(axis=1)[:, None]
        dev = np.broadcast_to(np.arange(old.shape[0])[:, None], fill.shape)[fill]
        col = free[fill]
        cand = old.copy()
        cand[dev, col] = np.take_along_axis(nearest, new, axis=1)[fill]
        cand.flags.writeable = False
        self._candidates = cand
        links = dev * k + col
        if self._sos is not None:
            self._sos.redraw(links, self._rng_fading)
        else:
            self._ar1.reset(links)
        if self._shadow_db is not None:
            self._shadow_db.reshape(-1)[links] = self._shadowing.reset(links)
        return cand

    def _shadowing_steps(self, step_move_m: np.ndarray) -> np.ndarray:
        """The shadowing at each fading step of this slot: ``(steps, N, M)`` [dB].

        Each step moves by this slot's ``step_move_m``, the last one up to the next epoch
        included, so the next slot starts from where this one's motion left it.
        """
        if self._shadow_db is None:  # the first epoch: the stationary draw
            self._shadow_db = self._shadowing.walk(step_move_m, 1)[0]
        # one walk of `steps` steps: the slot's steps 1.. and the next epoch's, written in
        # place (the same draws, in the same order, as a walk of steps - 1 and then of 1)
        out = np.empty((self._steps + 1, *self._shadow_db.shape))
        out[0] = self._shadow_db
        self._shadowing.walk(step_move_m, self._steps, out=out[1:])
        self._shadow_db = out[-1].copy()  # at the next epoch
        return out[:-1]

    def _fading_steps(self, doppler_mps: np.ndarray) -> np.ndarray | None:
        """Step the AR(1) fading through the slot: ``(steps, N, M)``; None for SoS."""
        if self._ar1 is None:
            return None
        fad = self.scenario.channel.fading
        if fad.jakes:
            rho = jakes_rho(doppler_mps, self.scenario.channel.carrier_hz, self._step_s)
        else:
            rho = float(fad.rho)
        return np.stack([self._ar1.step(rho) for _ in range(self._steps)])

    def _gain(self, distance_m: np.ndarray, fading: np.ndarray,
              shadow_db: np.ndarray) -> np.ndarray:
        ch = self.scenario.channel
        # beta0 l 10^(S/10) / max(d, d_min)^2, in place (the same operations, in order)
        gain = ch.beta0 * fading
        factor = shadow_db / 10.0
        np.power(10.0, factor, out=factor)
        gain *= factor
        floor = np.maximum(distance_m, ch.d_min_m)
        np.square(floor, out=floor)
        gain /= floor
        return gain


NORMALS_BLOCK = 1 << 20  # normals drawn ahead at a time, at most (8 MiB)
# link-steps whose gains are computed at once: elementwise, so a chunk changes nothing, and
# small chunks keep the temporaries in cache (dense_100's 100 steps: 40 links a chunk)
_GAIN_CHUNK = 1 << 12
_CHUNK_LINKS = 1 << 20  # links per chunk of IoTDs when computing distances


def _columns(cand: np.ndarray | None, iotd: np.ndarray,
             mec: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Link columns of ``(iotd[k], mec[k])`` and whether each is a link (None: all are)."""
    if cand is None:
        return mec, None
    match = cand[iotd] == mec[:, None]
    return match.argmax(axis=1), match.any(axis=1)


class _LinkCache:
    """A slot's per-step gains of the links asked so far, each computed once.

    Uploads ask for the same link many times in a slot (a line's next job, the backlog
    estimate of queued jobs); every link's gains are elementwise, so a link computed alone
    or with others has the same values, bit for bit.

    Args:
        cols: Link columns per IoTD (``M``, or ``K`` with candidate links).
        steps: Fading steps in the slot.
        compute: ``compute(iotd, mec, col) -> (steps, k)`` gains of distinct links.
    """

    def __init__(self, cols: int, steps: int, compute) -> None:
        self._cols, self._compute = cols, compute
        self._where: dict[int, int] = {}  # link id -> column of _buf
        self._buf = np.empty((steps, 0))
        self._used = 0

    def gains(self, iotd: np.ndarray, mec: np.ndarray, col: np.ndarray) -> np.ndarray:
        """``(steps, k)`` gains of links ``(iotd[k], mec[k])`` in link columns ``col``."""
        links = (iotd * self._cols + col).tolist()
        where = self._where
        new = {}
        for k, link in enumerate(links):
            if link not in where and link not in new:
                new[link] = k
        if new:
            pick = np.fromiter(new.values(), dtype=np.int64, count=len(new))
            self._store(list(new), self._computed(iotd[pick], mec[pick], col[pick]))
        return self._buf[:, [where[link] for link in links]]

    def _computed(self, iotd: np.ndarray, mec: np.ndarray, col: np.ndarray) -> np.ndarray:
        """``compute`` in chunks of links whose temporaries stay in a core's cache."""
        steps = self._buf.shape[0]
        chunk = max(1, _GAIN_CHUNK // max(steps, 1))
        if iotd.size <= chunk:
            return self._compute(iotd, mec, col)
        out = np.empty((steps, iotd.size))
        for start in range(0, iotd.size, chunk):
            part = slice(start, start + chunk)
            out[:, part] = self._compute(iotd[part], mec[part], col[part])
        return out

    def _store(self, links: list[int], gains: np.ndarray) -> None:
        need = self._used + len(links)
        if need > self._buf.shape[1]:
            grown = np.empty((self._buf.shape[0], max(need, 2 * self._buf.shape[1], 64)))
            grown[:, :self._used] = self._buf[:, :self._used]
            self._buf = grown
        self._buf[:, self._used:need] = gains
        for k, link in enumerate(links):
            self._where[link] = self._used + k
        self._used = need


_DIST_NAMES = {"truncnormal": "trunc_normal"}  # scenario spelling -> physics factory name


def _distribution(cfg):
    return make_distribution(_DIST_NAMES.get(cfg.dist, cfg.dist),
                             **cfg.model_dump(exclude={"dist"}))
