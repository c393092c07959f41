"""Which espeak-ng setting turns the corpus's degraded voices into whispers (research: whispered voices).

Renders one caller sentence with the corpus generator's espeak-ng command (tools/make_fixtures.py's
Espeak: ``-v ACCENT+VARIANT -s RATE -p PITCH -a 40 -g GAP``) and measures Praat's voiced share (% of
audible 10 ms frames with a pitch; audible: intensity within 35 dB of the peak) and median
harmonics-to-noise ratio (dB), varying one thing at a time:

1. the command line (amplitude, pitch, rate, word gap, SSML) with the old labored lines;
2. the old labored lines (the project's cmlabored: voicing 45, flutter 30, breath 80-85 in the
   low formants) one line or pair at a time, on a variant without lines of its own;
3. the old (cmbreathy / cmlabored) and the new (voices.json "phonation", by gender) lines on every
   caller variant.

    PYTHONPATH=. python research/whisper/phonation.py > phonation.txt
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import parselmouth

from tools import eval_corpus as ec
from tools.make_fixtures import SR, VARIANTS_DIR, Espeak, SynthRequest, Voice, build_espeak_data, variant_lines

TEXT = "I'm calling about a payment on my account that I don't understand."
OLD = {kind: [ln for ln in (VARIANTS_DIR / src).read_text().splitlines()
              if ln.split()[:1] and ln.split()[0] in ("breath", "breathw", "voicing", "flutter")]
       for kind, src in (("breathy", "cmbreathy"), ("labored", "cmlabored"))}
NEW = ec.load_data("voices.json")["phonation"]
BW = "breathw 150 150 200 200 400 400 400 400"


def voicing(x: np.ndarray) -> tuple[float, float]:
    snd = parselmouth.Sound(x, SR)
    f0 = snd.to_pitch(time_step=0.01).selected_array["frequency"]
    inten = snd.to_intensity(time_step=0.01).values[0]
    n = min(len(f0), len(inten))
    audible = inten[:n] > inten[:n].max() - 35.0
    hnr = snd.to_harmonicity_cc(time_step=0.01).values[0]
    return 100 * float((f0[:n][audible] > 0).mean()), float(np.median(hnr[hnr > -199]))


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        report(Path(folder))


def report(tmp: Path) -> None:
    version = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True, check=True).stdout
    system = Path(re.search(r"Data at:\s*(\S+)", version).group(1)) / "voices" / "!v"  # type: ignore[union-attr]
    build_espeak_data(tmp, VARIANTS_DIR)
    target = tmp / "espeak-ng-data" / "voices" / "!v"
    es = Espeak(tmp, tmp, 1)
    count = iter(range(10**6))

    def variant(base: str | None, lines: list[str]) -> str:
        name = f"x{next(count)}"
        (target / name).write_text("\n".join(variant_lines(base, system) + [f"name {name}"] + lines) + "\n")
        return name

    def say(v: str | None, rate: int = 100, pitch: int = 40, amp: int = 40, gap: int = 3, text: str = TEXT,
            ssml: bool = False, accent: str = "en-us") -> str:
        share, hnr = voicing(es.say(SynthRequest(Voice(accent, v, pitch, amp), rate, text, gap, ssml)))
        return f"{share:3.0f} % {hnr:5.1f} dB"

    def once(base: str | None, lines: list[str], **kw: object) -> str:
        """A test variant rendered and removed again: espeak-ng lists at most 349 voices, and past
        that it silently falls back to other voices."""
        name = variant(base, lines)
        try:
            return say(name, **kw)  # type: ignore[arg-type]
        finally:
            (target / name).unlink()

    old_lab = variant(None, OLD["labored"])  # kept for part 1, removed at the end
    print("1. the old labored lines, en-us, one command-line setting at a time (voiced %, HNR)")
    print(f"   as the corpus (-s 100 -p 40 -a 40 -g 3): {say(old_lab)}   modal voice: {say(None)}")
    for label, kw in (("-a 100", {"amp": 100}), ("-a 200", {"amp": 200}), ("-p 0", {"pitch": 0}),
                      ("-p 99", {"pitch": 99}), ("-s 170", {"rate": 170}), ("-g 0", {"gap": 0}),
                      ("-g 10", {"gap": 10}),
                      ("SSML breaks", {"text": '<speak>I need <break time="900ms"/> help.</speak>', "ssml": True})):
        print(f"   {label:12s} {say(old_lab, **kw)}")
    print("2. the old labored lines one at a time, en-us without variant")
    for label, lines in (("voicing 45", ["voicing 45"]), ("flutter 30", ["flutter 30"]),
                         ("breath 80-85 low (+breathw)", [OLD["labored"][2], BW]),
                         ("voicing 45 + breath", ["voicing 45", OLD["labored"][2], BW]),
                         ("voicing 70 + breath", ["voicing 70", OLD["labored"][2], BW]),
                         ("voicing 100 + breath", ["voicing 100", OLD["labored"][2], BW]),
                         ("voicing 45 + breath halved", ["voicing 45", "breath 40 43 43 40 35 30 25 20", BW]),
                         ("voicing 45 + new male labored breath", ["voicing 45"] + NEW["male"]["labored"][2:]),
                         ("all (cmlabored)", OLD["labored"])):
        print(f"   {label:38s} {once(None, lines)}")
    print("3. every caller variant (pitch 40 male / 60 female, breathy -s 140 -g 1, labored -s 100 -g 3)")
    voices = ec.load_data("voices.json")
    for base in voices["male_variants"] + voices["female_variants"]:
        gender = "female" if base in voices["female_variants"] else "male"
        pitch = 60 if gender == "female" else 40
        row = [f"modal {say(base, 170, pitch, gap=0)}"]
        for tag, lines in (("old", OLD), ("new", NEW[gender])):
            row += [f"{tag} breathy {once(base, lines['breathy'], rate=140, pitch=pitch, gap=1)}",
                    f"{tag} labored {once(base, lines['labored'], rate=100, pitch=pitch)}"]
        print(f"   {base or 'none':9s} " + " | ".join(row))
    (target / old_lab).unlink()


if __name__ == "__main__":
    main()
