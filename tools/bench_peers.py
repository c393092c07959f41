"""Benchmark peers: what established tools take for the same audio, one thread.

Each function takes float32 mono samples and a rate and returns a dict with at
least ``seconds`` (wall time) and ``xrt`` (audio seconds per second of work):

- ``bench_parselmouth``: Praat through parselmouth: To Pitch (ac), To Harmonicity
  (cc), To Intensity, To PowerCepstrogram + Get CPPS (fit "Robust"), and de Jong &
  Wempe's syllable nuclei (tools.praat_reference.praat_syllables); per-part times too.
- ``bench_opensmile``: openSMILE eGeMAPSv02 low-level descriptors.
- ``bench_pyin``: librosa.pyin (60-400 Hz) on at most ``max_seconds`` of the audio;
  its x-real-time is what that piece gives (pyin's cost is linear in length).

    OMP_NUM_THREADS=1 python -m tools.bench_peers [--seconds 600] [--rate 16000]
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
           "NUMEXPR_NUM_THREADS", "NUMBA_NUM_THREADS", "VECLIB_MAXIMUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from tools.options import number_above  # noqa: E402


def _result(seconds: float, audio_s: float, cpu: float | None = None, **extra) -> dict:
    out = {"seconds": seconds, "xrt": audio_s / seconds if seconds > 0 else float("inf"),
           "audio_s": audio_s, **extra}
    if cpu is not None:  # process CPU time: robust when other jobs share the cores
        out["cpu_seconds"] = cpu
        out["xrt_cpu"] = audio_s / cpu if cpu > 0 else float("inf")
    return out


class _Clock:
    """Wall and process-CPU time of a with-block."""
    def __enter__(self):
        self.w, self.c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.w
        self.cpu = time.process_time() - self.c


def bench_parselmouth(x: np.ndarray, rate: int) -> dict:
    import parselmouth
    from parselmouth.praat import call

    from tools.praat_reference import praat_syllables

    snd = parselmouth.Sound(np.asarray(x, np.float64), sampling_frequency=float(rate))
    parts, cpu = {}, {}

    def timed(name, fn):
        with _Clock() as c:
            fn()
        parts[name], cpu[name] = c.wall, c.cpu

    timed("pitch_ac", lambda: snd.to_pitch_ac())
    timed("hnr_cc", lambda: snd.to_harmonicity_cc())
    timed("intensity", lambda: snd.to_intensity())
    timed("cpps", lambda: call(call(snd, "To PowerCepstrogram", 60, 0.01, 5000, 50),
                               "Get CPPS", "yes", 0.02, 0.0005, 60, 330, 0.05,
                               "Parabolic", 0.001, 0.05, "Exponential decay", "Robust"))
    timed("syllable_nuclei", lambda: praat_syllables(snd))
    return _result(sum(parts.values()), len(x) / rate, sum(cpu.values()), parts=parts,
                   parts_cpu=cpu)


def bench_opensmile(x: np.ndarray, rate: int) -> dict:
    import opensmile

    smile = opensmile.Smile(feature_set=opensmile.FeatureSet.eGeMAPSv02,
                            feature_level=opensmile.FeatureLevel.LowLevelDescriptors)
    with _Clock() as c:
        feats = smile.process_signal(np.asarray(x, np.float32), rate)
    return _result(c.wall, len(x) / rate, c.cpu, frames=len(feats))


def bench_pyin(x: np.ndarray, rate: int, max_seconds: float = 60.0) -> dict:
    import librosa

    piece = np.asarray(x[: int(max_seconds * rate)], np.float32)
    librosa.pyin(piece[:rate], fmin=60, fmax=400, sr=rate)  # warm-up (numba compile)
    with _Clock() as c:
        librosa.pyin(piece, fmin=60, fmax=400, sr=rate)
    res = _result(c.wall, len(piece) / rate, c.cpu)
    res["seconds_scaled"] = c.wall * len(x) / len(piece)  # estimate for the whole audio
    return res


def main(argv=None) -> int:
    from tools.bench_audio import long_speech

    ap = argparse.ArgumentParser(prog="python -m tools.bench_peers",
                                 description="Time the benchmark's peers (Parselmouth, openSMILE, librosa's pyin) "
                                             "on real speech, in one thread.")
    ap.add_argument("--seconds", type=number_above(0.0), default=600.0, metavar="S",
                    help="seconds of real speech the peers measure (default 600)")
    ap.add_argument("--rate", type=int, choices=(16000, 8000), default=16000,
                    help="sample rate of the speech (default 16000)")
    ap.add_argument("--pyin-seconds", type=number_above(0.0), default=60.0, metavar="S",
                    help="seconds pyin (slow) measures at most, its time scaled to --seconds (default 60)")
    a = ap.parse_args(argv)
    x = long_speech(a.seconds, a.rate)
    print(f"audio: {a.seconds:.0f} s of real speech at {a.rate} Hz, one thread")
    p = bench_parselmouth(x, a.rate)
    print("peer               wall s   x-real-time   cpu s  x-real-time(cpu)")
    p = bench_parselmouth(x, a.rate)
    print(f"parselmouth set   {p['seconds']:7.2f}  {p['xrt']:8.1f}x  {p['cpu_seconds']:7.2f}"
          f"  {p['xrt_cpu']:8.1f}x")
    print("    parts (cpu s): " + "  ".join(f"{k} {v:.2f}" for k, v in p["parts_cpu"].items()))
    o = bench_opensmile(x, a.rate)
    print(f"openSMILE eGeMAPS {o['seconds']:7.2f}  {o['xrt']:8.1f}x  {o['cpu_seconds']:7.2f}"
          f"  {o['xrt_cpu']:8.1f}x")
    y = bench_pyin(x, a.rate, a.pyin_seconds)
    print(f"librosa pyin      {y['seconds_scaled']:7.2f}  {y['xrt']:8.1f}x  "
          f"{y['cpu_seconds'] * a.seconds / y['audio_s']:7.2f}  {y['xrt_cpu']:8.1f}x"
          f"  (measured on {y['audio_s']:.0f} s, scaled)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
