"""The envs' ``rgb_array`` frame: a map of the area drawn with numpy alone.

:func:`draw_map` draws the area (white, grey frame), each task's last placement (a line from
its IoTD to its MEC, in the MEC's colour), the MECs (squares in their colour; grey while
failed) and the IoTDs (dark dots at ``observation.iotd_positions_m``; a dot ringed in red
ran its last task locally). The frame is ``(H, W, 3)`` ``uint8`` with the longer side
:data:`SIZE` pixels and the other scaled to the area's aspect; it depends on its arguments
only, so equal states give equal frames. ``gymnasium.wrappers.RecordVideo`` records it
(with ``moviepy`` installed, which mecsim does not require).
"""

from __future__ import annotations

import numpy as np

#: Pixels of the frame's longer side.
SIZE = 400
#: Pixels kept free around the area.
MARGIN = 12
#: The shorter side is at least this many pixels.
MIN_SIDE = 64
#: One colour per MEC (cycled beyond ten): the "tab10" palette.
PALETTE = np.array([[31, 119, 180], [255, 127, 14], [44, 160, 44], [214, 39, 40],
                    [148, 103, 189], [140, 86, 75], [227, 119, 194], [127, 127, 127],
                    [188, 189, 34], [23, 190, 207]], dtype=np.uint8)
BACKGROUND = np.array([255, 255, 255], dtype=np.uint8)
FRAME = np.array([200, 200, 200], dtype=np.uint8)
FAILED = np.array([170, 170, 170], dtype=np.uint8)
IOTD = np.array([40, 40, 40], dtype=np.uint8)
LOCAL = np.array([220, 20, 60], dtype=np.uint8)
MEC_HALF = 6   # half side of a MEC's square [px]
IOTD_RADIUS = 3  # [px]


def frame_shape(area_m) -> tuple[int, int]:
    """``(H, W)`` of the frame for an area ``(width, height)`` [m]."""
    w_m, h_m = (float(v) for v in area_m)
    if w_m >= h_m:
        return max(MIN_SIDE, round(SIZE * h_m / w_m)), SIZE
    return SIZE, max(MIN_SIDE, round(SIZE * w_m / h_m))


def draw_map(scenario, network=None, observation=None, placement=None) -> np.ndarray:
    """The map of one epoch as an ``(H, W, 3)`` ``uint8`` array.

    Args:
        scenario: The :class:`~mecsim.config.Scenario` (its area, when ``network`` is None).
        network: The run's :class:`~mecsim.scheduler.Network` (MEC positions); None before
            a run: the area alone is drawn.
        observation: The epoch's :class:`~mecsim.scheduler.Observation` (IoTD positions,
            MEC availability); None: no IoTDs, every MEC drawn as available.
        placement: ``(N,)`` the last placement of each IoTD's tasks (-1: none, 0: local,
            ``j``: MEC ``j``), drawn when an observation gives the IoTDs' positions.
    """
    area = network.area_m if network is not None else scenario.area_m
    w_m, h_m = (float(v) for v in area)
    height, width = frame_shape(area)
    img = np.empty((height, width, 3), dtype=np.uint8)
    img[:] = BACKGROUND
    scale = min((width - 2 * MARGIN) / w_m, (height - 2 * MARGIN) / h_m)

    def to_px(xy) -> np.ndarray:
        xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        col = MARGIN + np.clip(xy[:, 0], 0.0, w_m) * scale
        row = height - 1 - MARGIN - np.clip(xy[:, 1], 0.0, h_m) * scale
        return np.rint(np.stack([row, col], axis=1)).astype(np.int64)

    # the area's frame
    corners = to_px([[0, 0], [w_m, 0], [w_m, h_m], [0, h_m]])
    for a, b in zip(corners, np.roll(corners, -1, axis=0), strict=True):
        _line(img, a, b, FRAME)
    if network is None:
        return img
    mecs = to_px(network.mec_positions_m)
    available = (np.ones(len(mecs), dtype=bool) if observation is None
                 else np.asarray(observation.available, dtype=bool))
    colours = PALETTE[np.arange(len(mecs)) % len(PALETTE)]
    iotds = None if observation is None else to_px(observation.iotd_positions_m)
    if iotds is not None and placement is not None:
        placement = np.asarray(placement, dtype=np.int64)
        for i in np.flatnonzero(placement > 0):
            j = placement[i] - 1
            _line(img, iotds[i], mecs[j], colours[j] if available[j] else FAILED)
    for j, (row, col) in enumerate(mecs):
        _square(img, row, col, MEC_HALF, colours[j] if available[j] else FAILED)
        if not available[j]:  # a cross on a failed MEC
            _line(img, (row - MEC_HALF, col - MEC_HALF), (row + MEC_HALF, col + MEC_HALF),
                  IOTD)
            _line(img, (row - MEC_HALF, col + MEC_HALF), (row + MEC_HALF, col - MEC_HALF),
                  IOTD)
    if iotds is not None:
        local = (np.zeros(len(iotds), dtype=bool) if placement is None
                 else np.asarray(placement) == 0)
        for i, (row, col) in enumerate(iotds):
            if local[i]:
                _disc(img, row, col, IOTD_RADIUS + 2, LOCAL)
            _disc(img, row, col, IOTD_RADIUS, IOTD)
    return img


def _line(img: np.ndarray, a, b, colour: np.ndarray) -> None:
    """A one-pixel line from ``a`` to ``b`` (``(row, col)``), clipped to the image."""
    (r0, c0), (r1, c1) = a, b
    n = int(max(abs(r1 - r0), abs(c1 - c0))) + 1
    rows = np.rint(np.linspace(r0, r1, n)).astype(np.int64)
    cols = np.rint(np.linspace(c0, c1, n)).astype(np.int64)
    keep = (rows >= 0) & (rows < img.shape[0]) & (cols >= 0) & (cols < img.shape[1])
    img[rows[keep], cols[keep]] = colour


def _square(img: np.ndarray, row: int, col: int, half: int, colour: np.ndarray) -> None:
    r0, r1 = max(row - half, 0), min(row + half + 1, img.shape[0])
    c0, c1 = max(col - half, 0), min(col + half + 1, img.shape[1])
    img[r0:r1, c0:c1] = colour


def _disc(img: np.ndarray, row: int, col: int, radius: int, colour: np.ndarray) -> None:
    r0, r1 = max(row - radius, 0), min(row + radius + 1, img.shape[0])
    c0, c1 = max(col - radius, 0), min(col + radius + 1, img.shape[1])
    rr, cc = np.ogrid[r0:r1, c0:c1]
    img[r0:r1, c0:c1][(rr - row) ** 2 + (cc - col) ** 2 <= radius * radius] = colour
