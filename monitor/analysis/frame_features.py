"""Per-frame features of one channel: a column store of numpy arrays."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

HOP_S = 0.010
"""Analysis hop: one frame every 10 ms."""


@dataclass(frozen=True)
class Frames:
    """Frame features, one row per 10 ms hop; every array has shape (n,).

    ``t`` is the frame centre in seconds from the start of the stream. Values
    that are undefined for a frame (F0, HNR of unvoiced frames) are NaN.
    ``sound`` is the frame's sound class (uint8): 0 silence, 1 speech, 2 breath,
    3 cough or other non-speech sound (``monitor.dsp.sound_class``); ``speech`` is
    ``sound == 1``, and only speech frames are voiced or hold a syllable nucleus.
    """

    t: np.ndarray
    energy_db: np.ndarray
    floor_db: np.ndarray
    speech: np.ndarray
    voiced: np.ndarray
    f0_hz: np.ndarray
    hnr_db: np.ndarray
    cpps_db: np.ndarray
    slope_db_khz: np.ndarray
    intensity_db: np.ndarray
    nucleus: np.ndarray
    sound: np.ndarray

    def __len__(self) -> int:
        return len(self.t)

    def __getitem__(self, index: slice | np.ndarray) -> "Frames":
        return Frames(*[getattr(self, name)[index] for name in _COLUMNS])

    @staticmethod
    def empty() -> "Frames":
        f32 = np.zeros(0, dtype=np.float32)
        b = np.zeros(0, dtype=bool)
        return Frames(t=np.zeros(0), energy_db=f32, floor_db=f32, speech=b, voiced=b, f0_hz=f32,
                      hnr_db=f32, cpps_db=f32, slope_db_khz=f32, intensity_db=f32, nucleus=b,
                      sound=np.zeros(0, dtype=np.uint8))

    @staticmethod
    def concat(parts: "list[Frames]") -> "Frames":
        parts = [p for p in parts if len(p)]
        if not parts:
            return Frames.empty()
        return Frames(*[np.concatenate([getattr(p, name) for p in parts]) for name in _COLUMNS])

    def between(self, t0: float, t1: float) -> "Frames":
        """Frames whose centre lies in ``[t0, t1)`` (the frames are sorted by time)."""
        a, b = self.t.searchsorted((t0, t1))  # (the method: np.searchsorted's answer without its wrapper)
        return self[a:b]


_COLUMNS = tuple(f.name for f in fields(Frames))
"""The columns of :class:`Frames` in the order of its fields (what ``fields`` would give, read once)."""
