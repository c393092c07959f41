"""Span measures of a whole recording in constant memory.

:class:`SpanAccumulator` takes consecutive batches of :class:`~monitor.analysis.frame_features.Frames` (one
channel, any batch sizes) and keeps only running sums, the speech/silence state at the batch
edge and a fixed F0 histogram, so ``call-monitor analyze`` holds the same few kilobytes for a
ten-minute and a six-hour recording. :meth:`SpanAccumulator.result` equals
:func:`monitor.analysis.span_measures.span_measures` over all the frames at once (whole-span definitions:
no excluded turn gaps, no upper pause limit), the median F0 within ``F0_BIN_HZ``.
"""

from __future__ import annotations

import numpy as np

from ..dsp.runs import runs
from ..dsp.sound_class import BREATH, COUGH
from .frame_features import HOP_S, Frames
from .span_measures import SpanMeasures

F0_BIN_HZ = 0.01
"""Resolution of the F0 histogram the median is read from."""
F0_MAX_HZ = 1000.0


class SpanAccumulator:
    """Feed :class:`Frames` batches with :meth:`add`; read :meth:`result` at the end."""

    def __init__(self, min_pause_s: float = 0.25) -> None:
        self.min_pause = int(round(min_pause_s / HOP_S))
        self.n = 0
        self.speech = 0
        self.nuclei = 0
        self.first: int | None = None       # frame index of the first speech frame
        self.last = -1                       # frame index of the last speech frame so far
        self.nuclei_before_first = 0
        self.open_len = 0                    # silence since the last speech frame (frames)
        self.open_nuclei = 0                 # nuclei in that silence
        self.open_breath = 0                 # breath frames in that silence
        self.pauses = 0
        self.pause_frames = 0
        self.pause_nuclei = 0
        self.pauses_with_breath = 0
        self.breaths = 0
        self.breath_frames = 0
        self.coughs = 0
        self._prev_sound = -1                # the sound class of the last frame added
        self.voiced = 0
        self.hnr_sum = 0.0
        self.cpps_sum = 0.0
        self.power_sum = 0.0
        self.f0_hist = np.zeros(int(F0_MAX_HZ / F0_BIN_HZ) + 1, np.int64)
        self.f0_count = 0

    def add(self, frames: Frames) -> None:
        """Account one batch of consecutive frames (n,) following the previous batch."""
        m = len(frames)
        if m == 0:
            return
        sp = frames.speech.astype(bool)
        nuc = frames.nucleus.astype(np.int64)
        csum = np.concatenate([[0], np.cumsum(nuc)])
        sound = frames.sound
        breath = sound == BREATH
        bsum = np.concatenate([[0], np.cumsum(breath)])
        self._sound_events(sound)
        idx = np.flatnonzero(sp)
        if len(idx) == 0:
            if self.first is None:
                self.nuclei_before_first += int(csum[-1])
            else:
                self.open_len += m
                self.open_nuclei += int(csum[-1])
                self.open_breath += int(bsum[-1])
        else:
            self._speech_batch(idx, csum, bsum, m)
        self.n += m
        self.speech += len(idx)
        self.nuclei += int(csum[-1])
        self._voice(frames, sp)

    def _sound_events(self, sound: np.ndarray) -> None:
        """Breaths and coughs are runs of their class: count the runs that start in this batch."""
        prev = np.concatenate([[self._prev_sound], sound[:-1]])
        self.breaths += int(((sound == BREATH) & (prev != BREATH)).sum())
        self.coughs += int(((sound == COUGH) & (prev != COUGH)).sum())
        self.breath_frames += int((sound == BREATH).sum())
        self._prev_sound = int(sound[-1])

    def _speech_batch(self, idx: np.ndarray, csum: np.ndarray, bsum: np.ndarray, m: int) -> None:
        """Pauses closed by this batch's speech; the silence after its last speech stays open."""
        s, e = runs(~self._speech_mask(idx, m))
        lead = len(s) and s[0] == 0
        if self.first is None:
            self.first = self.n + int(idx[0])
            self.nuclei_before_first += int(csum[idx[0]])
            if lead:
                s, e = s[1:], e[1:]
        elif lead:  # the open silence goes on into this batch and ends at its first speech
            length = self.open_len + int(e[0])
            self._close(length, self.open_nuclei + int(csum[e[0]]), self.open_breath + int(bsum[e[0]]))
            s, e = s[1:], e[1:]
        elif self.open_len:
            self._close(self.open_len, self.open_nuclei, self.open_breath)
        tail = len(e) and e[-1] == m
        if tail:
            self.open_len, self.open_nuclei = int(m - s[-1]), int(csum[m] - csum[s[-1]])
            self.open_breath = int(bsum[m] - bsum[s[-1]])
            s, e = s[:-1], e[:-1]
        else:
            self.open_len = self.open_nuclei = self.open_breath = 0
        lengths = e - s
        keep = lengths >= self.min_pause
        self.pauses += int(keep.sum())
        self.pause_frames += int(lengths[keep].sum())
        self.pause_nuclei += int((csum[e[keep]] - csum[s[keep]]).sum())
        self.pauses_with_breath += int(((bsum[e[keep]] - bsum[s[keep]]) > 0).sum())
        self.last = self.n + int(idx[-1])

    @staticmethod
    def _speech_mask(idx: np.ndarray, m: int) -> np.ndarray:
        mask = np.zeros(m, bool)
        mask[idx] = True
        return mask

    def _close(self, length: int, nuclei: int, breath: int) -> None:
        """A silence inside speech ended: a pause if long enough (else part of a phrase)."""
        if length >= self.min_pause:
            self.pauses += 1
            self.pause_frames += length
            self.pause_nuclei += nuclei
            self.pauses_with_breath += int(breath > 0)

    def _voice(self, frames: Frames, sp: np.ndarray) -> None:
        voiced = frames.voiced.astype(bool)
        self.voiced += int(voiced.sum())
        self.hnr_sum += float(np.sum(frames.hnr_db[voiced], dtype=np.float64))
        self.cpps_sum += float(np.sum(frames.cpps_db[voiced], dtype=np.float64))
        self.power_sum += float(np.sum(np.power(10.0, frames.energy_db[sp].astype(np.float64) / 10.0)))
        f0 = frames.f0_hz[voiced]
        f0 = f0[np.isfinite(f0)]
        if len(f0):
            bins = np.clip(np.rint(f0.astype(np.float64) / F0_BIN_HZ), 0, len(self.f0_hist) - 1)
            self.f0_hist += np.bincount(bins.astype(np.int64), minlength=len(self.f0_hist))
            self.f0_count += len(f0)

    def _f0_median(self) -> float | None:
        if self.f0_count == 0:
            return None
        cum = np.cumsum(self.f0_hist)
        lo = int(np.searchsorted(cum, (self.f0_count - 1) // 2 + 1))
        hi = int(np.searchsorted(cum, self.f0_count // 2 + 1))
        return (lo + hi) / 2 * F0_BIN_HZ

    def result(self, duration_s: float | None = None) -> SpanMeasures:
        """The measures of everything added, as :func:`~monitor.analysis.span_measures.span_measures` gives them."""
        duration = float(duration_s) if duration_s is not None else self.n * HOP_S
        events = (self.breaths, self.breath_frames * HOP_S, self.coughs)
        if self.first is None:
            return SpanMeasures.without_speech(duration, *events)
        speaking = (self.last - self.first + 1) - self.pause_frames
        speaking_s = speaking * HOP_S
        pause_s = self.pause_frames * HOP_S
        phrases = self.pauses + 1
        syl_speaking = self.nuclei - self.nuclei_before_first - self.open_nuclei - self.pause_nuclei
        finite = (lambda v: v if np.isfinite(v) else None)
        return SpanMeasures(
            duration_s=duration, speech_s=self.speech * HOP_S, turn_s=pause_s + speaking_s,
            syllables=self.nuclei,
            speech_rate_sps=self.nuclei / duration if duration > 0 else None,
            articulation_rate_sps=self.nuclei / speaking_s if speaking_s > 0 else None,
            pauses=self.pauses,
            pause_ratio=pause_s / (pause_s + speaking_s) if pause_s + speaking_s > 0 else None,
            mean_pause_s=pause_s / self.pauses if self.pauses else 0.0,
            phrases=phrases, mean_phrase_s=speaking_s / phrases, syllables_per_phrase=syl_speaking / phrases,
            f0_median_hz=self._f0_median(),
            hnr_db=finite(self.hnr_sum / self.voiced) if self.voiced else None,
            cpps_db=finite(self.cpps_sum / self.voiced) if self.voiced else None,
            loudness_dbfs=finite(10.0 * np.log10(self.power_sum / self.speech)) if self.speech else None,
            breaths=events[0], breath_s=events[1], coughs=events[2],
            paused_breath_share=self.pauses_with_breath / self.pauses if self.pauses else None,
        )
