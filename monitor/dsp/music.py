"""Music (hold music played on the caller's leg): not the caller's speech.

A call put on hold without the softphone saying so, or a recorded call replayed without its hold,
fills the caller's leg with music at the caller's own level: a melody's notes read as syllables
at 1.4-2 a second, the gaps between its phrases as pauses. A note holds its partials at fixed
frequencies for 100-1000 ms, then the next note's partials appear at once, away from the last's,
and stay. Speech never holds its harmonics still for 40 ms (its F0 moves), and a held vowel,
whose harmonics do stay nearly still, changes them only by drifting, never by a jump to new
frequencies between two steady stretches. Three vectorised stages, on the same 64 ms spectra of
every :data:`~monitor.dsp.tones.TONE_EVERY`-th frame (by absolute index) as the tone test:

1. :func:`partials` (raw): the local maxima of the 300-3400 Hz band's power within ``peak_db`` of
   the strongest (the partials), and those within ``strong_db`` of it (the strong ones), as
   packed bits;
2. :func:`steady_and_changes` (contextual): the frames from one measured frame to the next are
   steady where at least ``min_overlap`` of their partials (of the union of the two) have a
   partial of the other near (within ``near`` of their frequency, one or two bins: a note bent by
   vibrato moves its partials by up to 2 % in 40 ms; two spectra of which either is full of
   partials, noise, must hold them at the same bins). A measured frame is a change, a new note,
   where the two measured frames before it are steady together and the two after it too, and
   either (a note held still) a strong partial lies within a bin of no partial of the two before
   and of one of each of the two after, those pairs steady at the same bins, or (a note bent by
   vibrato) a strong partial has no strong one of the two before within ``jump`` of its frequency
   and a partial of the two after near, a strong partial of the frame before has none of the two
   after near (the last note ended), the frame has at most ``max_strong`` strong partials, and the
   pitch tracker's F0 (where it has one two measured frames before and after) moved by
   ``voice_jump`` or more (a voice gliding from one pitch to the next is no new note);
3. :func:`music_frames`: a frame of an audible or voice-active sound is music where, from
   ``back_frames`` before it to ``ahead_frames`` after it in that sound, at least ``min_share`` of
   its frames are steady at the same bins and at least ``min_changes`` frames are changes of a
   note held still; or, music that never holds still, where the sound holds ``new_note_frames``
   frames of that reach (a short word's few harmonics can pass for a bent note's), less than
   ``still_share`` of them are steady at the same bins, at least ``bent_share`` steady, and
   ``min_changes`` are changes. Neither holds in a run of ``speech_frames`` or more frames with no
   steady pair (at the same bins for the first): a word spoken over music in the background, its
   harmonics moving while the music around it holds its notes.

Measured (research/music/README.md): no frame of the 32 shared held vowels, of the shared real
speech or of the fixture calls is music; synthetic hold music of notes up to 0.5 s (piano-like,
organ, plucked, pop with drums), at 16 and 8 kHz, clean, through G.711 or under line noise, is
music over most of its frames, strings with vibrato over 58-67 %, a flute with vibrato and breath
noise over 16 %. A singer's wide vibrato, melodies slower than two notes in 1.4 s and the first
notes of a stretch are not found.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .runs import drop_short
from .sound_class import event_means
from .tones import BAND_BINS, BAND_FIRST_BIN, TONE_EVERY

PARTIAL_BYTES = 2 * ((BAND_BINS + 7) // 8)
"""Columns of :func:`partials`' rows: the packed bits of the band's partials, then of the strong ones."""
_POPCOUNT = np.array([bin(i).count("1") for i in range(256)], np.uint8)  # the set bits of each byte
_POPCOUNT.flags.writeable = False
MARKS = 4
"""Columns of :func:`steady_and_changes`' marks: :data:`STEADY`, :data:`CHANGE`, :data:`HELD_CHANGE`, :data:`STILL`."""
STEADY, CHANGE, HELD_CHANGE, STILL = range(MARKS)


@dataclass(frozen=True)
class MusicParams:
    """Settings of the music test; frame counts at the 10 ms hop."""

    enabled: bool = True
    peak_db: float = 30.0       # a local maximum of the band's power this close to the strongest is a partial
    strong_db: float = 12.0     # a partial this close to the strongest is a strong one (a note's own)
    min_overlap: float = 0.5    # two measured frames in a row are steady where this share of their
                                # partials (of the union of both) have a partial of the other near:
    near: float = 0.03          # within this share of their frequency (half a semitone: a note bent by
    near_bins: tuple[int, int] = (1, 2)  # vibrato), but at least and at most this many bins
    max_partials: int = 32      # two of which either has more partials than this: steady only at the same bins (noise)
    jump: float = 0.045         # a new note's strong partial: none of the two frames before this near (3/4 semitone)
    max_strong: int = 10        # ... in a frame with at most this many strong partials
    voice_jump: float = 0.07    # no new note where the F0 is this close from 2 measured frames before to 2 after
    new_note_frames: int = 100  # music bent by vibrato: where the sound holds this many frames of the reach
    still_share: float = 0.25   # below (back_frames before, ahead_frames after), less than this share of them
    bent_share: float = 0.95    # steady at the same bins and at least this share steady (a word over music less)
    back_frames: int = 100      # a sound's frame is music where, from this many frames before it ...
    ahead_frames: int = 70      # ... to this many after it, in the same sound,
    min_share: float = 0.5      # at least this share is steady ...
    min_changes: int = 2        # ... and at least this many frames are changes (new notes)
    speech_frames: int = 24     # but no frame of a run this long with no steady frame (the moving
                                # harmonics of a word over music under it; a melody's notes part after 1-2 pairs)

    @property
    def context_frames(self) -> tuple[int, int]:
        """Frames before and after a frame that its music decision depends on (beyond the audible events')."""
        return (max(self.back_frames, self.speech_frames) + 3 * TONE_EVERY,
                max(self.ahead_frames, self.speech_frames) + 3 * TONE_EVERY)


def partials(power: np.ndarray, params: MusicParams) -> np.ndarray:
    """The partials and strong partials of band power spectra, as packed bits.

    Parameters
    ----------
    power : np.ndarray [shape=(n, b)], float32  the band's power (see
        :func:`~monitor.dsp.tones.band_spectrum`)

    Returns
    -------
    bits : np.ndarray [shape=(n, 2 * ceil(b / 8))], uint8  ``np.packbits`` of the partials' bins
        (local maxima within ``peak_db`` of the row's strongest), then of the strong ones' (within
        ``strong_db``)
    """
    n, b = power.shape
    k = (b + 7) // 8
    out = np.zeros((n, 2 * k), np.uint8)
    if n == 0 or b < 3:
        return out
    top = power.max(axis=1, keepdims=True)
    peak = np.zeros((n, b), bool)
    inner, mid = peak[:, 1:-1], power[:, 1:-1]
    np.greater(mid, power[:, :-2], out=inner)
    inner &= mid >= power[:, 2:]
    inner &= mid > top * np.float32(10 ** (-params.peak_db / 10))
    out[:, :k] = np.packbits(peak, axis=1)
    peak &= power >= top * np.float32(10 ** (-params.strong_db / 10))  # the strong ones
    out[:, k:] = np.packbits(peak, axis=1)
    return out


def _words(packed: np.ndarray) -> np.ndarray:
    """Rows of packed bits (shape (..., k), uint8, ``np.packbits``' order) as 64-bit words, column 0
    the top bit of the first word, the columns past ``8 * k`` clear (shape (..., ceil(k / 8)),
    uint64, contiguous): a row's partials in a few words, spread and counted in a few operations."""
    k = packed.shape[-1]
    padded = np.zeros(packed.shape[:-1] + (-(-k // 8) * 8,), np.uint8)
    padded[..., :k] = packed
    return padded.view(">u8").astype(np.uint64)


def _count(words: np.ndarray) -> np.ndarray:
    """The set bits of each row of :func:`_words` (shape (..., w) -> shape (...,), intp)."""
    if hasattr(np, "bitwise_count"):  # (numpy 2; before it, a table of each byte's)
        return np.add.reduce(np.bitwise_count(words), axis=-1, dtype=np.intp)
    return np.add.reduce(_POPCOUNT.take(words.view(np.uint8)), axis=-1, dtype=np.intp)


@lru_cache(maxsize=4)
def _reach(share: float, bins: tuple[int, int]) -> tuple[np.ndarray, ...]:
    """For each distance d (1, 2, ... bins), the band's columns whose reach (``share`` of their
    frequency, ``bins``: least, most bins each side) holds it, as :func:`_words` (shape (w,))."""
    width = np.clip(np.round(share * (np.arange(BAND_BINS) + BAND_FIRST_BIN)), *bins)
    out = tuple(_words(np.packbits(width >= d)) for d in range(1, int(width.max()) + 1))
    if BAND_BINS + len(out) > 64 * len(out[0]):  # (the unused bits of a row take what _near moves past its end)
        raise ValueError(f"a reach of {len(out)} bins, past the unused bits of a row")
    for a in out:
        a.flags.writeable = False
    return out


def _near(words: np.ndarray, share: float, bins: tuple[int, int]) -> np.ndarray:
    """The columns with a bit of the same row within ``share`` of the column's own frequency
    (``bins``: least, most bins), of rows of :func:`_words` of the band's columns (shape (..., w),
    uint64 -> the same)."""
    flat = words.reshape(-1)  # the rows end to end: a bit moved past a row's end lands in the unused
    near = words.copy()       # bits past the band of the next or last row, where no reach holds
    for d, reach in enumerate(_reach(share, bins), start=1):  # (a few distances, not frames)
        on, back = flat >> d, flat << d
        on[1:] |= flat[:-1] << (64 - d)
        back[:-1] |= flat[1:] >> (64 - d)
        on |= back
        near |= on.reshape(words.shape) & reach
    return near


def _steady(count: np.ndarray, shared: np.ndarray, min_overlap: float) -> np.ndarray:
    """Rows ``j, j + 1`` steady together: ``shared`` (of their partials, ``count``: shape (m,)) at
    least ``min_overlap`` of the union (``shared``: shape (..., m - 1) -> the same, bool)."""
    return (shared > 0) & (shared >= min_overlap * (count[1:] + count[:-1] - shared))


def _pairs(peak: np.ndarray, near: np.ndarray, params: MusicParams) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``j, j + 1`` steady together at the same bins, and steady together (at the same bins,
    or with partials ``near`` and at most ``max_partials`` each); ``peak``, ``near``: each row's
    partials and the bins near them (:func:`_words`, shape (m, w)) -> two shapes (m - 1,), bool."""
    m = len(peak)
    # each row's partials, those at the next row's bins, and those with one of the next row near (both ways)
    sums = _count(np.concatenate([peak, peak[:-1] & peak[1:], peak[:-1] & near[1:], peak[1:] & near[:-1]]))
    count, same, near_a, near_b = sums[:m], sums[m:2 * m - 1], sums[2 * m - 1:3 * m - 2], sums[3 * m - 2:]
    still, steady = _steady(count, np.stack([same, (near_a + near_b) / 2]), params.min_overlap)
    return still, still | (steady & (np.maximum(count[1:], count[:-1]) <= params.max_partials))


def steady_and_changes(bits: np.ndarray, first: int, params: MusicParams, f0_hz: np.ndarray) -> np.ndarray:
    """Steady frames and changes from the partials of every :data:`TONE_EVERY`-th frame.

    Parameters
    ----------
    bits : np.ndarray [shape=(n, 2 * k)], uint8  :func:`partials` of the frames whose absolute
        index is a multiple of :data:`TONE_EVERY` (the other rows are not read; a row of zeros:
        no partial, a frame not measured)
    first : int  absolute index of the first row
    f0_hz : np.ndarray [shape=(n,)]  the pitch tracker's F0 (NaN: none)

    Returns
    -------
    marks : np.ndarray [shape=(n, MARKS)], float32, 0 or 1  in the columns :data:`STEADY` (each
        frame from a measured frame to the next, where the two are steady together), :data:`CHANGE`
        and :data:`HELD_CHANGE` (the measured frame itself: a change, a change of a note held
        still) and :data:`STILL` (as :data:`STEADY`, at the same bins); see the module's docstring.
        A bent note's change is marked only within reach of a frame that the bent path of
        :func:`music_frames` could take (:func:`_may_bend`): it counts nowhere else.
    """
    n = len(bits)
    marks = np.zeros((n, MARKS), np.float32)
    own = (-first) % TONE_EVERY
    rows = bits[own::TONE_EVERY]
    m = len(rows)
    if m < 5:
        return marks
    peak, strong = (_words(half) for half in np.split(rows, 2, axis=1))  # the partials, the strong ones
    near = _near(peak, params.near, params.near_bins)
    still, pair = _pairs(peak, near, params)
    steady = np.count_nonzero(pair)
    if not steady:
        return marks
    held = marks[own:own + TONE_EVERY * (m - 1)].reshape(-1, TONE_EVERY, MARKS)  # the frames from one row to the next
    held[:, :, STEADY] = pair[:, None]
    held[:, :, STILL] = still[:, None]
    at = _flanked(still)
    if len(at):
        marks[own + TONE_EVERY * at, HELD_CHANGE] = marks[own + TONE_EVERY * at, CHANGE] = _still_change(
            peak, strong, at)
    if TONE_EVERY * steady >= _least_steady(params):  # (speech nearly always less)
        at = _flanked(pair)
        at = at[_may_bend(marks[:, STEADY], params)[own + TONE_EVERY * at]]
        marks[own + TONE_EVERY * _bent_change(near, strong, at, f0_hz[own::TONE_EVERY], params), CHANGE] = 1
    return marks


def _flanked(steady: np.ndarray) -> np.ndarray:
    """Rows ``j`` (2 <= j < m - 2) with rows ``j - 2, j - 1`` steady together and ``j + 1, j + 2``
    (``steady``: rows ``j, j + 1`` steady together, shape (m - 1,), bool -> row indices)."""
    return np.flatnonzero(steady[:-3] & steady[3:]) + 2


def _least_steady(params: MusicParams) -> float:
    """The fewest :data:`STEADY` frames a frame's stretch holds where the bent path of
    :func:`music_frames` takes it (``bent_share`` of ``new_note_frames``, less half a frame: counts
    are whole, the share's float32 mean rounded)."""
    return params.bent_share * params.new_note_frames - 0.5


def _may_bend(steady: np.ndarray, params: MusicParams) -> np.ndarray:
    """Frames (shape (n,), bool) within ``back_frames`` before or ``ahead_frames`` after a frame
    whose reach holds at least ``bent_share`` of ``new_note_frames`` :data:`STEADY` frames
    (``steady``: shape (n,), 0 or 1): the least the bent path asks of a frame's stretch, so a bent
    change elsewhere counts for no frame."""
    n = len(steady)
    i = np.arange(n)
    total = np.concatenate([[0], np.cumsum(steady, dtype=np.intp)])
    held = total[np.minimum(i + params.ahead_frames + 1, n)] - total[np.maximum(i - params.back_frames, 0)]
    some = np.concatenate([[0], np.cumsum(held >= _least_steady(params))])
    return some[np.minimum(i + params.back_frames + 1, n)] > some[np.maximum(i - params.ahead_frames, 0)]


def _still_change(peak: np.ndarray, strong: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Rows ``at`` (flanked by pairs steady at the same bins) with a strong partial within a bin of
    no partial of the two rows before and of one of each of the two after: a new note held still.
    ``peak``, ``strong``: the partials and the strong ones (:func:`_words`, shape (m, w)) -> shape
    (len(at),), bool."""
    b2, b1, a1, a2 = _near(peak[[at - 2, at - 1, at + 1, at + 2]], 0.0, (1, 1))
    return (strong[at] & ~b1 & ~b2 & a1 & a2).any(axis=1)


def _bent_change(near: np.ndarray, strong: np.ndarray, at: np.ndarray, f0: np.ndarray,
                 params: MusicParams) -> np.ndarray:
    """The rows of ``at`` where a new note bent by vibrato begins (see the module's docstring);
    ``near``: the bins near each row's partials, ``strong``: the strong partials (both
    :func:`_words`, shape (m, w)), ``f0``: the F0 of each row (shape (m,)). The cheap conditions
    first, the reach of the strong partials before only for the rows they leave."""
    at = at[~(np.abs(np.log(f0[at - 2] / f0[at + 2])) < params.voice_jump)]  # (a NaN F0: no glide)
    at = at[_count(strong[at]) <= params.max_strong]
    at = at[(strong[at - 1] & ~(near[at + 1] | near[at + 2])).any(axis=1)]  # the last note ended
    if not len(at):
        return at
    apart = _near(strong[at - 1] | strong[at - 2], params.jump, (1, BAND_BINS))  # (the reach of either row's)
    return at[(strong[at] & ~apart & near[at + 1] & near[at + 2]).any(axis=1)]


def music_frames(marks: np.ndarray, audible: np.ndarray, params: MusicParams) -> np.ndarray:
    """Frames of music: audible frames where, from ``back_frames`` before to ``ahead_frames``
    after them in their sound, either (notes held still) at least ``min_share`` of the frames are
    steady at the same bins and at least ``min_changes`` are changes of a note held still, or
    (notes bent by vibrato) the sound holds ``new_note_frames`` frames of that reach, less than
    ``still_share`` of them are steady at the same bins, at least ``bent_share`` steady, and
    ``min_changes`` changes; but none of a run of at least ``speech_frames`` frames none of which
    is steady (at the same bins for the first, at all for the second): a caller's word over music
    in the background (the stretch around it steady, the word's harmonics moving).

    Parameters
    ----------
    marks : np.ndarray [shape=(n, MARKS)], float32  :func:`steady_and_changes`
    audible : np.ndarray [shape=(n,)], bool  the frames of audible sounds

    Returns
    -------
    music : np.ndarray [shape=(n,)], bool
    """
    means, length = event_means(audible, marks, params.back_frames, ahead=params.ahead_frames)
    held = (means[:, STILL] >= params.min_share) & _notes(means, length, marks, HELD_CHANGE, STILL, params)
    bent = ((length >= params.new_note_frames) & (means[:, STEADY] >= params.bent_share)
            & (means[:, STILL] < params.still_share) & _notes(means, length, marks, CHANGE, STEADY, params))
    return audible & (held | bent)


def _notes(means: np.ndarray, length: np.ndarray, marks: np.ndarray, change: int, steady: int,
           params: MusicParams) -> np.ndarray:
    """Frames whose stretch (``means`` of the ``marks`` over ``length`` frames) holds ``min_changes``
    in the column ``change`` and that lie in no run of ``speech_frames`` frames none of which is
    steady by the column ``steady`` (a word over music) -> shape (n,), bool."""
    return (means[:, change] * length >= params.min_changes - 0.5) & ~drop_short(marks[:, steady] == 0,
                                                                              params.speech_frames)
