"""Where background talk is kept as the caller, against the corpus's own record of who spoke when."""

from __future__ import annotations

import numpy as np
import pytest

from tools.background_talk import GatedFrames, label_spans, place_seconds

LABEL = {"turns": [{"speaker": "agent", "start_s": 0.0, "end_s": 2.0},
                   {"speaker": "caller", "start_s": 3.0, "end_s": 6.0,
                    "phrases": [{"start_s": 3.0, "end_s": 4.0}, {"start_s": 5.0, "end_s": 6.0}]},
                   {"speaker": "agent", "start_s": 8.0, "end_s": 9.0}],
         "events": [{"kind": "packet_loss", "start_s": 1.0, "end_s": 1.1},
                    {"kind": "hold", "start_s": 10.0, "end_s": 14.0}]}


def gated(kept_spans: list[tuple[float, float]], speech_spans: list[tuple[float, float]]) -> GatedFrames:
    """15 s of 10 ms frames with the analyzer's speech and the gate's kept speech in the spans given."""
    t = (np.arange(1500) + 0.5) * 0.01
    mask = [np.any([(t >= a) & (t < b) for a, b in spans], axis=0) for spans in (speech_spans, kept_spans)]
    return GatedFrames(t, mask[0], mask[1], mask[1], np.zeros(len(t), dtype=bool))


def test_the_label_gives_turns_phrases_and_holds():
    spans = label_spans(LABEL)
    assert spans["caller_turns"] == [(3.0, 6.0)]
    assert spans["caller_phrases"] == [(3.0, 4.0), (5.0, 6.0)]
    assert spans["agent_turns"] == [(0.0, 2.0), (8.0, 9.0)]
    assert spans["holds"] == [(10.0, 14.0)]


def test_kept_speech_outside_the_callers_phrases_is_placed_where_it_lies():
    # kept: 1 s in the agent's turn, 1 s between turns, 0.6 s inside the caller's turn between its
    # phrases, 2 s over the hold, and the caller's two phrases
    kept = [(0.5, 1.5), (6.5, 7.5), (4.2, 4.8), (11.0, 13.0), (3.0, 4.0), (5.0, 6.0)]
    out = place_seconds(gated(kept, kept), label_spans(LABEL))
    assert out == pytest.approx({"hold": 2.0, "agent": 1.0, "gap": 1.0, "inner": 0.6, "voice": 2.0, "lost": 0.0,
                                 "sounds": 0.0})


def test_the_callers_speech_the_gate_dropped_is_lost():
    out = place_seconds(gated([(3.0, 4.0)], [(3.0, 4.0), (5.0, 6.0)]), label_spans(LABEL))
    assert out["voice"] == pytest.approx(2.0) and out["lost"] == pytest.approx(1.0)


def test_command_line_errors_are_one_line_naming_the_tool(tmp_path, capsys):
    from tools import background_talk as bt
    assert bt.main([str(tmp_path / "nowhere")]) == 2
    assert capsys.readouterr().err == f"background_talk: error: {tmp_path / 'nowhere'}: no such folder\n"
    assert bt.main([str(tmp_path), "--set", "nope=1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("background_talk: error: ") and err.count("\n") == 1
    with pytest.raises(SystemExit):
        bt.main([str(tmp_path), "--split", "everything"])
