"""One slot's offloading problem: the cost of any placement, exactly and in batches.

A :class:`SlotProblem` holds the tasks decided at one epoch. Given a placement (0 = local,
``j`` = MEC ``j``), the exact resource allocation of :mod:`mecsim.model.allocation` fixes
everything else, so the slot's cost is a function of the placement alone:

    cost(a) = sum_i C[i, a_i] + sum_j phi_T (sum_{i: a_i = j} sqrt F_i)^2 / Fmax_j

where ``C[i, 0]`` is task ``i``'s local cost and ``C[i, j]`` its upload cost to MEC ``j``
at the optimal power. ``C`` is computed once per slot (lazily, since a scheduler that
never asks for the whole table should not pay for it); :meth:`SlotProblem.batch_cost`
evaluates ``K`` placements with two vectorised passes over it.

Two optional extras, both per (task, choice) and so kept inside ``C`` (every solver of
:mod:`mecsim.model.optimum` works on them unchanged):

* ``waits`` (:class:`Waits`, the backlog-aware option of ``docs/model.md``): the time a task
  waits behind the work already queued on its IoTD's CPU or uplink, and at its MEC; it is
  added to the task's latency, so ``C`` gains ``phi_T x wait``;
* ``price``: an ``(n, M+1)`` table added to ``C`` as it is (a drift-plus-penalty scheduler's
  queue prices, :mod:`mecsim.model.backlog`); it changes the cost, not the latency;
* ``mec_weight``: an ``(M,)`` weight added to each MEC's ``phi_T / Fmax_j`` in the
  quadratic term (the same scheduler's price of a MEC's batch growing its queue).
"""

from __future__ import annotations

from functools import cached_property
from typing import NamedTuple

import numpy as np

from mecsim.model._validate import as_array
from mecsim.model.allocation import cpu_split, optimal_power
from mecsim.model.channel import rate_bps
from mecsim.model.cost import TaskCost, local_cost, local_power_w, offload_cost
from mecsim.params import ModelParams

#: Arguments that change the tasks, links or capacities (a replaced problem recomputes all).
_PHYSICAL = {"gains", "data_bits", "cycles", "local_cpu_hz", "mec_cpu_hz", "params"}
#: Cached properties that depend on those alone (carried over by ``replaced``).
_CARRIED = ("local", "local_feasible", "tx_power_w", "rate_bps", "upload_s")


class Allocation(NamedTuple):
    """Resources of each task for one placement (arrays of shape ``(n,)``).

    Attributes:
        cpu_hz: CPU share at the task's MEC [cycle/s]; 0 for local tasks.
        tx_power_w: Transmit power [W]; 0 for local tasks.
        rate_bps: Upload rate [bit/s]; 0 for local tasks.
    """

    cpu_hz: np.ndarray
    tx_power_w: np.ndarray
    rate_bps: np.ndarray


class Waits(NamedTuple):
    """Work already waiting where a slot's tasks would go (the backlog-aware option).

    Attributes:
        local_s: ``(n,)`` time the task's IoTD's CPU needs for the jobs it holds [s].
        uplink_s: ``(n,)`` time the task's IoTD's uplink needs for its queued uploads [s].
        mec_s: ``(M,)`` time each MEC needs to run its backlog at full speed, ``B_j / Fmax_j``
            [s] (cycles queued, in service and still uploading).
    """

    local_s: np.ndarray
    uplink_s: np.ndarray
    mec_s: np.ndarray


class SlotProblem:
    """The tasks of one decision epoch and the cost of placing them.

    Args:
        gains: ``(n, M)`` channel power gains of each task's IoTD to each MEC [-], >= 0.
        data_bits: ``(n,)`` upload sizes ``D`` [bit], > 0.
        cycles: ``(n,)`` CPU cycles ``F`` [cycle], > 0.
        local_cpu_hz: ``(n,)`` or scalar local CPU frequency ``f0`` [cycle/s], > 0.
        mec_cpu_hz: ``(M,)`` MEC capacities ``Fmax`` [cycle/s], > 0.
        params: Channel and cost parameters.
        available: ``(M,)`` booleans, ``False`` for a MEC that takes no task (failed).
        waits: Work already queued (:class:`Waits`); ``None``: none (the spec's model).
            A task kept local waits ``local_s``; an offloaded one waits ``uplink_s``, then,
            at MEC ``j``, what is left of ``mec_s[j]`` once its own upload is done:
            ``max(mec_s[j] - uplink_s - D / r_ij, 0)``.
        price: ``(n, M+1)`` extra cost of each choice [-], finite; ``None``: 0.
        mec_weight: ``(M,)`` extra weight of each MEC's quadratic term, >= 0
            [1/(cycle/s)]: the cost gains ``mec_weight_j (sum_{i on j} sqrt F_i)^2``;
            ``None``: 0. It changes the cost, not the latency.

    Raises:
        ValueError: On a non-finite, non-positive or mis-shaped argument; the message names it.
    """

    def __init__(self, gains, data_bits, cycles, local_cpu_hz, mec_cpu_hz,
                 params: ModelParams | None = None, available=None,
                 waits: Waits | None = None, price=None, mec_weight=None) -> None:
        self.params = params if params is not None else ModelParams()
        self.mec_cpu_hz = as_array("mec_cpu_hz", mec_cpu_hz, ndim=1, positive=True)
        m = self.mec_cpu_hz.size
        if m == 0:
            raise ValueError("mec_cpu_hz must list at least one MEC, got an empty array")
        self.gains = as_array("gains", gains, shape=(None, m), nonnegative=True)
        n = self.gains.shape[0]
        self.data_bits = as_array("data_bits", data_bits, shape=(n,), positive=True)
        self.cycles = as_array("cycles", cycles, shape=(n,), positive=True)
        f0 = as_array("local_cpu_hz", local_cpu_hz, positive=True)
        if f0.ndim == 0:
            f0 = np.full(n, float(f0))
        self.local_cpu_hz = as_array("local_cpu_hz", f0, shape=(n,), positive=True)
        if available is None:
            self.available = np.ones(m, dtype=bool)
        else:
            self.available = np.asarray(available, dtype=bool)
            if self.available.shape != (m,):
                raise ValueError(f"available must have shape ({m},), got {self.available.shape}")
        self.sqrt_cycles = np.sqrt(self.cycles)
        self.mec_weight = None if mec_weight is None else as_array(
            "mec_weight", mec_weight, shape=(m,), nonnegative=True)
        self.cpu_weight = self.params.phi_t / self.mec_cpu_hz  # [1/(cycle/s)] per MEC
        if self.mec_weight is not None:
            self.cpu_weight = self.cpu_weight + self.mec_weight
        self.waits = None if waits is None else Waits(
            as_array("waits.local_s", waits.local_s, shape=(n,), nonnegative=True),
            as_array("waits.uplink_s", waits.uplink_s, shape=(n,), nonnegative=True),
            as_array("waits.mec_s", waits.mec_s, shape=(m,), nonnegative=True))
        self.price = None if price is None else as_array("price", price, shape=(n, m + 1))

    def replaced(self, **changes) -> SlotProblem:
        """Return a copy with some constructor arguments changed (``available=...``, ...)."""
        args = {"gains": self.gains, "data_bits": self.data_bits, "cycles": self.cycles,
                "local_cpu_hz": self.local_cpu_hz, "mec_cpu_hz": self.mec_cpu_hz,
                "params": self.params, "available": self.available, "waits": self.waits,
                "price": self.price, "mec_weight": self.mec_weight}
        unknown = set(changes) - set(args)
        if unknown:
            raise ValueError(f"SlotProblem has no argument(s) {sorted(unknown)}")
        args.update(changes)
        new = SlotProblem(**args)
        if not set(changes) & _PHYSICAL:  # the same tasks and links: reuse what was computed
            for name in _CARRIED:
                if name in self.__dict__:
                    new.__dict__[name] = self.__dict__[name]
        return new

    @property
    def n_tasks(self) -> int:
        """Number of tasks ``n`` in the slot."""
        return self.gains.shape[0]

    @property
    def n_mecs(self) -> int:
        """Number of MECs ``M``."""
        return self.mec_cpu_hz.size

    @cached_property
    def local(self) -> TaskCost:
        """``(n,)`` cost parts of running each task locally."""
        p = self.params
        return local_cost(self.cycles, self.local_cpu_hz, p.kappa, p.nu, p.phi_t, p.phi_e)

    @cached_property
    def local_feasible(self) -> np.ndarray:
        """``(n,)`` True where local execution power ``kappa f0^nu <= Pmax`` (constraint 7)."""
        p = self.params
        power = local_power_w(self.local_cpu_hz, p.kappa, p.nu)
        return power <= p.max_power_w * (1 + 1e-12)

    @cached_property
    def tx_power_w(self) -> np.ndarray:
        """``(n, M)`` optimal transmit power of each task to each MEC [W]."""
        p = self.params
        return optimal_power(self.gains, p.noise_w, p.phi_t, p.phi_e, p.max_power_w)

    @cached_property
    def rate_bps(self) -> np.ndarray:
        """``(n, M)`` upload rate at the optimal power [bit/s]."""
        p = self.params
        return rate_bps(self.tx_power_w, self.gains, p.bandwidth_hz, p.noise_w)

    @cached_property
    def cost_table(self) -> np.ndarray:
        """``(n, M+1)`` cost ``C``: column 0 local, column ``j`` the upload to MEC ``j``.

        Infeasible choices (local power above ``Pmax``, a failed MEC, a zero gain) cost inf.
        With ``waits``, each choice's wait costs ``phi_T`` per second more; ``price`` is
        added as it is.
        """
        p = self.params
        table = np.empty((self.n_tasks, self.n_mecs + 1))
        table[:, 0] = np.where(self.local_feasible, self.local.cost, np.inf)
        tx = (p.phi_t + p.phi_e * self.tx_power_w) * self.upload_s
        table[:, 1:] = np.where(self.available[None, :] & (self.rate_bps > 0), tx, np.inf)
        if self.waits is not None:
            table += p.phi_t * self.wait_table
        if self.price is not None:
            table += self.price
        return table

    @cached_property
    def upload_s(self) -> np.ndarray:
        """``(n, M)`` upload time at the optimal power, ``D / r`` [s] (inf over a zero rate)."""
        with np.errstate(divide="ignore"):
            return self.data_bits[:, None] / self.rate_bps

    @cached_property
    def wait_table(self) -> np.ndarray:
        """``(n, M+1)`` time each choice waits behind queued work [s] (0 without ``waits``).

        Column 0: ``local_s``. Column ``j``: ``uplink_s + max(mec_s[j] - uplink_s - D/r_ij, 0)``,
        the MEC's backlog as if it ran that first, less what it runs while the task uploads.
        """
        table = np.zeros((self.n_tasks, self.n_mecs + 1))
        if self.waits is None:
            return table
        w = self.waits
        table[:, 0] = w.local_s
        with np.errstate(invalid="ignore"):
            at_mec = np.maximum(w.mec_s[None, :] - w.uplink_s[:, None] - self.upload_s, 0.0)
        at_mec = np.where(np.isfinite(self.upload_s), at_mec, 0.0)
        table[:, 1:] = w.uplink_s[:, None] + at_mec
        return table

    def batch_cost(self, placements) -> np.ndarray:
        """Return the slot cost of each of ``K`` placements.

        Args:
            placements: ``(K, n)`` integers in ``0..M``.

        Returns:
            ``(K,)`` costs (inf for a placement with an infeasible choice).
        """
        a = self._placements(placements)
        k, n = a.shape
        width = self.n_mecs + 1
        flat = a + (width * np.arange(n))[None, :]
        per_task = self.cost_table.ravel()[flat].sum(axis=1)
        rows = (a + (width * np.arange(k))[:, None]).ravel()
        weights = np.broadcast_to(self.sqrt_cycles, (k, n)).ravel()
        sums = np.bincount(rows, weights=weights, minlength=k * width).reshape(k, width)
        return per_task + (sums[:, 1:] ** 2) @ self.cpu_weight

    def cost(self, placement) -> float:
        """Return the slot cost of one ``(n,)`` placement."""
        return float(self.batch_cost(np.asarray(placement)[None, :])[0])

    def allocate(self, placement) -> Allocation:
        """Return the exact allocation for one placement (closed forms of spec section 4)."""
        a = self._placements(np.asarray(placement)[None, :])[0]
        cpu = cpu_split(a, self.cycles, self.mec_cpu_hz)
        off = np.flatnonzero(a)
        power = np.zeros(self.n_tasks)
        rate = np.zeros(self.n_tasks)
        if off.size:
            p = self.params
            gain = self.gains[off, a[off] - 1]
            power[off] = optimal_power(gain, p.noise_w, p.phi_t, p.phi_e, p.max_power_w)
            rate[off] = rate_bps(power[off], gain, p.bandwidth_hz, p.noise_w)
        return Allocation(cpu, power, rate)

    def evaluate(self, placement, allocation: Allocation | None = None) -> TaskCost:
        """Return each task's latency, energy and cost for a placement.

        Args:
            placement: ``(n,)`` integers in ``0..M``.
            allocation: Resources to use; the exact allocation when ``None``. Its
                ``rate_bps`` is recomputed from the power and the gain.

        Returns:
            ``(n,)`` cost parts (inf latency for an offloader with zero rate or CPU).
        """
        a = self._placements(np.asarray(placement)[None, :])[0]
        if allocation is None:
            allocation = self.allocate(a)
        p = self.params
        out = TaskCost(*(np.array(part, dtype=float) for part in self.local))
        off = np.flatnonzero(a)
        if off.size:
            gain = self.gains[off, a[off] - 1]
            power = allocation.tx_power_w[off]
            rate = rate_bps(power, gain, p.bandwidth_hz, p.noise_w)
            part = offload_cost(self.data_bits[off], self.cycles[off], rate, power,
                                allocation.cpu_hz[off], p.phi_t, p.phi_e)
            for mine, theirs in zip(out, part, strict=True):
                mine[off] = theirs
        if self.waits is not None or self.price is not None or self.mec_weight is not None:
            rows = np.arange(self.n_tasks)
            wait = self.wait_table[rows, a]
            extra = self.params.phi_t * wait
            if self.price is not None:
                extra = extra + self.price[rows, a]
            if self.mec_weight is not None and off.size:  # each task's share of the term
                sums = np.bincount(a, weights=self.sqrt_cycles, minlength=self.n_mecs + 1)
                j = a[off] - 1
                extra[off] += self.mec_weight[j] * self.sqrt_cycles[off] * sums[j + 1]
            out = TaskCost(out.latency_s + wait, out.energy_j, out.cost + extra)
        return out

    def _placements(self, placements) -> np.ndarray:
        a = np.asarray(placements)
        if a.ndim != 2 or a.shape[1] != self.n_tasks:
            raise ValueError(f"placements must have shape (K, {self.n_tasks}), got {a.shape}")
        if not np.issubdtype(a.dtype, np.integer):
            raise ValueError(f"placements must be integers, got dtype {a.dtype}")
        if a.size and (a.min() < 0 or a.max() > self.n_mecs):
            raise ValueError(f"placements must be in 0..{self.n_mecs}, got values "
                             f"{int(a.min())}..{int(a.max())}")
        return a
