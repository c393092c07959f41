"""The calls of the hold / transfer / conference / relative cases, built as two mono 16 kHz legs each
(`<case>_caller.wav`, `<case>_agent.wav`) from the fixture calls and espeak-ng voices.

    python research/transfer/build.py OUT

Cases (times in the built call; the `normal` fixture's caller is healthy throughout):
  normal            the `normal` fixture call as it is (the reference: no alert)
  hold_silent       `normal`, cut after the caller's turn at 96.4 s: the agent asks the caller to hold,
                    45 s of nothing on either leg, "thank you for holding", then the rest of the call
  hold_music        the same, the hold filled with synthetic hold music at the caller's level
  hold_message      the same, the hold filled with music and a recorded "please hold" announcement
  hold_music_early  hold_music, cut at 39.5 s instead (the hold before the caller's baseline is ready)
  conference        `normal`, cut there: the agent brings in a colleague (another voice, 6 dB quieter,
                    slower) who speaks four turns on the caller's leg with the agent and caller, leaves
  interpreter       `normal`, cut there: an interpreter (another voice, slower, 4 dB louder) speaks after
                    each of six short agent/caller exchanges for 60 s, then leaves
  transfer_in       `labored_start` from 30.4 s on: the call reaches this agent in progress, the caller
                    labored from the first word heard
  transfer_in_calm  `labored_start` from 30.4 s, but the agent greets first (a new agent's "hello")
  relative          a healthy relative (female voice) speaks for her father ("my father can't breathe,
                    he is very weak"), 12 turns
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

ROOT = Path(__file__).resolve().parents[2]
RATE = 16000
CUT_S = 96.4
AGENT = ("en+f3", 55, 175)  # the fixture's agent: voice, pitch, words a minute
COLLEAGUE = ("en-gb-x-rp+m3", 35, 150)
INTERPRETER = ("en-us+m4", 60, 140)
RELATIVE = ("en-us+f2", 60, 170)
ANNOUNCER = ("en-gb+f4", 50, 160)


def level_db(x: np.ndarray) -> float:
    """RMS level (dBFS) of the samples of ``x`` (n,) louder than 40 dB under its peak."""
    a = np.abs(x)
    loud = x[a > a.max() * 0.01]
    return float(10 * np.log10(np.mean(loud ** 2) + 1e-20))


def say(text: str, voice: tuple[str, int, int], db: float) -> np.ndarray:
    """espeak-ng's ``text`` at 16 kHz, (n,), its speech at ``db`` dBFS."""
    name, pitch, wpm = voice
    with tempfile.TemporaryDirectory() as d:
        out = Path(d) / "s.wav"
        subprocess.run(["espeak-ng", "-v", name, "-p", str(pitch), "-s", str(wpm), "-w", str(out), text], check=True)
        x, r = sf.read(out, dtype="float64")
    x = resample_poly(x, RATE, r) if r != RATE else x
    return x * 10 ** ((db - level_db(x)) / 20)


def silence(s: float) -> np.ndarray:
    return np.zeros(int(round(s * RATE)))


def music(s: float, db: float, seed: int = 1) -> np.ndarray:
    """Synthetic hold music, (n,): a piano-like melody over held triads, 0.4 s notes, its level ``db``."""
    rng = np.random.default_rng(seed)
    n = int(s * RATE)
    t = np.arange(n) / RATE
    out = np.zeros(n)
    chords = [(261.6, 329.6, 392.0), (220.0, 261.6, 329.6), (174.6, 220.0, 261.6), (196.0, 246.9, 293.7)]
    for k, start in enumerate(np.arange(0, s, 2.0)):
        i = slice(int(start * RATE), min(n, int((start + 2.0) * RATE)))
        tt = t[i] - start
        for f in chords[k % 4]:
            out[i] += 0.3 * np.sin(2 * np.pi * f * tt) * np.exp(-tt / 1.5)
    scale = [523.3, 587.3, 659.3, 698.5, 784.0, 880.0]
    for start in np.arange(0, s, 0.4):
        i = slice(int(start * RATE), min(n, int((start + 0.4) * RATE)))
        tt = t[i] - start
        f = scale[rng.integers(len(scale))]
        out[i] += sum(0.5 / h * np.sin(2 * np.pi * f * h * tt) for h in (1, 2, 3)) * np.exp(-tt / 0.25)
    return out * 10 ** ((db - level_db(out)) / 20)


def normal() -> tuple[np.ndarray, np.ndarray]:
    x, r = sf.read(ROOT / "audio_fixtures/calls/normal_16k.wav", dtype="float64")
    return x[:, 1], x[:, 0]


def splice(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """Caller and agent legs of ``parts`` one after the other; a part's shorter leg padded with silence."""
    cs, ag = [], []
    for c, a in parts:
        n = max(len(c), len(a))
        cs.append(np.pad(c, (0, n - len(c))))
        ag.append(np.pad(a, (0, n - len(a))))
    return np.concatenate(cs), np.concatenate(ag)


def turns(lines: list[tuple[str, str, tuple[str, int, int], float]], gap: float = 0.6) -> tuple[np.ndarray, np.ndarray]:
    """Turns ``(leg, text, voice, db)`` one after the other ``gap`` s apart, on leg "caller" or "agent"."""
    parts = []
    for leg, text, voice, db in lines:
        x = np.concatenate([say(text, voice, db), silence(gap)])
        parts.append((x, silence(len(x) / RATE)) if leg == "caller" else (silence(len(x) / RATE), x))
    return splice(parts)


def around_cut(middle: tuple[np.ndarray, np.ndarray], cut_s: float = CUT_S) -> tuple[np.ndarray, np.ndarray]:
    c, a = normal()
    k = int(cut_s * RATE)
    return splice([(c[:k], a[:k]), middle, (c[k:], a[k:])])


def hold(fill: np.ndarray, cut_s: float = CUT_S) -> tuple[tuple[np.ndarray, np.ndarray], list[float]]:
    """The call cut at ``cut_s`` for a hold filled with ``fill``, and the hold's [from, to] in it (s)."""
    before = turns([("agent", "Let me run a test on the line from here. Could you hold for a moment please?", AGENT, -22)])
    after = turns([("agent", "Thank you for holding.", AGENT, -22)])
    held = [round(cut_s + len(before[0]) / RATE, 2), round(cut_s + (len(before[0]) + len(fill)) / RATE, 2)]
    return around_cut(splice([before, (fill, silence(len(fill) / RATE)), (silence(0.8), silence(0.8)), after]), cut_s), held


def message_loop(s: float) -> np.ndarray:
    words = say("Thank you for holding. Your call is important to us. Please stay on the line.", ANNOUNCER, -24)
    block = np.concatenate([words, silence(0.5)])
    out = music(s, -27)
    for start in np.arange(2.0, s - len(block) / RATE, 15.0):
        i = int(start * RATE)
        out[i:i + len(block)] = 0.3 * out[i:i + len(block)] + block
    return out


def conference() -> tuple[np.ndarray, np.ndarray]:
    c = -30  # the colleague: 6 dB under the caller's -24 dBFS
    return turns([
        ("agent", "I'll bring in my colleague from the network team, one moment.", AGENT, -22),
        ("caller", "Sure, no problem.", ("en-us", 45, 168), -24),
        ("caller", "Hello, this is Robert from the network team. I have the line test in front of me.", COLLEAGUE, c),
        ("agent", "Thanks Robert. What do you see on the line?", AGENT, -22),
        ("caller", "There is some noise on the line in the evenings, between seven and eleven, which matches "
                   "what the customer described. It looks like interference close to the house.", COLLEAGUE, c),
        ("caller", "Okay, that makes sense.", ("en-us", 45, 168), -24),
        ("caller", "I would try the router on the main socket first. If the noise stays, we can send an engineer "
                   "on Friday.", COLLEAGUE, c),
        ("agent", "Great, thank you Robert.", AGENT, -22),
        ("caller", "You're welcome. I'll leave you with Claire now. Goodbye.", COLLEAGUE, c),
    ])


def interpreter() -> tuple[np.ndarray, np.ndarray]:
    i = -20  # the interpreter: 4 dB over the caller
    lines = []
    pairs = [("Can you tell me when the drop-outs started?", "It started about two weeks ago, in the evening."),
             ("Does it happen every evening?", "Almost every evening, yes, for about an hour."),
             ("Have you changed anything in the house?", "We got a new television last month."),
             ("Is the television near the router?", "Yes, they are on the same table."),
             ("Could you move the router away from it?", "Yes, I can try that tonight."),
             ("Thank you, I'll make a note of that.", "Thank you very much.")]
    for q, ans in pairs:
        lines += [("agent", q, AGENT, -22), ("caller", "The agent asks: " + q, INTERPRETER, i),
                  ("caller", ans, ("en-us", 45, 168), -24), ("caller", "He says: " + ans, INTERPRETER, i)]
    return turns(lines)


def transfer_in(greet: bool) -> tuple[np.ndarray, np.ndarray]:
    x, r = sf.read(ROOT / "audio_fixtures/calls/labored_start_16k.wav", dtype="float64")
    k = int(30.4 * r)
    rest = (x[k:, 1], x[k:, 0])
    if not greet:
        return rest
    return splice([turns([("agent", "Hello, you're through to the repairs team now, my name is Claire.", AGENT, -22)]),
                   rest])


def relative() -> tuple[np.ndarray, np.ndarray]:
    r = -24
    return turns([
        ("agent", "Good afternoon, Northwind Health line, my name is Claire. How can I help you today?", AGENT, -22),
        ("caller", "Hello, I'm calling for my father. He can't breathe properly, he is very weak.", RELATIVE, r),
        ("agent", "I'm sorry to hear that. Is he with you now?", AGENT, -22),
        ("caller", "Yes, he is sitting next to me. He says his chest hurts and he is dizzy.", RELATIVE, r),
        ("agent", "How long has he been like this?", AGENT, -22),
        ("caller", "Since this morning, but it got worse in the last hour. He can hardly talk.", RELATIVE, r),
        ("agent", "Is he awake and able to answer you?", AGENT, -22),
        ("caller", "He is awake, but he is gasping for air and his lips look a bit blue.", RELATIVE, r),
        ("agent", "Okay. I'm going to arrange an ambulance for him now. What is the address?", AGENT, -22),
        ("caller", "Twelve Elm Road, Eastgate. Please hurry, my father is not breathing well at all.", RELATIVE, r),
        ("agent", "The ambulance is on its way. Stay with him and keep him sitting upright.", AGENT, -22),
        ("caller", "Okay, I will. Thank you so much.", RELATIVE, r),
    ], gap=0.7)


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    holds = {}
    cases = {"normal": normal()}
    for name, fill, cut_s in (("hold_silent", silence(45.0), CUT_S), ("hold_music", music(45.0, -24), CUT_S),
                              ("hold_message", message_loop(45.0), CUT_S), ("hold_music_early", music(45.0, -24), 39.5)):
        cases[name], holds[name] = hold(fill, cut_s)
    (out / "holds.json").write_text(json.dumps(holds, indent=1))
    cases |= {
        "conference": around_cut(conference()),
        "interpreter": around_cut(interpreter()),
        "transfer_in": transfer_in(greet=False),
        "transfer_in_calm": transfer_in(greet=True),
        "relative": relative(),
    }
    for name, (c, a) in cases.items():
        peak = max(np.abs(c).max(), np.abs(a).max())
        g = min(1.0, 0.95 / peak)
        sf.write(out / f"{name}_caller.wav", c * g, RATE, subtype="PCM_16")
        sf.write(out / f"{name}_agent.wav", a * g, RATE, subtype="PCM_16")
        print(f"{name}: {len(c) / RATE:.1f} s")


if __name__ == "__main__":
    main()
