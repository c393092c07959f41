"""A live call's audio file as :class:`~monitor.delivery.call_audio.CallAudio` writes it: the same
16-bit WAV libsndfile writes of the same samples, read alike by libsndfile (soundfile) and Python's
``wave``, its header saying after every write the audio the file holds, and a file that cannot take
a write whole (the system takes it in part, the WAV's 4 GiB is reached) keeping the frames it took.

Real files in the test's folder; the system's own limit on the size of the files a process writes
(``RLIMIT_FSIZE``) stands for a disk that fills; the 4 GiB are lowered to a few kilobytes.
"""

from __future__ import annotations

import resource
import wave
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from monitor.delivery.call_audio import HEADER_BYTES, CallAudio, CallAudioError


def samples(dtype: str, frames: int, channels: int) -> np.ndarray:
    """(frames, channels) of ``dtype``: noise past full scale, quiet noise down to the last bits of
    a 16-bit sample, exact full scale, NaN and infinities (floats); any value (int16)."""
    rng = np.random.default_rng(7)
    if dtype == "int16":
        return rng.integers(-32768, 32768, (frames, channels)).astype(np.int16)
    x = np.concatenate([rng.uniform(-1.2, 1.2, frames * channels // 2), rng.normal(0, 1e-4, frames * channels
                                                                                  - frames * channels // 2)])
    x[:8] = [1.0, -1.0, 0.0, np.nan, np.inf, -np.inf, 0.5, -0.5]
    return x.astype(dtype).reshape(frames, channels)


def wave_frames(path: Path) -> tuple[int, np.ndarray]:
    """What Python's ``wave`` reads of the file: the frames its header says, and the samples."""
    with wave.open(str(path)) as w:
        return w.getnframes(), np.frombuffer(w.readframes(w.getnframes()), "<i2").reshape(-1, w.getnchannels())


@pytest.mark.parametrize(("dtype", "rate", "channels"), [("float32", 16000, 2), ("float64", 8000, 1),
                                                         ("float32", 8000, 3), ("int16", 16000, 2)])
def test_a_calls_audio_is_the_file_libsndfile_writes_of_the_same_samples_its_header_up_to_date_at_every_write(
        tmp_path, dtype, rate, channels):
    x = samples(dtype, 12000, channels)
    audio, said = CallAudio.create(tmp_path, 1, 0.0, rate, channels), []
    for chunk in np.split(x, [1, 1601, 1602, 5000]):  # a frame, the live capture's 0.1 s, a frame, the rest
        audio.write(chunk if channels > 1 else chunk[:, 0])
        said.append((wave_frames(audio.path)[0], audio.frames))
    audio.close()
    assert said == [(n, n) for n in (1, 1601, 1602, 5000, 12000)]
    sf.write(tmp_path / "libsndfile.wav", x, rate, subtype="PCM_16", format="WAV")
    assert audio.path.read_bytes() == (tmp_path / "libsndfile.wav").read_bytes()
    ours, theirs = sf.read(audio.path, dtype="int16", always_2d=True), sf.read(tmp_path / "libsndfile.wav",
                                                                            dtype="int16", always_2d=True)
    assert ours[1] == theirs[1] == rate and np.array_equal(ours[0], theirs[0])
    assert np.array_equal(wave_frames(audio.path)[1], theirs[0])
    assert audio.seconds == 12000 / rate


def test_a_call_that_reaches_the_wav_formats_limit_keeps_its_audio_up_to_there_and_says_so_in_one_line(tmp_path):
    """A WAV holds 4 GiB (18.6 h of a call's two legs at 16 kHz): the write that would pass them
    writes what fits, and its error says the file is full; the file and its header hold the
    frames up to there, which read as written."""
    x = samples("float32", 1600, 2)
    audio = CallAudio.create(tmp_path, 1, 0.0, 8000, 2, max_data_bytes=4002)  # 1000 frames of 4 bytes, and 2
    audio.write(x[:800])
    with pytest.raises(CallAudioError) as err:
        audio.write(x[800:])
    audio.close()
    assert str(err.value).startswith(f"{tmp_path / 'call-1.wav'}: the file is full: a WAV file holds ")
    assert err.value.reason.endswith(" of audio at most (0.0 h of 2 channel(s) at 8000 Hz)")
    assert "\n" not in str(err.value) and audio.frames == 1000 and audio.seconds == 0.125
    assert audio.path.stat().st_size == HEADER_BYTES + 4000
    sf.write(tmp_path / "libsndfile.wav", x[:1000], 8000, subtype="PCM_16", format="WAV")
    assert audio.path.read_bytes() == (tmp_path / "libsndfile.wav").read_bytes()


def test_a_write_the_system_takes_in_part_leaves_whole_frames_and_a_header_that_says_them(tmp_path):
    """The system stops a write part-way (here its limit on the size of the files the process
    writes, which a full disk does alike), in the middle of a frame: the error names the file and
    the system's reason; the part of a frame is taken off, the header says the frames the file
    holds, and they read as written."""
    x = samples("float32", 400, 2)
    audio = CallAudio.create(tmp_path, 1, 0.0, 8000, 2)
    before = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (HEADER_BYTES + 4 * 100 + 3, before[1]))
    try:
        with pytest.raises(CallAudioError) as err:
            audio.write(x)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, before)
    audio.close()
    assert str(err.value) == f"{tmp_path / 'call-1.wav'}: File too large"
    assert audio.frames == 100 and audio.path.stat().st_size == HEADER_BYTES + 400
    sf.write(tmp_path / "libsndfile.wav", x[:100], 8000, subtype="PCM_16", format="WAV")
    assert audio.path.read_bytes() == (tmp_path / "libsndfile.wav").read_bytes()
    assert wave_frames(audio.path)[0] == 100


def test_a_closed_file_takes_no_more_audio_and_a_second_close_leaves_the_descriptors_of_other_files_alone(tmp_path):
    """The descriptor's number goes to the next file opened: a write or a close after the close must
    not reach that file."""
    audio = CallAudio.create(tmp_path, 1, 0.0, 8000, 1)
    audio.write(samples("float32", 100, 1))
    audio.close()
    with open(tmp_path / "other", "wb") as other:  # most likely given the number the audio file had
        with pytest.raises(CallAudioError, match=f"^{tmp_path / 'call-1.wav'}: the file is closed$"):
            audio.write(samples("float32", 100, 1))
        audio.close()
        other.write(b"still open")
    assert (tmp_path / "other").read_bytes() == b"still open" and wave_frames(audio.path)[0] == 100


def test_samples_neither_float_nor_int16_are_refused_in_one_line_naming_the_file(tmp_path):
    audio = CallAudio.create(tmp_path, 1, 0.0, 8000, 1)
    try:
        with pytest.raises(ValueError, match=f"^{tmp_path / 'call-1.wav'}: call audio is float or int16 samples, "
                                             "not int32$"):
            audio.write(np.zeros((10, 1), np.int32))
    finally:
        audio.close()
    assert wave_frames(audio.path)[0] == 0
