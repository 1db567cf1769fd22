"""First-come, first-served lines, one per IoTD, whose service rate changes with the channel.

An IoTD's uplink and its local CPU are each one line: jobs (uploads of ``bits``, or local
runs of ``cycles``) are served one at a time in arrival order. The rate of the job in
service may change at every fading step of the slot (an upload follows its channel to its
MEC, at the power decided at placement); a local CPU has one constant rate.

Only the job in service has an event: its completion, when it falls inside the current
slot. At each epoch :meth:`FcfsLines.new_slot` advances every job in service to the epoch
with the old slot's rates and plans it again with the new ones. A job can be removed at
any time (a deadline, a MEC failure): the next one starts at once.

:class:`LocalCpus` holds the local CPUs when their completions are computed ahead instead
(no SimPy event each), run in order by :class:`AheadEnvironment`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from heapq import heapify, heappop, heappush
from itertools import count, islice

import numpy as np
import simpy
from simpy.core import NORMAL
from simpy.events import Timeout

RatesFn = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
_BATCH_PLAN = 8  # jobs planned at once from which their finish times are one numpy pass
# Jobs queued behind each line's job in service whose rates an epoch computes with the
# heads' (one call): a job that starts mid-slot then needs no call of its own
QUEUED_AHEAD = 1


class Job:
    """One job of a line.

    Attributes:
        token: The caller's handle of the task.
        link: What the rate depends on besides the IoTD (the MEC of an upload, 0-based).
        power_w: Power drawn while in service [W] (transmit or execution power).
        left: Work left [bit or cycle] at ``as_of_s``.
        as_of_s: When ``left`` was last brought up to date [s].
        started_s: When the job entered service [s] (NaN while waiting).
        rates: The job's rate at each step of the current slot [work/s], once planned.
        plan: How many times its completion was planned (an older plan's event is stale).
        cum: ``(rates, work done by the end of each step)``, kept for the current ``rates``.
    """

    __slots__ = ("token", "link", "power_w", "left", "as_of_s", "started_s", "rates", "plan",
                 "cum")

    def __init__(self, token: object, link: int, work: float, power_w: float) -> None:
        self.token, self.link, self.power_w = token, link, power_w
        self.left = work
        self.as_of_s = float("nan")
        self.started_s = float("nan")
        self.rates: np.ndarray | None = None
        self.plan = 0
        self.cum: tuple | None = None


class FcfsLines:
    """One first-come-first-served line per IoTD.

    Args:
        env: The simulation environment.
        rates: ``rates(iotd, link, power_w) -> (steps, k)``: each job's rate at every step
            of the current slot [work/s], > 0.
        on_done: Called as ``on_done(job, time_s)`` when a job's work is done.
    """

    def __init__(self, env: simpy.Environment, rates: RatesFn,
                 on_done: Callable[[Job, float], None]) -> None:
        self.env = env
        self._rates = rates
        self._on_done = on_done
        self._queues: dict[int, deque[Job]] = {}  # only IoTDs with jobs
        self.start_s, self.step_s, self.steps = 0.0, 1.0, 1
        self._edges = np.array([1.0])  # [s] ends of the current slot's steps
        self._spans = np.empty(0)  # [s] lengths of steps 1.. of the current slot
        self.queued_work = 0.0  # work of the jobs not in service [bit or cycle]
        # this slot's rates of jobs not yet started, computed ahead in one call per batch,
        # with their means over the slot's steps
        self._ready: dict[Job, tuple[np.ndarray, float]] = {}

    # ------------------------------------------------------------------ queries
    def __len__(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def in_service(self) -> list[tuple[int, Job]]:
        """``(iotd, job)`` of every job in service."""
        return [(dev, q[0]) for dev, q in self._queues.items()]

    def work_left(self, now: float) -> float:
        """Work left in every line at ``now`` (within the current slot) [bit or cycle]."""
        heads = [job for _, job in self.in_service()]
        return self.queued_work + sum(job.left - self._done_between(job, job.as_of_s, now)
                                      for job in heads)

    def busy_s(self, now: float, n: int) -> np.ndarray:
        """Time each of ``n`` lines needs for the work it holds at ``now`` [s], ``(n,)``.

        Each job counts at its mean rate over the current slot's steps (a queued upload's
        rates are computed for the estimate and kept for when it starts); a job with no
        rate at all counts as ``inf``.
        """
        out = np.zeros(n)
        if not self._queues:
            return out
        devs, jobs, left = [], [], []
        for dev, queue in self._queues.items():
            for k, job in enumerate(queue):
                devs.append(dev)
                jobs.append(job)
                left.append(job.left - self._done_between(job, job.as_of_s, now) if k == 0
                            else job.left)
        rate = self._mean_rates(devs, jobs)
        with np.errstate(divide="ignore"):
            time_s = np.where(rate > 0, np.maximum(left, 0.0) / np.maximum(rate, 1e-300),
                              np.inf)
        np.add.at(out, np.asarray(devs, dtype=np.int64), time_s)
        return out

    def _mean_rates(self, devs: list[int], jobs: list[Job]) -> np.ndarray:
        rate = np.empty(len(jobs))
        missing = [k for k, job in enumerate(jobs) if job.rates is None]
        for k, job in enumerate(jobs):
            if job.rates is not None:
                rate[k] = float(np.add.reduce(job.rates)) / len(job.rates)  # np.mean, faster
        if missing:
            self._prepare([devs[k] for k in missing], [jobs[k] for k in missing])
            ready = self._ready
            rate[missing] = [ready[jobs[k]][1] for k in missing]
        return rate

    # ------------------------------------------------------------------ changes
    def new_slot(self, start_s: float, step_s: float, steps: int) -> None:
        """Bring every job in service up to ``start_s`` and plan it with the new rates."""
        for _, job in self.in_service():
            job.left -= self._done_between(job, job.as_of_s, start_s)
            job.as_of_s = start_s
            job.rates = None
            job.plan += 1  # drop the old plan
        self.start_s, self.step_s, self.steps = start_s, step_s, steps
        self._edges = start_s + step_s * np.arange(1, steps + 1)  # [s] step ends
        self._spans = np.diff(self._edges)  # [s] of steps 1.. (as the edges round them)
        self._ready.clear()  # the old slot's rates
        self._prepare_ahead()
        self._plan(list(self._queues), start_s)

    def _prepare_ahead(self) -> None:
        """The new slot's rates of each job in service and the next ``QUEUED_AHEAD``."""
        if QUEUED_AHEAD <= 0 or not self._queues:
            return
        devs, jobs = [], []
        for dev, queue in self._queues.items():
            for job in islice(queue, 0, 1 + QUEUED_AHEAD):
                devs.append(dev)
                jobs.append(job)
        self._prepare(devs, jobs)
        ready = self._ready
        for queue in self._queues.values():
            queue[0].rates = ready.pop(queue[0])[0]  # in service: as _start would

    def add(self, iotd: np.ndarray, jobs: list[Job], now: float) -> None:
        """Queue ``jobs[k]`` on the line of ``iotd[k]``, in order; idle lines start at once.

        The rates of every job for the current slot are computed in one call, whether it
        starts now or later in the slot.
        """
        self._prepare(iotd.tolist(), jobs)
        idle = []
        for dev, job in zip(iotd.tolist(), jobs, strict=True):
            queue = self._queues.get(dev)
            if queue is None:
                queue = self._queues[dev] = deque()
                idle.append(dev)
                self._start(job, now)
            else:
                self.queued_work += job.left
            queue.append(job)
        self._plan(idle, now)

    def remove(self, iotd: int, job: Job, now: float) -> float:
        """Take ``job`` off its line at ``now``; return the time it was in service [s]."""
        queue = self._queues[iotd]
        self._ready.pop(job, None)
        if queue[0] is not job:
            queue.remove(job)
            self.queued_work -= job.left
            return 0.0
        self._next(iotd, now)
        return now - job.started_s

    def close(self) -> None:
        """Forget every job and the callbacks: the run has ended (idempotent).

        The callbacks are the owner's bound methods: dropping them breaks the owner's
        reference cycle through its lines.
        """
        self._queues.clear()
        self._ready.clear()
        self.queued_work = 0.0
        self._rates, self._on_done = _no_rates, _ended

    # ------------------------------------------------------------------ inside
    def _start(self, job: Job, now: float) -> None:
        job.started_s = job.as_of_s = now
        job.rates = self._ready.pop(job, (None, None))[0]  # None: computed when planned

    def _prepare(self, devs: list[int], jobs: list[Job]) -> None:
        """Compute this slot's rates of ``jobs`` not yet known, in one call, for later."""
        ready = self._ready
        todo = [k for k, job in enumerate(jobs) if job not in ready]
        if not todo:
            return
        rates = self._rates(np.array([devs[k] for k in todo], dtype=np.int64),
                            np.array([jobs[k].link for k in todo], dtype=np.int64),
                            np.array([jobs[k].power_w for k in todo]))
        # a mean over axis 0 adds the steps in order, column by column: the same value
        # whatever other jobs are in the call
        means = rates.mean(axis=0).tolist()
        for col, k in enumerate(todo):
            ready[jobs[k]] = (rates[:, col], means[col])

    def _next(self, dev: int, now: float) -> None:
        """The job in service of ``dev`` has left: start the next one, if any."""
        queue = self._queues[dev]
        queue.popleft()
        if not queue:
            del self._queues[dev]
            return
        self.queued_work -= queue[0].left
        self._start(queue[0], now)
        self._plan([dev], now)

    def _plan(self, devs: list[int], now: float) -> None:
        """Schedule the completion of each line's job in service if it ends in this slot."""
        if not devs:
            return
        jobs = [self._queues[d][0] for d in devs]
        missing = [k for k, job in enumerate(jobs) if job.rates is None]
        if missing:
            self._fill_rates([devs[k] for k in missing], [jobs[k] for k in missing])
        batch = len(jobs) >= _BATCH_PLAN and self.steps > 1 and all(
            job.as_of_s == now for job in jobs)
        finishes = self._finish_times(jobs, now) if batch else \
            [self._finish_time(job, now) for job in jobs]
        for dev, job, finish in zip(devs, jobs, finishes, strict=True):
            if finish is None:
                continue
            job.plan += 1
            Timeout(self.env, max(finish - now, 0.0), (dev, job, job.plan)).callbacks.append(
                self._wake)

    def _finish_times(self, jobs: list[Job], now: float) -> list[float | None]:
        """:meth:`_finish_time` of jobs brought up to ``now`` (an epoch), as one numpy pass.

        The same values: each job's step work and its running sum (``cumsum`` along the
        steps adds in order, column by column) are those of the one-job path.
        """
        edges, steps = self._edges, self.steps
        first = int(np.searchsorted(edges, now, side="right"))
        left = np.array([job.left for job in jobs])
        if first >= steps:
            return [now if v <= 0.0 else None for v in left.tolist()]
        spans = np.empty(steps - first)  # [s] of each remaining step
        spans[0] = edges[first] - now
        spans[1:] = self._spans[first:]
        rates = np.stack([job.rates[first:] for job in jobs], axis=1)  # (steps - first, J)
        work = rates * spans[:, None]
        total = np.cumsum(work, axis=0)
        reached = total >= left
        k = reached.argmax(axis=0)  # the first step whose running sum reaches ``left``
        cols = np.arange(len(jobs))
        before = total[k, cols] - work[k, cols]
        start = np.where(k == 0, now, edges[first + k - 1])
        with np.errstate(divide="ignore", invalid="ignore"):  # a job that does not end
            finish = start + (left - before) / rates[k, cols]
        ends = reached[k, cols]
        return [now if v <= 0.0 else (f if e else None)
                for v, f, e in zip(left.tolist(), finish.tolist(), ends.tolist(), strict=True)]

    def _fill_rates(self, devs: list[int], jobs: list[Job]) -> None:
        """Give each job its rates for the current slot (one vectorised call)."""
        rates = self._rates(np.array(devs, dtype=np.int64),
                            np.array([job.link for job in jobs], dtype=np.int64),
                            np.array([job.power_w for job in jobs]))
        for col, job in enumerate(jobs):
            job.rates = rates[:, col]

    def _finish_time(self, job: Job, now: float) -> float | None:
        """When ``job`` (in service, ``left`` at ``as_of_s <= now``) ends, if in this slot."""
        edges = self._edges
        left = job.left - self._done_between(job, job.as_of_s, now)
        job.left, job.as_of_s = left, now
        if left <= 0.0:
            return now
        if self.steps == 1:  # one rate for the whole slot
            rate = float(job.rates[0])
            if rate <= 0.0:  # no progress this slot (a rate that underflowed to 0)
                return None
            finish = now + left / rate
            return finish if finish <= edges[0] else None
        first = int(np.searchsorted(edges, now, side="right"))
        if first >= self.steps:
            return None
        spans = np.empty(self.steps - first)  # [s] of each remaining step
        spans[0] = edges[first] - now
        spans[1:] = self._spans[first:]
        work = job.rates[first:] * spans
        total = np.cumsum(work)
        k = int(np.searchsorted(total, left, side="left"))
        if k >= total.size:
            return None
        before = total[k] - work[k]
        start = now if k == 0 else edges[first + k - 1]
        return float(start + (left - before) / job.rates[first + k])

    def _done_between(self, job: Job, t0: float, t1: float) -> float:
        """Work done by ``job`` in service between ``t0`` and ``t1`` of the current slot."""
        if t1 <= t0 or job.rates is None:
            return 0.0
        s0 = (t0 - self.start_s) / self.step_s
        s1 = (t1 - self.start_s) / self.step_s
        if self.steps == 1:
            return float(job.rates[0] * (t1 - t0))
        kept = job.cum
        if kept is None or kept[0] is not job.rates:  # the rates changed: once per rates
            kept = job.cum = (job.rates, (np.concatenate(([0.0], np.cumsum(job.rates)))
                                          * self.step_s).tolist())
        cum = kept[1]
        return _interp(s1, cum) - _interp(s0, cum)

    def _wake(self, event: simpy.Event) -> None:
        dev, job, plan = event.value
        if job.plan != plan:
            return  # the slot's plan was replaced
        queue = self._queues.get(dev)
        if queue is None or queue[0] is not job:
            return  # the job was removed
        now = self.env.now
        job.left, job.as_of_s = 0.0, now
        self._next(dev, now)
        self._on_done(job, now)


def _no_rates(iotd: np.ndarray, link: np.ndarray, power_w: np.ndarray) -> np.ndarray:
    """``rates`` of closed lines: the run has ended."""
    raise RuntimeError("the lines are closed: the run has ended")


def _ended(job: Job, time_s: float) -> None:
    """``on_done`` of closed lines: the run has ended, no job finishes any more."""


class ConstantRateLines(FcfsLines):
    """Lines whose rate never changes (an IoTD's CPU at ``f0``).

    Each completion is planned once, when the job enters service; epochs change nothing.

    Args:
        env: The simulation environment.
        rate: Each IoTD's rate [work/s], ``(N,)``, > 0.
        on_done: Called as ``on_done(job, time_s)`` when a job's work is done.
    """

    def __init__(self, env: simpy.Environment, rate: np.ndarray,
                 on_done: Callable[[Job, float], None]) -> None:
        super().__init__(env, lambda *args: None, on_done)
        self._rate = np.asarray(rate, dtype=float).tolist()

    def new_slot(self, start_s: float, step_s: float, steps: int) -> None:
        """Nothing to do: the rates do not change."""

    def _mean_rates(self, devs: list[int], jobs: list[Job]) -> np.ndarray:
        return np.array([self._rate[dev] for dev in devs])

    def _plan(self, devs: list[int], now: float) -> None:
        env, wake, rate = self.env, self._wake, self._rate
        for dev in devs:  # a job is planned once, when it enters service (left = its work)
            job = self._queues[dev][0]
            job.rates = (rate[dev],)
            job.plan += 1
            Timeout(env, job.left / rate[dev], (dev, job, job.plan)).callbacks.append(wake)

    def _fill_rates(self, devs: list[int], jobs: list[Job]) -> None:
        for dev, job in zip(devs, jobs, strict=True):
            job.rates = (self._rate[dev],)

    def _prepare(self, devs: list[int], jobs: list[Job]) -> None:
        """Nothing to prepare: the rate is the IoTD's."""

    def _finish_time(self, job: Job, now: float) -> float | None:
        left = job.left - self._done_between(job, job.as_of_s, now)
        job.left, job.as_of_s = left, now
        return now + max(left, 0.0) / job.rates[0]

    def _done_between(self, job: Job, t0: float, t1: float) -> float:
        return job.rates[0] * (t1 - t0) if t1 > t0 and job.rates is not None else 0.0


class AheadEnvironment(simpy.Environment):
    """SimPy's environment, which also runs the completions that :class:`LocalCpus` knows.

    Before each SimPy event, the local completions that come first run, each at its own
    time, in the order that one SimPy timeout each would have given them (time, then
    priority, then creation order): the run is the same, with fewer SimPy events.
    """

    def __init__(self, initial_time: float = 0) -> None:
        super().__init__(initial_time)
        self.ahead: LocalCpus | None = None  # the completions known ahead

    def step(self) -> None:
        """Run the known completions due before SimPy's next event, then that event."""
        ahead = self.ahead
        if ahead is not None and ahead.due:
            queue = self._queue
            if not queue:
                ahead.run_due(None)
            elif ahead.due[0][0] <= queue[0][0]:  # else nothing is due before SimPy's next
                ahead.run_due(queue[0])
        super().step()


class LocalCpus:
    """Each IoTD's CPU: one first-come-first-served line at a constant rate, no SimPy events.

    A job's finish time is known once it is queued: the job before it finishes at a known
    time (or at once, on an idle CPU) and the rate never changes. :meth:`add` computes the
    finish times of a batch with numpy, one vectorised pass per rank of a job among its
    IoTD's jobs of the batch (``finish = busy_until + cycles / f``, cumulated in order).
    Only the job in service of each IoTD is in a heap; :class:`AheadEnvironment` runs its
    completion when it comes before SimPy's next event, so the outcome and the order of
    every completion are those of one SimPy timeout each (same times, same tie-breaks). A
    job removed (a deadline) lets the next one start at once: the finish times behind it
    move earlier, never later, since new jobs only join at the back.

    Args:
        env: The simulation's environment (its ``ahead`` is set to this object).
        rate: Each IoTD's rate [work/s], ``(N,)``, > 0.
        on_done: Called as ``on_done(job, time_s)`` when a job's work is done.
    """

    def __init__(self, env: AheadEnvironment, rate: np.ndarray,
                 on_done: Callable[[Job, float], None]) -> None:
        self.env = env
        env.ahead = self
        self._rate = np.asarray(rate, dtype=float)  # [work/s]
        self._rates = [(r,) for r in self._rate.tolist()]  # a job's ``rates`` on each IoTD
        self._until = np.zeros(self._rate.size)  # [s] finish of each IoTD's last job
        self._head_end = [0.0] * self._rate.size  # [s] finish of each IoTD's job in service
        self._on_done = on_done
        self._queues: dict[int, deque[Job]] = {}  # only IoTDs with jobs
        # the job in service of each busy IoTD: [finish [s], stamp, seq, iotd, job, plan]
        self.due: list[tuple] = []
        self._seq = 0
        self.completed = 0  # completions run ahead: events that SimPy did not queue
        self.queued_work = 0.0  # work of the jobs not in service [work]

    # ------------------------------------------------------------------ queries
    def __len__(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def in_service(self) -> list[tuple[int, Job]]:
        """``(iotd, job)`` of every job in service."""
        return [(dev, q[0]) for dev, q in self._queues.items()]

    def busy_s(self, now: float, n: int) -> np.ndarray:
        """Time each of ``n`` CPUs needs for the work it holds at ``now`` [s], ``(n,)``."""
        out = np.zeros(n)
        if not self._queues:
            return out
        devs, left = [], []
        for dev, queue in self._queues.items():
            head = queue[0]
            done = head.rates[0] * (now - head.as_of_s) if now > head.as_of_s else 0.0
            devs.append(dev)
            left.append(head.left - done)
            for job in list(queue)[1:]:
                devs.append(dev)
                left.append(job.left)
        index = np.asarray(devs, dtype=np.int64)
        rate = self._rate[index]
        with np.errstate(divide="ignore"):
            time_s = np.where(rate > 0, np.maximum(left, 0.0) / np.maximum(rate, 1e-300),
                              np.inf)
        np.add.at(out, index, time_s)
        return out

    # ------------------------------------------------------------------ changes
    def add(self, iotd: np.ndarray, jobs: list[Job], now: float,
            work: np.ndarray | None = None) -> np.ndarray:
        """Queue ``jobs[k]`` on the CPU of ``iotd[k]``, in order; idle CPUs start at once.

        Args:
            iotd: Each job's IoTD, ``(k,)``.
            jobs: The jobs, in the order they join.
            now: The time [s].
            work: Each job's work [work], ``(k,)``, if at hand (else read from ``jobs``).

        Returns:
            Each job's finish time [s] as planned now, ``(k,)``; removals ahead of a job
            can only bring it earlier.
        """
        iotd = np.asarray(iotd, dtype=np.int64)
        if not jobs:
            return np.empty(0)
        if work is None:
            work = np.array([job.left for job in jobs])
        step = work / self._rate[iotd]  # [s]
        busy = np.fromiter((d in self._queues for d in iotd.tolist()), bool, iotd.size)
        finish = self._chain(iotd, step, busy)
        stamp = self._stamp()  # no SimPy event is made during the loop
        queues, rates, head_end, seq = self._queues, self._rates, self._head_end, self._seq
        started, queued = [], 0.0
        for dev, job, end in zip(iotd.tolist(), jobs, finish.tolist(), strict=True):
            queue = queues.get(dev)
            if queue is None:  # an idle CPU: the job starts now (as _start, inline)
                queues[dev] = deque((job,))
                job.started_s = job.as_of_s = now
                job.rates = rates[dev]
                job.plan += 1
                seq += 1
                head_end[dev] = end
                started.append((end, stamp, seq, dev, job, job.plan))
            else:
                queued += job.left
                queue.append(job)
        self._seq = seq
        self.queued_work += queued
        self.due.extend(started)
        heapify(self.due)  # (finish, stamp, seq) are unique: the same order as pushes
        return finish

    def remove(self, iotd: int, job: Job, now: float) -> float:
        """Take ``job`` off its CPU at ``now``; return the time it was in service [s]."""
        queue = self._queues[iotd]
        if queue[0] is not job:
            queue.remove(job)
            self.queued_work -= job.left
            self._replan(iotd)
            return 0.0
        job.plan += 1  # its completion is void
        self._next(iotd, now, self.env.now)
        self._replan(iotd)
        return now - job.started_s

    def run_due(self, head: tuple | None) -> None:
        """Run, in order, the completions that come before SimPy's event ``head``."""
        due, env, queues, on_done = self.due, self.env, self._queues, self._on_done
        while due:
            finish, stamp, _, dev, job, plan = due[0]
            if head is not None and (finish > head[0] or finish == head[0] and (
                    head[1] < NORMAL or head[1] == NORMAL and stamp > head[2])):
                return
            heappop(due)
            if job.plan != plan:
                continue  # removed before its end
            env._now = finish
            job.left, job.as_of_s = 0.0, finish
            queue = queues[dev]
            if len(queue) == 1:
                del queues[dev]
            else:
                self._next(dev, finish, finish)
            self.completed += 1
            on_done(job, finish)

    def close(self) -> None:
        """Forget every job and the callback: the run has ended (idempotent)."""
        self._queues.clear()
        self.due.clear()
        self.queued_work = 0.0
        self._on_done = _ended
        if self.env.ahead is self:
            self.env.ahead = None

    # ------------------------------------------------------------------ inside
    def _chain(self, iotd: np.ndarray, step: np.ndarray, busy: np.ndarray) -> np.ndarray:
        """Finish times [s] of jobs queued in order: after the IoTD's last job, or now."""
        order = np.argsort(iotd, kind="stable")
        sorted_dev = iotd[order]
        first = np.r_[True, sorted_dev[1:] != sorted_dev[:-1]]
        starts = np.flatnonzero(first)
        rank = np.empty(iotd.size, dtype=np.int64)
        rank[order] = np.arange(iotd.size) - np.repeat(starts, np.diff(np.r_[starts,
                                                                              iotd.size]))
        until = self._until
        fresh = iotd[~busy]
        until[fresh] = self.env.now  # an idle CPU starts its first job now
        finish = np.empty(iotd.size)
        for r in range(int(rank.max()) + 1):  # one pass per rank: IoTDs are distinct in it
            k = np.flatnonzero(rank == r)
            dev = iotd[k]
            finish[k] = until[dev] + step[k]  # as a timeout set by the job before would
            until[dev] = finish[k]
        return finish

    def _stamp(self) -> float:
        """Where a SimPy event made now would sort among equal times and priorities."""
        env = self.env
        eid = next(env._eid)
        env._eid = count(eid)  # peeked, not used: the next SimPy event still gets ``eid``
        return eid - 0.5

    def _start(self, dev: int, job: Job, now: float, finish: float, stamp: float) -> None:
        job.started_s = job.as_of_s = now
        job.rates = self._rates[dev]
        job.plan += 1
        self._seq += 1
        self._head_end[dev] = finish
        heappush(self.due, (finish, stamp, self._seq, dev, job, job.plan))

    def _next(self, dev: int, now: float, env_now: float) -> None:
        """The job in service of ``dev`` has left at ``now``: start the next one, if any.

        Its finish is ``env_now`` (SimPy's clock) plus its run time, as a timeout made now.
        """
        queue = self._queues[dev]
        queue.popleft()
        if not queue:
            del self._queues[dev]
            return
        job = queue[0]
        self.queued_work -= job.left
        self._start(dev, job, now, env_now + job.left / self._rates[dev][0], self._stamp())

    def _replan(self, dev: int) -> None:
        """Bring the finish of ``dev``'s last job up to date after a removal [s]."""
        queue = self._queues.get(dev)
        if not queue:
            return
        rate = self._rates[dev][0]
        until = self._head_end[dev]
        for job in list(queue)[1:]:
            until += job.left / rate  # in order, as the timeouts would add them
        self._until[dev] = until


def _interp(x: float, cum: list[float]) -> float:
    """``np.interp(x, range(len(cum)), cum)`` for one point, in Python, bit for bit.

    The same operations as numpy's C loop: a point on a grid value (or past the ends) takes
    that value; between ``j`` and ``j + 1`` it is ``slope * (x - j) + cum[j]`` with
    ``slope = (cum[j + 1] - cum[j]) / 1.0``, and a NaN from an infinite slope is retried
    from the right end. numpy's call costs about 1.5 us; this, a third of it.
    """
    last = len(cum) - 1
    if x != x:  # NaN
        return x
    if x <= 0.0:
        return cum[0]
    if x >= last:
        return cum[last]
    j = int(x)
    if j == x:
        return cum[j]
    slope = (cum[j + 1] - cum[j]) / 1.0
    out = slope * (x - j) + cum[j]
    if out != out:
        out = slope * (x - (j + 1)) + cum[j + 1]
        if out != out and cum[j] == cum[j + 1]:
            out = cum[j]
    return out
