"""Prioritised replay of (state, best action) pairs, demonstrations kept for good.

Demonstrations (priority floor ``eps_d``) stay in the buffer for the whole run, as in
deep Q-learning from demonstrations; agent-generated pairs (floor ``eps_a``) fill a ring of
``capacity`` entries whose oldest entry is overwritten. A pair is drawn with probability
``P_i = w_i^eta / sum_k w_k^eta``, ``w_i = |delta_i| + eps``, ``delta_i`` its last loss; a
new pair gets the highest priority so far, so it is seen at least once soon.
"""

from __future__ import annotations

import numpy as np


class PrioritizedReplay:
    """Prioritised replay of inputs and actions, demonstrations kept apart.

    Inputs ``x`` are ``(N, M)`` (``(N + 1, M)`` with DIRS's backlog input), actions ``(N,)``
    (-1: no task for that IoTD).

    Args:
        capacity: Ring size for agent-generated pairs.
        eps_a: Priority floor of agent pairs.
        eps_d: Priority floor of demonstrations.
        eta: Priority exponent.
    """

    def __init__(self, capacity: int, eps_a: float, eps_d: float, eta: float) -> None:
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity!r}")
        self.capacity, self.eps_a, self.eps_d, self.eta = capacity, eps_a, eps_d, eta
        self._x: np.ndarray | None = None
        self._a: np.ndarray | None = None
        self._w = np.zeros(0)
        self._n_demo = 0
        self._size = 0
        self._next = 0

    def __len__(self) -> int:
        return self._n_demo + self._size

    @property
    def demonstrations(self) -> int:
        """Number of demonstrations held."""
        return self._n_demo

    def add_demonstrations(self, x: np.ndarray, actions: np.ndarray) -> None:
        """Store demonstrations ``x (D, N, M)``, ``actions (D, N)`` (before any agent pair)."""
        if self._size:
            raise ValueError("add demonstrations before agent-generated pairs")
        self._allocate(x.shape[1:], actions.shape[1], len(x))
        self._x[: len(x)] = x
        self._a[: len(x)] = actions
        self._w[: len(x)] = 1.0 + self.eps_d
        self._n_demo = len(x)

    def add(self, x: np.ndarray, action: np.ndarray) -> None:
        """Store one agent-generated pair, overwriting the oldest when full."""
        if self._x is None:
            self._allocate(x.shape, len(action), 0)
        i = self._n_demo + self._next
        self._x[i], self._a[i] = x, action
        self._w[i] = self._w[: len(self)].max() if len(self) else 1.0 + self.eps_a
        self._next = (self._next + 1) % self.capacity
        self._size = min(self._size + 1, self.capacity)

    def add_batch(self, x: np.ndarray, actions: np.ndarray) -> None:
        """Store ``k`` agent-generated pairs at once (``x (k, ...)``, ``actions (k, n)``).

        The same as ``k`` calls of :meth:`add`, except that all ``k`` get the highest
        priority held before the call; only the last ``capacity`` are kept when ``k`` is
        larger than the ring.
        """
        x, actions = x[-self.capacity:], actions[-self.capacity:]
        k = len(x)
        if k == 0:
            return
        if self._x is None:
            self._allocate(x.shape[1:], actions.shape[1], 0)
        top = self._w[: len(self)].max() if len(self) else 1.0 + self.eps_a
        slots = self._n_demo + (self._next + np.arange(k)) % self.capacity
        self._x[slots], self._a[slots], self._w[slots] = x, actions, top
        self._next = (self._next + k) % self.capacity
        self._size = min(self._size + k, self.capacity)

    def sample(self, batch: int, rng: np.random.Generator):
        """Draw ``batch`` indices by priority (with replacement when fewer are held).

        Returns:
            ``(index, x, actions, is_demo)``.
        """
        n = len(self)
        if n == 0:
            raise ValueError("the replay buffer is empty")
        p = self._w[:n] ** self.eta
        index = rng.choice(n, size=batch, replace=n < batch, p=p / p.sum())
        return index, self._x[index], self._a[index], index < self._n_demo

    def update(self, index: np.ndarray, errors: np.ndarray) -> None:
        """Set the priorities of sampled pairs from their losses."""
        floor = np.where(index < self._n_demo, self.eps_d, self.eps_a)
        self._w[index] = np.abs(errors) + floor

    def _allocate(self, shape: tuple[int, ...], n_actions: int, n_demo: int) -> None:
        total = n_demo + self.capacity
        self._x = np.zeros((total, *shape), dtype=np.float32)
        self._a = np.full((total, n_actions), -1, dtype=np.int64)
        self._w = np.zeros(total)
