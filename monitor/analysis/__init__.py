"""Analysis: per-frame DSP, the streaming analyzer, span measures, the cue windows over the\ncaller's own speaking time and the caller's early-call baseline."""
