"""Files and folders another local user could reach: every folder a command makes is 0700 whatever
the umask, from the first level it makes down to the database's, the audio's and the reports'."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from conftest import CALLS, call_monitor
from monitor.files import make_private_folder

UMASK_000 = ("sh", "-c", 'umask 000 && exec "$@"', "sh")
"""A command prefix that runs it under umask 000 (a shell's, a service manager's, a container's)."""


def _modes(top: Path) -> dict[str, int]:
    """The mode of every folder under ``top`` (``top`` not among them), by its path below it."""
    return {str(d.relative_to(top)): stat.S_IMODE(d.stat().st_mode) for d in top.rglob("*") if d.is_dir()}


def test_replay_under_umask_000_makes_every_folder_of_its_database_and_audio_0700_not_only_the_last(tmp_path):
    config = tmp_path / "n.toml"
    config.write_text(f'[daemon]\nwrite_audio = true\naudio_dir = "{tmp_path}/a/b/audio"\n'
                      f'[storage]\ndb = "{tmp_path}/d/e/f/events.db"\n[delivery]\nnotify = false\n')
    r = call_monitor("replay", CALLS / "normal_8k.wav", "--no-transcribe", "--config", config,
                     prefix=UMASK_000, timeout=300)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "d/e/f/events.db").is_file()
    modes = _modes(tmp_path)
    assert {"a", "a/b", "a/b/audio", "d", "d/e", "d/e/f"} <= set(modes)
    assert modes == dict.fromkeys(modes, 0o700), modes


def test_a_private_folder_is_made_0700_at_every_level_under_any_umask_and_leaves_folders_there_as_they_are(tmp_path):
    there = tmp_path / "there"
    there.mkdir(mode=0o755)
    there.chmod(0o755)
    for umask in (0o000, 0o022, 0o277):
        old = os.umask(umask)
        try:
            make_private_folder(there / f"u{umask:o}" / "x" / "y")
        finally:
            os.umask(old)
    assert stat.S_IMODE(there.stat().st_mode) == 0o755
    modes = _modes(there)
    assert len(modes) == 9 and modes == dict.fromkeys(modes, 0o700), modes
    make_private_folder(there / "u0" / "x")  # there already: nothing to do
    (tmp_path / "file").write_text("")
    try:
        make_private_folder(tmp_path / "file")
    except FileExistsError:
        pass
    else:
        raise AssertionError("a file where the folder belongs was taken for it")
