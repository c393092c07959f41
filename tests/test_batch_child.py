"""A transcribed batch call is decoded in a process forked from its worker
(:func:`monitor.batch.score._in_forked_child`): what fails there is raised again in the worker as
the same kind of failure, so that the call's row says it as an untranscribed call's does."""

from __future__ import annotations

import pytest

from monitor.batch.inputs import CallJob
from monitor.batch.score import _in_forked_child, run_call
from monitor.capture.audio_files import AudioFileError
from monitor.config import load_config


def test_a_recording_the_forked_process_cannot_read_is_an_audio_file_error_naming_it(tmp_path):
    notes = tmp_path / "notes.wav"
    notes.write_text("not a recording\n", encoding="utf-8")
    cfg = load_config(user_config=False)
    with pytest.raises(AudioFileError) as forked:
        _in_forked_child(run_call, CallJob(str(notes)), cfg)
    with pytest.raises(AudioFileError) as here:
        run_call(CallJob(str(notes)), cfg)
    assert str(forked.value) == str(here.value)
    assert (forked.value.path, forked.value.problem) == (here.value.path, here.value.problem)
    assert str(forked.value).startswith(f"{notes}: ")
