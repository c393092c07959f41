import glob, json, numpy as np, soundfile as sf
from monitor.dsp.energy import frame_energy_db
from monitor.dsp.framing import frame_signal, n_frames
for rate in ("8k", "16k"):
    files = sorted(glob.glob(f"audio_fixtures/generated/eval/eval_*_{rate}.flac"))
    shares, silent_frames, with_silent = [], 0, 0
    frames_total = 0
    for f in files:
        x, r = sf.read(f, dtype="float32")
        c = x[:, 1]
        shares.append(float(np.mean(c == 0)))
        hop, win = r // 100, int(0.025 * r)
        n = n_frames(len(c), win, hop)
        e = frame_energy_db(frame_signal(c, win, hop, 0, n))
        k = int(np.count_nonzero(e <= -99.9)); silent_frames += k; with_silent += k > 0; frames_total += n
    print(rate, len(files), "files; exact-zero sample share: median %.4f max %.4f;" % (np.median(shares), max(shares)),
          f"frames at digital silence: {silent_frames} of {frames_total} ({silent_frames/frames_total:.5f}), in {with_silent} files")
