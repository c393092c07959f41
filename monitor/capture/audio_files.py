"""Reading recordings at the edge: validation, blocks, conversion to 8/16 kHz float32.

Every problem with a file becomes an :class:`AudioFileError` whose message
names the file and the problem in one line. A recording cut short (a crash
while it was written) is read as far as it goes and flagged ``truncated``.
"""

from __future__ import annotations

import errno
import os
import stat
import struct
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, BinaryIO, Iterable, Iterator, Mapping, Sequence

import numpy as np

from ..dsp.iir import recurrence_rows
from ..files import bytes_not_utf8, name_text
from ..dsp.resample import Resampler
from .ogg_pages import ogg_finished
from .quiet import DecoderChatter, native_stderr_silenced

if TYPE_CHECKING:  # imported where a file is read: the live daemon reads none (1.2 MB, research/live_memory)
    import soundfile as sf

HIGHPASS_HZ = 10.0
"""Cut-off of the first-order high-pass at the edge: removes a DC offset and sub-audio rumble
(wind, handling), well below the lowest voice fundamental the analyzer measures (at 60 Hz it takes
0.1 dB and turns the phase by 9 degrees; two sections at 20 Hz turned it by 37 degrees, enough to
move F0 and turn-taking measures on real speech)."""
HIGHPASS_SECTIONS = 1

MIN_RATE_HZ = 4000
"""Lowest sample rate read. Below it a header is damaged rather than a recording of speech (a rate
of 1 Hz made every sample a second of audio to resample, and the command ran for days)."""

MAX_RATE_HZ = 768_000
"""Highest sample rate read (the highest any audio interface records at). Above it a header is
damaged: a rate of 2 GHz made replay's first block of audio 75 GiB, and it died of it."""


UNKNOWN_FRAMES = 2 ** 62
"""libsndfile's frame count for a stream whose header gives no length (SF_COUNT_MAX) is at least this."""


EMPTY_NAME = '""'
"""How an empty path is named in a line: as the shell took it."""


class AudioFileError(Exception):
    """A recording that cannot be read; ``str(err)`` is ``"<path>: <problem>"``."""

    def __init__(self, path: str | os.PathLike, problem: str) -> None:
        self.path = os.fspath(path)
        self.problem = problem
        super().__init__(f"{name_text(self.path) or EMPTY_NAME}: {problem}")


@dataclass(frozen=True)
class AudioInfo:
    """What a recording's header says."""

    path: str
    rate: int
    channels: int
    frames: int | None
    """Frames the header promises (a WAV's that declares fewer than follow: those that follow); None
    where it gives no length (a FLAC written as a stream)."""
    format: str
    subtype: str

    @property
    def duration_s(self) -> float | None:
        """Seconds the header promises (as ``frames``); None where it gives no length."""
        if self.frames is None:
            return None
        return self.frames / self.rate if self.rate else 0.0


def audio_breaks_off(path: str | os.PathLike, done: str, held_s: float) -> str:
    """The warning for a recording whose audio breaks off before the length its header promises
    (cut short, or damaged: the decoder cannot go past the damage, nor say which it is): ``done``
    ("analysed", "replayed", "scored", "the report covers") the ``held_s`` seconds before it."""
    return f"{os.fspath(path)}: truncated or damaged, {done} the {held_s:.2f} s before its audio breaks off"


def analysis_rate(rate: int) -> int:
    """The analyzer rate for a source rate: 16 kHz from 16 kHz up, else 8 kHz."""
    return 16000 if rate >= 16000 else 8000


RIFF_WAVE_FORMATS = ("WAV", "WAVEX")
"""libsndfile's names of the RIFF/WAVE files whose data chunk :func:`_wav_data` finds: the plain
format and the extensible one (WAVE_FORMAT_EXTENSIBLE: sox's 24-bit output, more than two
channels), whose fmt chunk opens the same way."""


@dataclass(frozen=True)
class WavData:
    """Where a plain RIFF/WAVE file's samples lie, from its chunk headers."""

    offset: int        # byte offset of the first sample
    declared: int      # bytes the data chunk declares
    available: int     # bytes that really follow, up to the next chunk or the end of the file
    block_align: int   # bytes per frame
    bits: int          # bits per sample the fmt chunk declares

    @property
    def declared_frames(self) -> int:
        return self.declared // self.block_align

    @property
    def available_frames(self) -> int:
        return self.available // self.block_align


def _looks_like_chunk(head: bytes, room: int) -> bool:
    """Whether 8 bytes are a RIFF chunk header (printable id, size that fits in ``room``)."""
    if len(head) < 8:
        return False
    cid, size = head[:4], struct.unpack("<I", head[4:])[0]
    return all(32 <= b < 127 for b in cid) and size <= room


def _wav_data(path: str) -> WavData | None:
    """The data chunk of a plain RIFF/WAVE file (None for other files or streaming sizes)."""
    size_on_disk = os.path.getsize(path)
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        block_align = bits = 0
        while True:
            ch = fh.read(8)
            if len(ch) < 8:
                return None
            cid, size = ch[:4], struct.unpack("<I", ch[4:])[0]
            if cid == b"fmt ":
                fmt = fh.read(size + (size & 1))
                if len(fmt) < 16:
                    return None
                block_align, bits = struct.unpack("<HH", fmt[12:16])
                continue
            if cid == b"data":
                if not block_align or size == 0xFFFFFFFF:
                    return None
                offset = fh.tell()
                rest = size_on_disk - offset
                if size < rest:  # more bytes follow: a further chunk, or samples the header miscounts
                    fh.seek(offset + size + (size & 1))
                    trailing = fh.read(8)
                    # the pad byte RIFF puts after a chunk of odd length (an odd count of 8-bit
                    # samples: a mono A-law or mu-law call's) is no sample
                    if rest - size <= (size & 1) or _looks_like_chunk(trailing, rest - size - 8):
                        rest = size
                return WavData(offset, size, rest, block_align, bits)
            fh.seek(size + (size & 1), os.SEEK_CUR)


FRAME_BY_FRAME_SUBTYPES = frozenset({"PCM_U8", "PCM_S8", "PCM_16", "PCM_24", "PCM_32", "FLOAT", "DOUBLE",
                                     "ULAW", "ALAW"})
"""libsndfile's sample formats a WAV holds frame by frame: its fmt chunk's block_align is one
frame's bytes, so its data chunk's length counts frames and its bytes read as raw samples. Not
ADPCM or GSM 6.10, whose block_align is a block of many frames' code (an IMA ADPCM block of 2048
bytes was taken for one frame of 4-bit samples in 2048-bit containers)."""


def _wav_samples(info: AudioInfo) -> WavData | None:
    """Where a RIFF/WAVE recording's samples lie, frame by frame (None for other recordings and
    for sample formats coded in blocks, which libsndfile alone reads)."""
    if info.format not in RIFF_WAVE_FORMATS or info.subtype not in FRAME_BY_FRAME_SUBTYPES:
        return None
    return _wav_data(info.path)


def _file_kind_problem(p: str) -> str | None:
    """Why ``p`` is not a regular readable file, or None."""
    if not p:  # an unset shell variable, say: no file has no name
        return "an empty path; give a recording"
    try:
        st = os.stat(p)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop"
        if exc.errno == errno.EACCES:
            return "permission denied"
        if os.path.islink(p):
            return "broken symbolic link (its target does not exist)"
        if exc.errno == errno.ENOENT:
            return "no such file"
        return f"cannot read ({exc.strerror or exc})"
    mode = st.st_mode
    if stat.S_ISDIR(mode):
        return "is a directory, not an audio file"
    if stat.S_ISFIFO(mode):
        return "is a named pipe (FIFO), not a recording file"
    if stat.S_ISSOCK(mode):
        return "is a socket, not a recording file"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "is a device, not a recording file"
    if not stat.S_ISREG(mode):
        return "not a regular file"
    if not os.access(p, os.R_OK):
        return "permission denied"
    if st.st_size == 0:
        return "empty file (0 bytes)"
    return _name_problem(p)


def _name_problem(p: str) -> str | None:
    """Why the name ``p`` cannot be kept as text (the call's source in the database, the batch's
    table, JSON), or None: bytes that are not UTF-8 (a Latin-1 name) decode to surrogates."""
    if (bad := bytes_not_utf8(p)) is not None:
        return f"its name is not valid UTF-8 (byte {bad}): rename the file in UTF-8 (convmv -f latin1 -t utf8 --notest FILE)"
    return None


def _rate_problem(rate: int) -> str | None:
    """Why a header's sample ``rate`` is no recording of speech's, or None."""
    if MIN_RATE_HZ <= rate <= MAX_RATE_HZ:
        return None
    bound = f"at least {MIN_RATE_HZ}" if rate < MIN_RATE_HZ else f"at most {MAX_RATE_HZ}"
    return f"sample rate {rate} Hz in its header: a damaged header, not a recording of speech ({bound} Hz expected)"


def _fmt_problem(path: str) -> str | None:
    """What a RIFF/WAVE file's fmt chunk says wrong that libsndfile refuses it for (no channels, a
    sample rate of 0) in words, or None: libsndfile says "SF_INFO struct incomplete"."""
    with open(path, "rb") as fh:
        if fh.read(12)[8:12] != b"WAVE":
            return None
        while len(ch := fh.read(8)) == 8:
            size = struct.unpack("<I", ch[4:])[0]
            if ch[:4] == b"fmt ":
                fmt = fh.read(8)
                if len(fmt) < 8:
                    return None
                channels, rate = struct.unpack("<HI", fmt[2:8])
                return "0 channels in its header: a damaged header" if channels == 0 else _rate_problem(rate)
            fh.seek(size + (size & 1), os.SEEK_CUR)
    return None


def _header_read(path: str) -> tuple[AudioInfo, bool]:
    """The header of the recording ``path`` as libsndfile reads it, and whether its first sample decodes."""
    import soundfile as sf
    with sf.SoundFile(path) as fh:
        frames = None if fh.frames >= UNKNOWN_FRAMES else int(fh.frames)
        info = AudioInfo(path, int(fh.samplerate), int(fh.channels), frames, fh.format, fh.subtype)
        return info, _first_sample_decodes(fh)


def probe(path: str | os.PathLike) -> AudioInfo:
    """Check that ``path`` is a readable, non-empty recording and return its header.

    Raises
    ------
    AudioFileError
        missing, a directory, unreadable, empty, not audio, or no samples.
    """
    import soundfile as sf
    p = os.fspath(path)
    problem = _file_kind_problem(p)
    if problem:
        raise AudioFileError(p, problem)
    try:  # libsndfile's decoders print their own complaints
        info, decodes = native_stderr_silenced(lambda: _header_read(p))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as err:
        raise AudioFileError(p, _fmt_problem(p) or _describe_sf_error(str(err))) from None
    wav = _wav_samples(info)
    if wav is not None and wav.available_frames > wav.declared_frames:  # a crash: samples the header miscounts,
        info, decodes = replace(info, frames=wav.available_frames), True  # read raw (libsndfile's count may be 0)
    if (info.frames is not None and info.frames <= 0) or info.rate <= 0 or info.channels <= 0:
        raise AudioFileError(p, "contains no audio samples")
    if problem := _rate_problem(info.rate):
        raise AudioFileError(p, problem)
    if not decodes:
        promised = "" if info.duration_s is None else f" (its header promises {info.duration_s:.2f} s)"
        raise AudioFileError(p, f"truncated or damaged: not one sample of audio decodes{promised}")
    return info


def _first_sample_decodes(fh: sf.SoundFile) -> bool:
    """Whether the open recording's first sample decodes: a file cut short inside its first block
    of encoded audio (or right after its header) holds none, whatever its header says."""
    import soundfile as sf
    try:
        return len(fh.read(1, dtype="float32")) > 0
    except (sf.LibsndfileError, RuntimeError):
        return False


def _describe_sf_error(text: str) -> str:
    """libsndfile's message as the problem of a file already known to be a regular file."""
    low = text.lower()
    if ("format not recognised" in low or "unknown format" in low or "not a regular file" in low
            or "possibly a pipe" in low or "unsupported" in low):
        return "not an audio file (format not recognised; WAV, FLAC, OGG or MP3 expected)"
    detail = text.split(":")[-1].strip() or text
    return f"unreadable audio ({detail})"


class _ByteRange:
    """Bytes ``start`` to ``end`` of an open file as a file of their own (read, seek, tell), for
    libsndfile to decode a WAV's data chunk as raw samples: it counts its positions and the file's
    length from the first sample (handed the whole file seeked to the chunk, it sought back by the
    header's length after its first read, read header bytes as samples and, past an odd number of
    samples, swapped a stereo call's legs)."""

    def __init__(self, fh: BinaryIO, start: int, end: int) -> None:
        self.fh, self.start, self.end = fh, start, end
        fh.seek(start)

    def seek(self, pos: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: self.start, os.SEEK_CUR: self.fh.tell(), os.SEEK_END: self.end}[whence]
        self.fh.seek(max(self.start, base + pos))
        return self.tell()

    def tell(self) -> int:
        return self.fh.tell() - self.start

    def read(self, size: int = -1) -> bytes:
        room = max(0, self.end - self.fh.tell())
        return self.fh.read(room if size < 0 else min(size, room))


class _StreamBroke(Exception):
    """The decoder failed inside a block; ``block`` holds the frames it decoded before."""

    def __init__(self, block: np.ndarray) -> None:
        super().__init__("the stream broke off")
        self.block = block


DECODE_FRAMES = 4096
"""Frames asked of the decoder at a time, whatever the block a command reads in: past a damaged page,
libsndfile's Vorbis decoder gives other audio for other lengths asked (10 s blocks read on through
the damage unsaid, 0.5 s blocks lost 2 s there and broke off), so that replay, batch, analyze and
report read one recording alike."""


def reblocked(pieces: Iterable[np.ndarray], frames: int) -> Iterator[np.ndarray]:
    """The ``pieces``, shape (n, channels), joined and cut into blocks of ``frames`` (the last shorter)."""
    held: list[np.ndarray] = []
    count = 0
    for piece in pieces:
        held.append(piece)
        count += len(piece)
        if count < frames:
            continue
        joined = np.concatenate(held)
        whole = count - count % frames
        yield from np.split(joined[:whole], whole // frames)
        held, count = [joined[whole:]], count - whole
    if count:
        yield np.concatenate(held)


@dataclass
class BlockReader:
    """Iterates a recording in blocks of float32 samples, shape (n, channels).

    After iteration, ``truncated`` tells whether the file ended before its
    header said it would (or its encoded stream broke off, or an Ogg file,
    whose header says no length, ends without its stream's last page), and
    ``frames_read`` how many frames were delivered.
    """

    info: AudioInfo
    block_frames: int
    truncated: bool = False
    frames_read: int = 0
    notes: list[str] = field(default_factory=list)
    """One-line remarks on the file's header (miscounted data chunk, odd sample widths)."""

    def _open(self, wav: WavData | None) -> tuple[sf.SoundFile, BinaryIO | None]:
        """The decoder: libsndfile's own, or raw samples from the data chunk when its header
        declares fewer bytes than really follow."""
        import soundfile as sf
        if wav is not None and wav.available_frames > wav.declared_frames:
            fh = open(self.info.path, "rb")  # noqa: SIM115 - closed with the SoundFile
            samples = _ByteRange(fh, wav.offset, wav.offset + wav.available)
            return sf.SoundFile(samples, format="RAW", subtype=self.info.subtype, samplerate=self.info.rate,
                                channels=self.info.channels, endian="LITTLE"), fh
        return native_stderr_silenced(lambda: sf.SoundFile(self.info.path)), None

    def _read(self, fh: sf.SoundFile, want: int, chatter: DecoderChatter) -> np.ndarray:
        """Up to ``want`` frames, shape (n, channels), the decoder's own lines kept off stderr
        (``chatter``). Raises _StreamBroke, holding the frames
        decoded before the stream broke off (a compressed file cut short inside a block, or a
        stream with no length in its header, whose decoder fails at its end), so that whatever the
        block length a command reads with, the recording holds as much audio."""
        import soundfile as sf
        out = np.full((want, self.info.channels), np.nan, np.float32)  # decoded samples overwrite the NaNs
        try:
            return out[: chatter.call(lambda: fh.buffer_read_into(out, dtype="float32"))]
        except (sf.LibsndfileError, RuntimeError):
            written = np.flatnonzero(~np.isnan(out).all(axis=1))
            raise _StreamBroke(out[: written[-1] + 1 if len(written) else 0]) from None

    def _decoded(self, fh: sf.SoundFile, limit: int | None, chatter: DecoderChatter) -> Iterator[np.ndarray]:
        """The decoder's audio in pieces of ``DECODE_FRAMES`` (the last shorter), shape (n, channels),
        up to ``limit`` frames when given; counts them, and tells whether the stream broke off."""
        while True:
            want = DECODE_FRAMES if limit is None else min(DECODE_FRAMES, limit - self.frames_read)
            if want <= 0:
                return
            try:
                piece = self._read(fh, want, chatter)
            except _StreamBroke as broke:
                # with no length in the header the stream's end and a cut look alike: not said
                self.truncated = self.info.frames is not None
                self.frames_read += len(broke.block)
                if len(broke.block):
                    yield broke.block
                return
            if len(piece) == 0:  # the decoder's end: an Ogg file's length is its last page's
                self.truncated = self.info.format == "OGG" and not ogg_finished(self.info.path)
                return
            self.frames_read += len(piece)
            yield piece

    def __iter__(self) -> Iterator[np.ndarray]:
        import soundfile as sf
        wav = _wav_samples(self.info)
        if wav is not None and wav.available_frames > wav.declared_frames:
            self.notes.append(f"the header declares {wav.declared_frames / self.info.rate:.2f} s of audio "
                              f"but {wav.available_frames / self.info.rate:.2f} s follow; read what is there")
        if wav is not None and wav.bits % 8:
            self.notes.append(f"{wav.bits}-bit samples in {8 * wav.block_align // max(1, self.info.channels)}"
                              f"-bit containers, read at the container's full scale")
        try:
            fh, raw = self._open(wav)
        except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as err:
            raise AudioFileError(self.info.path, _describe_sf_error(str(err))) from None
        # raw samples are read up to what really follows (libsndfile sizes a raw stream by the file)
        limit = wav.available_frames if raw is not None and wav is not None else None
        chatter = DecoderChatter()  # libmpg123 prints its complaints straight to descriptor 2
        try:
            with fh:
                yield from reblocked(self._decoded(fh, limit, chatter), self.block_frames)
        finally:
            chatter.close()
            if raw is not None:
                raw.close()
        if wav is not None and wav.available_frames > wav.declared_frames:
            return
        expected = wav.declared_frames if wav is not None else self.info.frames
        if expected is not None and self.frames_read < expected:
            self.truncated = True


def highpass_coefficients(rate: int, cutoff_hz: float = HIGHPASS_HZ) -> tuple[float, float]:
    """First-order high-pass by the bilinear transform: ``y[n] = a*y[n-1] + b*(x[n] - x[n-1])``;
    returns ``(a, b)``."""
    k = float(np.tan(np.pi * cutoff_hz / rate))
    return (1.0 - k) / (1.0 + k), 1.0 / (1.0 + k)


class Highpass:
    """Streaming high-pass of ``HIGHPASS_SECTIONS`` first-order sections, shape (n, channels).

    The state starts as if the first sample had always been there (a steady offset gives 0 from
    the first sample on) and is carried from block to block."""

    def __init__(self, rate: int, channels: int, cutoff_hz: float = HIGHPASS_HZ) -> None:
        self.a, self.b = highpass_coefficients(rate, cutoff_hz)
        self._x: np.ndarray | None = None  # each section's previous input, shape (sections, channels)
        self._y = np.zeros((HIGHPASS_SECTIONS, channels))

    def process(self, x: np.ndarray) -> np.ndarray:
        """Float samples (n, channels) -> the filtered samples, float64 (a transposed view of
        channel rows: each channel's samples are contiguous)."""
        if len(x) == 0:
            return np.asarray(x, np.float64)
        rows = np.ascontiguousarray(x.T, dtype=np.float64)  # (channels, n): one pass, exact cast
        if self._x is None:
            self._x = np.zeros_like(self._y)
            self._x[0] = rows[:, 0]  # later sections see 0 in the steady state
        for i in range(HIGHPASS_SECTIONS):  # a loop over the sections, not over samples
            u = np.empty_like(rows)
            np.subtract(rows[:, 0], self._x[i], out=u[:, 0])
            np.subtract(rows[:, 1:], rows[:, :-1], out=u[:, 1:])
            u *= self.b
            y = recurrence_rows(u, self.a, self._y[i])
            self._x[i], self._y[i] = rows[:, -1], y[:, -1]
            rows = y
        return rows.T


def fill_nonfinite(x: np.ndarray, last: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Replace NaN, +-Inf and values beyond ``INVALID_LEVEL`` by the previous valid sample of
    the same channel.

    Parameters
    ----------
    x : np.ndarray [shape=(n, channels)]
    last : np.ndarray [shape=(channels,)]
        The last finite sample before ``x`` (0 at the start of a stream).

    Returns
    -------
    y : np.ndarray [shape=(n, channels)]  finite samples
    last : np.ndarray [shape=(channels,)]  the last finite sample of ``y``
    count : int  samples replaced
    """
    with np.errstate(invalid="ignore"):
        bad = ~(np.abs(x) <= INVALID_LEVEL)  # NaN compares False: caught too
    count = int(bad.sum())
    if count == 0:
        return x, (x[-1].astype(np.float64) if len(x) else last), 0
    ext = np.concatenate([last[None, :].astype(x.dtype), np.where(bad, 0, x)])
    good = np.concatenate([np.ones((1, x.shape[1]), bool), ~bad])
    idx = np.where(good, np.arange(len(ext))[:, None], 0)
    np.maximum.accumulate(idx, axis=0, out=idx)
    y = np.take_along_axis(ext, idx, axis=0)[1:]
    return y, y[-1].astype(np.float64), count


INVALID_LEVEL = 8.0
"""Samples beyond this magnitude (18 dB over full scale) are not sound but corruption: they are
treated like NaN (replaced), whereas samples between 1 and this level are clipped."""


def clip_full_scale(x: np.ndarray) -> tuple[np.ndarray, int]:
    """Samples (n, channels) limited to [-1, 1]; returns them and how many lay beyond."""
    over = np.abs(x) > 1.0
    count = int(over.sum())
    return (np.clip(x, -1.0, 1.0) if count else x), count


class EdgeConditioner:
    """What every recording passes first, block by block: the file's samples (n, channels),
    float32, in; (n, channels) float32 out, or (n, 1) with ``mix``.

    non-finite samples (NaN, Inf) are replaced by the previous finite one of their channel,
    samples beyond full scale are clipped to [-1, 1], ``mix`` then averages the channels into
    one, and a high-pass (``HIGHPASS_HZ``) removes a DC offset and sub-audio rumble. The filter's
    state is carried from block to block, so any split of a stream gives the samples of the
    whole. ``nonfinite`` and ``clipped`` count what was fixed, in samples of the file: the
    same for a recording whether its channels are mixed or read apart.
    """

    def __init__(self, rate: int, channels: int, mix: bool = False) -> None:
        self.mix = mix and channels > 1
        self.width = 1 if self.mix else channels
        """Channels out."""
        self.highpass = Highpass(rate, self.width)
        self._last = np.zeros(channels)
        self.nonfinite = 0
        self.clipped = 0

    def process(self, x: np.ndarray) -> np.ndarray:
        """The next block of the file's samples, shape (n, channels), conditioned: shape (n, width), float32."""
        if len(x) == 0:
            return np.zeros((0, self.width), np.float32)
        return self.highpass.process(self._mixed(self._repaired(x))).astype(np.float32)

    def _repaired(self, x: np.ndarray) -> np.ndarray:
        """The samples (n, channels) finite and within full scale, counted in ``nonfinite`` and ``clipped``."""
        with np.errstate(invalid="ignore"):
            clean = bool(x.max() <= 1.0) and bool(x.min() >= -1.0)  # NaN compares False: the careful path
        if clean:  # the usual block: nothing to replace or clip
            self._last = x[-1].astype(np.float64)
            return x
        y, self._last, bad = fill_nonfinite(x, self._last)
        y, over = clip_full_scale(y)
        if bad and over:  # a replaced sample copies a neighbour: count only the file's own samples
            with np.errstate(invalid="ignore"):
                over = int(((np.abs(x) > 1.0) & (np.abs(x) <= INVALID_LEVEL)).sum())
        self.nonfinite += bad
        self.clipped += over
        return y

    def _mixed(self, y: np.ndarray) -> np.ndarray:
        """With ``mix``, the channels (n, channels) averaged into (n, 1); else ``y``."""
        return y.mean(axis=1, keepdims=True) if self.mix else y

    def problem(self) -> str | None:
        """One phrase on what was fixed, or None."""
        parts = []
        if self.nonfinite:
            parts.append(f"{self.nonfinite} invalid sample(s) (NaN, Inf or beyond {INVALID_LEVEL:g}x "
                         "full scale) replaced")
        if self.clipped:
            parts.append(f"{self.clipped} sample(s) beyond full scale clipped to [-1, 1]")
        return ", ".join(parts) or None


FLAT_TOP_RUN_S = 0.00025
"""A run of equal samples this long (at least ``FLAT_TOP_MIN_SAMPLES``) at a channel's own
highest or lowest value is a flat top: the waveform was clipped there, at full scale or inside
it (an AGC or a gain stage that clipped before the file was written). 0.25 ms is 3 samples at
8 kHz, 4 at 16 kHz, 12 at 48 kHz: the crest of a slow wave at a high rate rounds to a few equal
samples, and a clipped one stays flat for longer at a higher rate. Measured on the shared real
speech and breathing recordings, the fixture calls and the margin calls (1,227 files, 8 to
44.1 kHz): at most one such run in a file (a cough that reached full scale; coarsely quantized
8 kHz digits), where a fixture voice clipped at 0.7 of full scale after a 2x gain has 872 in
3 minutes and one clipped at full scale after a 1.5x gain 80 (a gain of 1.2 gives 2: mild
clipping of short crests goes unsaid)."""
FLAT_TOP_MIN_SAMPLES = 3

FLAT_TOP_MIN_PEAK = 0.1
"""A channel whose peak stays below this (-20 dB of full scale) has no flat tops: a muted leg's
digital silence with a dither of a bit or two holds its peak, a few steps of the sample format,
for runs of samples, where no gain stage clipped (a clipped voice sits at 0.5 to 1.0)."""

FLAT_TOP_MIN_RUNS = 3
"""Flat tops a channel needs before it is said to be clipped: one or two are a cough or a knock
that reached the ceiling, not a voice clipped throughout."""

VOICE_BAND_RATE_HZ = 8000
"""Below this sample rate (telephone speech's 8 kHz) the band above half the rate is gone:
the voice cues (HNR, CPPS, syllables, breaths) are measured on less than the telephone band,
which is said in one warning line."""


def unread_channels(channels: int, read: Mapping[str, int] | None, choose: str) -> str | None:
    """What a command leaves out of a recording of more than two channels, in one phrase for its
    warning line: the channel count, the channels each leg is read from (``read``; None: all
    mixed into one), and ``choose``, how to pick others. None for mono and stereo recordings,
    read as the commands document (a stereo file's legs, or its two channels mixed)."""
    if channels <= 2:
        return None
    if read is None:
        return f"{channels} channels, all mixed into one ({choose})"
    return f"{channels} channels: {legs_read(read)}, the other {channels - len(read)} not read ({choose})"


SILENT_PEAK = 10 ** (-50 / 20)
"""A channel whose peak stays below this (-50 dBFS) holds no sound (digital silence, a dither, a
muted leg's hiss): mixed with channels of speech it only lowers their level in the mix."""


def _channels_named(cs: Sequence[int]) -> str:
    """"channel 1", "channels 0, 2", and three or more in a row as a range, "channels 0-39, 41-79",
    so that a multi-track recording's line names its channels in a few words, not hundreds."""
    if len(cs) == 1:
        return f"channel {cs[0]}"
    ordered = np.unique(np.asarray(cs, int))
    cuts = np.flatnonzero(np.diff(ordered) != 1) + 1
    runs = [(int(run[0]), int(run[-1])) for run in np.split(ordered, cuts)]
    named = [f"{a}-{b}" if b - a >= 2 else ", ".join(map(str, range(a, b + 1))) for a, b in runs]
    return f"channels {', '.join(named)}"


def silent_in_mix(channels: int, silent: Sequence[int], choose: str) -> str | None:
    """For a mix of a recording's ``channels`` channels, some (not all) of which are ``silent``: one
    phrase for its warning line, naming them, what the mix holds of the others and how low its
    loudness reads (a mix averages its channels), and ``choose``, how to analyse a channel alone.
    None when no channel, or every one, is silent."""
    if not silent or len(silent) >= channels:
        return None
    loud = [c for c in range(channels) if c not in silent]
    share = "half" if 2 * len(loud) == channels else f"{len(loud)}/{channels} of"
    return (f"{_channels_named(silent)} {'is' if len(silent) == 1 else 'are'} silent (peak below "
            f"{20 * np.log10(SILENT_PEAK):.0f} dBFS): the mix holds {_channels_named(loud)} at {share} "
            f"{'its' if len(loud) == 1 else 'their'} level, its loudness {20 * np.log10(channels / len(loud)):.1f} dB "
            f"below {_channels_named(loud)} alone ({choose})")


def no_sound(channels: int, silent: Sequence[int], channel: int | None) -> str | None:
    """What a command reads of a recording of ``channels`` channels, ``silent`` of them without sound,
    holds no sound at all: one phrase for its warning line, naming ``channel`` (the one read; None:
    all of them mixed). None when what is read holds sound."""
    peak = f"peak below {20 * np.log10(SILENT_PEAK):.0f} dBFS"
    if channel is not None:
        return f"channel {channel} holds no sound ({peak}): nothing to measure" if channel in silent else None
    if len(silent) < channels:
        return None
    return f"no sound ({peak}{' on every channel' if channels > 1 else ''}): nothing to measure"


def legs_read(read: Mapping[str, int]) -> str:
    """The channel each leg is read from, as a phrase: "the caller from channel 3 and the agent from channel 2"."""
    return " and ".join(f"the {leg} from channel {c}" for leg, c in read.items())


def flat_top_samples(rate: int) -> int:
    """The shortest run of equal samples counted as a flat top at ``rate`` Hz."""
    return max(FLAT_TOP_MIN_SAMPLES, int(np.ceil(FLAT_TOP_RUN_S * rate - 1e-9)))


class FlatTops:
    """Counts, channel by channel, the flat tops of a recording's raw samples (n, channels),
    block by block: runs of at least ``min_run`` equal samples at the channel's own highest
    (or lowest) value so far, once that is at least ``FLAT_TOP_MIN_PEAK``. A higher peak later
    starts the count again (the earlier runs were below the file's peak); a run across a block
    boundary is one run, so any split of a stream counts as the whole."""

    def __init__(self, channels: int, min_run: int) -> None:
        self.min_run = min_run
        self.peak = np.zeros((channels, 2))       # highest and -lowest value so far (0: none yet)
        self.runs = np.zeros((channels, 2), int)  # flat tops at each, closed runs
        self.open = np.zeros((channels, 2), int)  # the run at the peak the last block ended in

    def add(self, x: np.ndarray) -> None:
        """One block of raw samples (n, channels), float."""
        if len(x) == 0:
            return
        with np.errstate(invalid="ignore"):
            valid = np.abs(x) <= INVALID_LEVEL  # NaN, Inf and corruption are not the waveform's peak
        x = x if valid.all() else np.where(valid, x, 0.0)
        for c in range(x.shape[1]):  # a loop over the channels and sides, not over samples
            for side, sign in enumerate((1.0, -1.0)):
                self._add_side(c, side, x[:, c], sign)

    def _add_side(self, c: int, side: int, v: np.ndarray, sign: float) -> None:
        """One channel's block at one side: only the samples at that side's peak so far matter."""
        top = float(v.max()) if sign > 0 else -float(v.min())
        if top > self.peak[c, side]:  # a higher peak: what was counted lay below the file's peak
            self.peak[c, side], self.runs[c, side], self.open[c, side] = top, 0, 0
        if self.peak[c, side] < FLAT_TOP_MIN_PEAK:  # nothing is counted (a silent or dithered leg)
            return
        if top < self.peak[c, side]:  # no sample at the peak: an open run ended before the block
            self._close(c, side)
            return
        at = np.flatnonzero(v == sign * self.peak[c, side])  # at least the block's own top
        if at[0] != 0:
            self._close(c, side)
        breaks = np.flatnonzero(np.diff(at) != 1)
        lengths = np.append(at[breaks], at[-1]) + 1 - np.insert(at[breaks + 1], 0, at[0])
        lengths[0] += self.open[c, side]  # 0 unless the block goes on with the open run
        self.open[c, side] = lengths[-1] if at[-1] == len(v) - 1 else 0
        closed = lengths[:-1] if self.open[c, side] else lengths
        self.runs[c, side] += int(np.count_nonzero(closed >= self.min_run))

    def _close(self, c: int, side: int) -> None:
        """The open run at a side's peak ended: counted if long enough."""
        if self.open[c, side] >= self.min_run:  # (only called at a peak of FLAT_TOP_MIN_PEAK or more)
            self.runs[c, side] += 1
        self.open[c, side] = 0

    def counts(self) -> np.ndarray:
        """Flat tops per channel at its highest and at its lowest value, the open run included,
        shape (channels, 2)."""
        return self.runs + ((self.open >= self.min_run) & (self.peak >= FLAT_TOP_MIN_PEAK))

    def problem(self, read: Sequence[int] | None = None) -> str | None:
        """One phrase naming the clipped channels among those ``read`` (None: all of them, mixed),
        their level and flat tops, or None: a channel not read is not what the voice cues suffer from."""
        counts = self.counts()
        clipped = [c for c in (range(len(counts)) if read is None else sorted(set(read)))
                   if counts[c].sum() >= FLAT_TOP_MIN_RUNS]
        if not clipped:
            return None
        parts = []
        for c in clipped:
            level = max(self.peak[c, side] for side in (0, 1) if counts[c, side])
            where = f"channel {c} " if len(counts) > 1 else ""
            parts.append(f"{where}flat-topped at {level:.2f} of full scale: {counts[c].sum()} runs of "
                         f"{self.min_run} or more equal samples at its peak")
        return ", ".join(parts) + " (clipped before or as it was written)"


class AnalysisStream:
    """A recording as blocks at the analyzer rate: float32, shape (n, len(channels)).

    ``channels`` picks source channels (0-based); ``None`` mixes all down to
    one. ``rate``: the rate to convert to (None: the analyzer rate of the file's own,
    :func:`analysis_rate`; a call's leg in a file of its own is converted to its other leg's).
    Iterate once; afterwards ``truncated`` and ``duration_s`` (of what was read) are known.
    """

    def __init__(self, path: str | os.PathLike, channels: list[int] | None = None,
                 block_s: float = 1.0, info: AudioInfo | None = None, rate: int | None = None) -> None:
        self.info = probe(path) if info is None else info  # ``info``: its header, read by probe(path) already
        for c in channels or []:
            if not 0 <= c < self.info.channels:
                raise AudioFileError(self.info.path, f"has {self.info.channels} channel(s), channel {c} asked")
        self.channels = channels
        self.rate = analysis_rate(self.info.rate) if rate is None else rate
        self._reader = BlockReader(self.info, max(1, int(block_s * self.info.rate)))
        self.flat_tops = FlatTops(self.info.channels, flat_top_samples(self.info.rate))
        read = self.info.channels if channels is None else len(channels)
        self.edge = EdgeConditioner(self.info.rate, read, mix=channels is None)  # its high-pass may be swapped before reading
        self._resampler = Resampler(self.info.rate, self.rate, self.edge.width)

    @property
    def truncated(self) -> bool:
        return self._reader.truncated

    def problems(self) -> str | None:
        """After iteration: one phrase on what was wrong with the samples or the header, or None."""
        parts = [*self._reader.notes, self.edge.problem()]
        voice = [self._band_problem(), self.flat_tops.problem(self.channels)]  # what the voice cues suffer from
        if any(voice):
            parts += [*voice, "voice cues suffer"]
        return "; ".join(p for p in parts if p) or None

    def _band_problem(self) -> str | None:
        """The voice band a rate below telephone speech's cuts, or None."""
        if self.info.rate >= VOICE_BAND_RATE_HZ:
            return None
        return (f"sample rate {self.info.rate} Hz: the voice band above {self.info.rate // 2} Hz is cut "
                f"(telephone speech reaches 3400 Hz, {VOICE_BAND_RATE_HZ} Hz expected)")

    @property
    def duration_s(self) -> float:
        return self._reader.frames_read / self.info.rate

    def silent_channels(self) -> list[int]:
        """After iteration: the recording's channels whose peak stays below ``SILENT_PEAK``, in order."""
        return [int(c) for c in np.flatnonzero(self.flat_tops.peak.max(axis=1) < SILENT_PEAK)]

    def _select(self, block: np.ndarray) -> np.ndarray:
        """The channels read (all of them to mix: the edge mixes them once it has fixed their samples)."""
        return block if self.channels is None else block[:, self.channels]

    def __iter__(self) -> Iterator[np.ndarray]:
        for block in self._reader:
            self.flat_tops.add(block)
            out = self._resampler.process(self.edge.process(self._select(block)))
            if len(out):
                yield out
        tail = self._resampler.process(np.zeros((0, self._resampler.channels), np.float32), final=True)
        if len(tail):
            yield tail
