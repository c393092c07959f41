"""Copy the 61 transcribed real-speech WAV utterances of the shared data folder's speech/
into audio_fixtures/real/ as lossless 16-bit FLAC, with licences and attribution.

Run once by a maintainer (needs the shared data folder, by default the ``shared`` folder
beside the checkout); the result is committed, so a fresh clone's tests do not need it:

    python -m tools.import_real_speech [--shared SHARED] [--out audio_fixtures/real]

``--shared`` is the shared data folder, as for the sibling tools (copy_breathing_fixtures,
train_sound_class); its ``speech/`` folder is read. A folder that holds the sources' folders
itself (``SOURCE/manifest.csv``: the ``speech/`` folder given directly, as earlier commands did)
is read as it is.

Selection: every WAV with a transcript except the FSDD digits (whole-word clips)
and the headerless .raw files. Each file is verified bit-exact after writing
(the int16 samples read back from the FLAC equal the WAV's).
"""
from __future__ import annotations

import argparse
import csv
import shutil
import sys
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]
PROG = "import_real_speech"

# source folder -> (licence summary for the manifest's `licence` column per file,
#                   licence files to copy)
SOURCES: dict[str, dict] = {
    "coqui-tts-ljspeech": {
        "licence": lambda p: "public domain (LJ Speech Dataset)",
        "files": ["LICENSE_coqui-TTS_MPL-2.0.txt"],
        "repo": "https://github.com/coqui-ai/TTS",
        "commit": "dbf1a08a0d4e47fdad6172e433eeb34bc6b13b4e",
        "copied": "tests/data/ljspeech/wavs/LJ001-0001.wav ... LJ001-0032.wav (32 files)",
        "note": "LJ Speech Dataset (Keith Ito, 2017): Linda Johnson reading 19th-century "
                "non-fiction for LibriVox; the recordings and transcripts are public domain. "
                "The repository's code is MPL-2.0 (licence text kept here). Transcripts: the "
                "normalised LJSpeech text as in NVIDIA/tacotron2 filelists "
                "(commit 185cd24e046cc1304b4f8e564734d2498c6e2e6f).",
    },
    "deepspeech": {
        "licence": lambda p: (
            "TIMIT LDC93S1 free sample (LDC; test use only); repository MPL-2.0"
            if p.startswith("LDC93S1")
            else "CMU ARCTIC (BSD-style CMU licence); repository MPL-2.0"
        ),
        "files": ["LICENSE_DeepSpeech_MPL-2.0.txt"],
        "repo": "https://github.com/mozilla/DeepSpeech",
        "commit": "6913ae817bc09159c64def7f130708682c197ba3",
        "copied": "data/smoke_test/LDC93S1.wav, data/smoke_test/LDC93S1_pcms16le_1_8000.wav, "
                  "native_client/dotnet/DeepSpeechConsole/arctic_a0024.wav",
        "note": "Repository licence MPL-2.0 (text kept here). LDC93S1 is the free TIMIT sample "
                "sentence that the LDC publishes; TIMIT itself is LDC-licensed, so these two "
                "files are for testing only (do not redistribute them outside this test "
                "fixture set, do not train on them). arctic_a0024 is from CMU ARCTIC "
                "(Kominek & Black, CMU; BSD-style licence permitting redistribution).",
    },
    "parselmouth": {
        "licence": lambda p: (
            "CC BY-SA 3.0 (International Phonetic Association, Wikimedia Commons)"
            if "north_wind" in p
            else "GPL-3.0-or-later (Parselmouth repository)"
        ),
        "files": ["LICENSE_parselmouth_GPL3.txt", "README_license_section.md"],
        "repo": "https://github.com/YannickJadoul/Parselmouth",
        "commit": "069304b414f74d77581cfd9a9a4c8346871ab693",
        "copied": "tests/data/the_north_wind_and_the_sun.wav; "
                  "docs/examples/audio/{1..5}_{b,y}.wav, bat.wav, bet.wav",
        "note": "the_north_wind_and_the_sun: an excerpt of the Wikimedia Commons file "
                "'Recording of speaker of British English (Received Pronunciation).ogg' by "
                "the International Phonetic Association, licensed CC BY-SA 3.0 "
                "(https://creativecommons.org/licenses/by-sa/3.0/); our FLAC copy is a "
                "lossless re-encoding, no other change, and is shared under the same licence. "
                "The other 12 clips come with the Parselmouth repository, GPL-3.0-or-later "
                "(licence text kept here); their speakers are not documented upstream.",
    },
    "pocketsphinx": {
        "licence": lambda p: (
            "public domain (LibriVox); repository BSD-2-Clause-style (CMU)"
            if "librivox" in p
            else "BSD-2-Clause-style (CMU pocketsphinx repository)"
        ),
        "files": ["LICENSE_pocketsphinx_BSD.txt"],
        "repo": "https://github.com/cmusphinx/pocketsphinx",
        "commit": "511126b492dcb267cf30d49d631946d7b61a9530",
        "copied": "test/data/librivox/sense_and_sensibility_01_austen_64kb-{0870,0880,0890,0920,"
                  "0930}.wav, test/data/cards/00{1..5}.wav, test/data/forever/input_2_16k.wav",
        "note": "Repository licence BSD-style, Copyright (c) 1999-2016 Carnegie Mellon "
                "University (text kept here). The librivox clips are from the LibriVox "
                "recording of Jane Austen's 'Sense and Sensibility', chapter 1 (public "
                "domain). The provenance of the cards/forever clips is not documented.",
    },
    "speech_recognition": {
        "licence": lambda p: "BSD-3-Clause (Uberi/speech_recognition repository)",
        "files": ["LICENSE_speech_recognition_BSD-3.txt"],
        "repo": "https://github.com/Uberi/speech_recognition",
        "commit": "0a675d1e5232dbeae1be8d071c923fb37f0f163a",
        "copied": "examples/english.wav",
        "note": "BSD-3-Clause, Copyright (c) Anthony Zhang (Uberi) (text kept here). "
                "The speaker is not documented.",
    },
    "vosk-api": {
        "licence": lambda p: "Apache-2.0 (alphacep/vosk-api repository)",
        "files": ["COPYING_Apache-2.0.txt"],
        "repo": "https://github.com/alphacep/vosk-api",
        "commit": "9adbd76c77338b48399caa622d7cba15037d83c0",
        "copied": "python/example/test.wav",
        "note": "Apache-2.0 (text kept here); the recording's speaker is not documented. "
                "Its transcript (three digit strings) is the probable one from Vosk/"
                "pocketsphinx decodes, not an upstream reference.",
    },
}

FIELDS = ["path", "original", "source", "duration_s", "samplerate",
          "transcript", "syllables", "licence"]


def select(shared: Path) -> list[tuple[str, dict]]:
    """(source, shared-manifest row) for every WAV with a transcript."""
    out = []
    for source in SOURCES:
        with open(shared / source / "manifest.csv", newline="") as fh:
            for row in csv.DictReader(fh):
                if row["path"].endswith(".wav") and row["transcript"].strip() \
                        and row["syllables"].strip():
                    out.append((source, row))
    return out


def convert(src: Path, dst: Path) -> sf.SoundFile:
    data, rate = sf.read(src, dtype="int16", always_2d=False)
    info = sf.info(src)
    assert info.subtype == "PCM_16", f"{src}: {info.subtype}"
    dst.parent.mkdir(parents=True, exist_ok=True)
    sf.write(dst, data, rate, format="FLAC", subtype="PCM_16",
             compression_level=1.0)
    back, rate2 = sf.read(dst, dtype="int16", always_2d=False)
    if rate2 != rate or back.shape != data.shape or not np.array_equal(back, data):
        raise RuntimeError(f"{dst}: not bit-exact")
    return info


def write_attribution(folder: Path, source: str, spec: dict, rows: list[dict]) -> None:
    lines = [
        f"# {source}: attribution", "",
        f"- Source repository: {spec['repo']}",
        f"- Commit: {spec['commit']}",
        f"- Copied: {spec['copied']}",
        f"- Licence files kept here: {', '.join(spec['files'])}",
        "- Change made: the original 16-bit PCM WAVs were re-encoded losslessly as 16-bit "
        "FLAC (same samples, same sample rate); nothing else.",
        "", spec["note"], "",
        "| file | original | s | Hz | syllables | licence |", "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {Path(r['path']).relative_to(source)} | {r['original']} | "
                     f"{r['duration_s']} | {r['samplerate']} | {r['syllables']} | {r['licence']} |")
    (folder / "ATTRIBUTION.md").write_text("\n".join(lines) + "\n")


class SharedFolderError(Exception):
    """A shared folder or file that cannot be read or written; the message names it."""


def speech_folder(shared: Path) -> Path:
    """The folder of the sources' folders (``SOURCE/manifest.csv``): ``shared``'s ``speech/``, or
    ``shared`` itself when it holds them (the ``speech/`` folder given directly). Raises
    SharedFolderError naming ``--shared`` and what is missing."""
    if not shared.is_dir():
        raise SharedFolderError(f"--shared {shared}: no such folder")
    for folder in (shared / "speech", shared):
        if any((folder / source / "manifest.csv").is_file() for source in SOURCES):
            missing = [source for source in SOURCES if not (folder / source / "manifest.csv").is_file()]
            if missing:
                raise SharedFolderError(f"{folder / missing[0] / 'manifest.csv'}: no such file "
                                   f"({len(missing)} of the {len(SOURCES)} sources missing)")
            return folder
    raise SharedFolderError(f"--shared {shared}: not the shared data folder (no speech/{next(iter(SOURCES))}/manifest.csv)")


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog=f"python -m tools.{PROG}",
        description="Copy the transcribed real-speech WAV utterances of the shared data folder's speech/ "
                    "into audio_fixtures/real/ as lossless 16-bit FLAC (each verified bit-exact), with "
                    "their licences, attribution and a manifest.")
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared", metavar="SHARED",
                    help="the shared data folder, whose speech/ is read (default: the shared folder beside "
                         "the checkout, %(default)s); its speech/ folder given directly is read too")
    ap.add_argument("--out", type=Path, default=ROOT / "audio_fixtures" / "real", metavar="DIR",
                    help="where the FLAC files, licences and manifest.csv go (default: %(default)s)")
    return ap


def import_speech(speech: Path, out: Path) -> list[dict]:
    """Every selected utterance of ``speech`` converted into ``out``, its licences and attribution
    beside them and ``out/manifest.csv``; the manifest's rows."""
    rows = []
    for source, row in select(speech):
        rel = Path(source) / Path(row["path"]).with_suffix(".flac")
        info = convert(speech / source / row["path"], out / rel)
        rows.append({
            "path": rel.as_posix(), "original": row["path"], "source": source,
            "duration_s": f"{info.frames / info.samplerate:.3f}",
            "samplerate": info.samplerate, "transcript": row["transcript"],
            "syllables": int(row["syllables"]),
            "licence": SOURCES[source]["licence"](row["path"]),
        })
    for source, spec in SOURCES.items():
        (out / source).mkdir(parents=True, exist_ok=True)
        for name in spec["files"]:
            shutil.copyfile(speech / source / name, out / source / name)
        write_attribution(out / source, source, spec,
                          [r for r in rows if r["source"] == source])
    with open(out / "manifest.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, FIELDS)
        w.writeheader()
        w.writerows(rows)
    return rows


def main(argv=None) -> int:
    a = build_parser().parse_args(argv)
    try:
        rows = import_speech(speech_folder(a.shared), a.out)
    except SharedFolderError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    except (OSError, RuntimeError, KeyError, ValueError, AssertionError) as exc:
        said = f"{exc.filename}: {exc.strerror}" if isinstance(exc, OSError) and exc.filename else str(exc)
        print(f"{PROG}: error: {said}", file=sys.stderr)
        return 1
    counts = {s: sum(r["source"] == s for r in rows) for s in SOURCES}
    print(f"{len(rows)} files bit-exact as FLAC: {counts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
