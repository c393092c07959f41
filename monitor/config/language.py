"""Language codes as Vosk names its models (``ko``, ``en-us``, ``ar-tn``): what
``transcription.language`` and ``--model`` may give as a language."""

from __future__ import annotations

import re

LANGUAGE_PATTERN = r"[a-z]{2,3}(?:-[a-z]{2})?"
"""A language code as Vosk names its models, in lower case: ``ko``, ``en-us``, ``ar-tn``."""
_LANGUAGE_RE = re.compile(f"^{LANGUAGE_PATTERN}$")


def is_language_code(text: str) -> bool:
    """Whether ``text`` is written as a language code of Vosk's models (``en-us``, ``KO``): what a
    language lookup may find a model for."""
    return _LANGUAGE_RE.match(text.strip().lower()) is not None


def language_problem(text: str) -> str | None:
    """What is wrong with ``text`` as the language of the calls (None: nothing): empty, or not
    written as a language code, so that no model could ever be found for it."""
    if not text.strip():
        return "an empty language code"
    if not is_language_code(text):
        return f"{text!r} is not a language code"
    return None
