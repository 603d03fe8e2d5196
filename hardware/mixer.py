"""Mixes the call's remote voices into the one speaker stream (three-party calls: officer and interpreter).

Each received audio track is a *lane*. With one lane its samples pass straight through, exactly as before
mixing existed. With two or more, samples wait in their lane until every lane has a block (or one lane is
``lag_blocks`` ahead: the others are late or silent and are padded with zeros), then one block of each is
summed with saturation. Before this, two tracks appended to the same queue one after the other: each voice
played at half speed in turns, unintelligible.

Pure logic on numpy arrays, no device and no clock: the speaker calls it from its event loop and hands the
mixed blocks to its queue, so the echo canceller's far-end signal is exactly what is played.
"""

from __future__ import annotations

import itertools

import numpy as np


class AudioMixer:
    def __init__(self, block: int, lag_blocks: int = 3) -> None:
        if block <= 0 or lag_blocks <= 0:
            raise ValueError(f"mixer needs a positive block and lag, got {block} and {lag_blocks}")
        self.block = block
        self.lag_blocks = lag_blocks
        self._lanes: dict[int, np.ndarray] = {}
        self._ids = itertools.count()

    @property
    def lanes(self) -> int:
        return len(self._lanes)

    def add_lane(self) -> int:
        lane = next(self._ids)
        self._lanes[lane] = np.zeros(0, np.int16)
        return lane

    def push(self, lane: int, samples: np.ndarray) -> list[np.ndarray]:
        """Add a lane's mono int16 samples; returns the blocks now ready to play, in order."""
        if samples.dtype != np.int16 or samples.ndim != 1:
            raise ValueError(f"mixer wants mono int16 samples, got {samples.dtype} {samples.shape}")
        if lane not in self._lanes:
            raise KeyError(f"mixer lane {lane} is not open")
        if len(self._lanes) == 1:
            return [samples] if samples.size else []
        self._lanes[lane] = np.concatenate([self._lanes[lane], samples])
        return self._ready()

    def remove_lane(self, lane: int) -> list[np.ndarray]:
        """Close a lane (its track ended); what it still held is mixed in or, if it was alone, played out."""
        held = self._lanes.pop(lane, None)
        if held is None or held.size == 0:
            return self._ready() if len(self._lanes) > 1 else self._flush_single()
        if not self._lanes:
            return [held]
        # The others' buffers start at the same instant as this lane's: mix them out together.
        parts = [held, *self._lanes.values()]
        length = max(part.size for part in parts)
        for other in self._lanes:
            self._lanes[other] = np.zeros(0, np.int16)
        return [_mix(parts, length)]

    def _flush_single(self) -> list[np.ndarray]:
        """Back to one lane: what it held while mixing plays now, and from here its samples pass through."""
        out = []
        for lane, buffer in self._lanes.items():
            if buffer.size:
                out.append(buffer)
            self._lanes[lane] = np.zeros(0, np.int16)
        return out

    def _ready(self) -> list[np.ndarray]:
        out: list[np.ndarray] = []
        while self._lanes:
            sizes = [buffer.size for buffer in self._lanes.values()]
            every_lane_has_a_block = min(sizes) >= self.block
            one_lane_far_ahead = max(sizes) >= self.block * self.lag_blocks
            if not (every_lane_has_a_block or one_lane_far_ahead):
                return out
            parts = []
            for lane, buffer in self._lanes.items():
                parts.append(buffer[: self.block])
                self._lanes[lane] = buffer[self.block :]
            out.append(_mix(parts, self.block))
        return out


def _mix(parts: list[np.ndarray], length: int) -> np.ndarray:
    total = np.zeros(length, np.int32)
    for part in parts:
        total[: part.size] += part
    return np.clip(total, -32768, 32767).astype(np.int16)
