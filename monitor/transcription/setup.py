"""From configuration to transcribers: model resolution, loading once, one recognizer per leg and call."""

from __future__ import annotations

import contextlib
import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, ClassVar, Iterator

from ..config import Config, base_language
from .vosk_models import (ModelError, ModelInfo, ModelNotInstalled, asked_model, check_loads, check_model_dir,
                          load_model, no_model_message, not_installed_message, resolve_model)
from .phrases import SCRIPTS, PhraseMatcher, unwritten

if TYPE_CHECKING:
    from .recognizer import FlushesLeft


def matcher_for(cfg: Config, language: str | None = None) -> PhraseMatcher | None:
    """The distress-phrase matcher the configuration gives for ``language`` (default: the
    transcription language); None when that language has no list."""
    language = (language or cfg.phrases.language or cfg.transcription.language or "").lower()
    phrases = cfg.phrases.for_language(language)
    if not phrases:
        return None
    return PhraseMatcher(phrases, cfg.phrases.tolerance, language=base_language(language))


def _no_flushes_left() -> FlushesLeft:
    """A new count of the flushes given up on, for a setup made with a loaded model: the recognizer's
    module (numpy's) imported only then, not by a command that finds and checks a model without
    transcribing (install-service)."""
    from .recognizer import FlushesLeft
    return FlushesLeft()


@dataclass(frozen=True)
class TranscriptionSetup:
    """A loaded Vosk model and the distress-phrase matcher for its language."""

    info: ModelInfo
    model: Any
    matcher: PhraseMatcher | None
    language: str
    live: bool = False
    agent: bool = False  # transcribe the agent's leg too (transcription.agent)
    renew_s: float = 0.0  # transcription.renew_s: a new recognizer within a call after this much speech, live and
    # replayed alike
    flushes_left: FlushesLeft = dataclasses.field(default_factory=_no_flushes_left, compare=False)
    """The flushes given up on still running, of every call's recognizers (kept by a reload's :meth:`with_phrases`)."""

    NOTES_KEYS: ClassVar[tuple[str, ...]] = ("transcription.language", "phrases.language", "phrases.phrases")
    """The configuration's keys :meth:`notes` reads (with the model): a reload that changes one of
    them says the notes again (the daemon's reload)."""

    @classmethod
    def create(cls, cfg: Config, model: str | None = None, *, live: bool = False) -> "TranscriptionSetup | None":
        """Resolve and load the model; ``None`` (acoustic-only) when the configuration's is not found
        (:meth:`find`: one ``--model`` asks for raises).

        ``model`` (``--model``) is a folder, a language code or a model's name; else the config's
        ``transcription.model``, else ``transcription.language``. A folder that is
        not a Vosk model raises :class:`monitor.transcription.vosk_models.ModelError` naming it.
        """
        info = cls.find(cfg, model)
        return None if info is None else cls.load(cfg, info, live=live)

    @classmethod
    def load(cls, cfg: Config, info: ModelInfo, *, live: bool = False, checked: bool = False) -> "TranscriptionSetup":
        """Load the model :meth:`find` found (raises :class:`monitor.transcription.vosk_models.ModelError`);
        ``checked``: a recognizer was started with it already (the crash guard's child), none is here."""
        language = cls.language_of(cfg, info)
        return cls(info=info, model=load_model(info, start_recognizer=not checked), matcher=matcher_for(cfg, language), language=language,
                   live=live, agent=cfg.transcription.agent, renew_s=cfg.transcription.renew_s)

    def with_phrases(self, cfg: Config) -> "TranscriptionSetup":
        """This setup (the same loaded model) with the distress phrases ``cfg`` lists (a reload's
        ``[phrases]``: language, tolerance and lists)."""
        language = self.language_of(cfg, self.info)
        return dataclasses.replace(self, matcher=matcher_for(cfg, language), language=language)

    @staticmethod
    def language_of(cfg: Config, info: ModelInfo) -> str:
        """The language transcribed with ``info``, whose distress phrases are spotted: the model's
        (from its name), else ``transcription.language``; ``phrases.language`` names the list."""
        return (cfg.phrases.language or info.language or cfg.transcription.language or "").lower()

    @staticmethod
    def notes(cfg: Config, info: ModelInfo) -> list[str]:
        """What to know about transcribing with ``info``, one line each: a model folder of another
        language than ``transcription.language`` (its own is transcribed), and a phrase list that
        cannot match the model's words: none for the language (none is spotted; the languages the
        configuration has lists for named), or the list ``phrases.language`` picks in another
        language than the model's."""
        notes = []
        configured = (cfg.transcription.language or "").lower()
        if info.source == "explicit" and info.language and configured \
                and base_language(info.language) != base_language(configured):
            notes.append(f"{info.path} is a '{info.language}' model, while transcription.language is "
                         f"'{configured}': the calls are transcribed as '{info.language}'")
        language = TranscriptionSetup.language_of(cfg, info)
        heard = (info.language or "").lower()
        if matcher_for(cfg, language) is None:
            listed = sorted(lang for lang, phrases in cfg.phrases.phrases.items() if phrases)
            others = f" (it lists them for {', '.join(repr(lang) for lang in listed)} only)" if listed else ""
            base = base_language(language) or "en"
            notes.append(f"no distress phrases for '{language}' in the configuration{others}: words are "
                         f"transcribed, but no distress_phrase alert is raised; list phrases in "
                         f"'{base}' ([phrases] {base} = [...] in the configuration file)")
        elif heard and base_language(heard) != base_language(language):
            base = base_language(heard)
            notes.append(f"the distress phrases are the '{language}' list (phrases.language = "
                         f"'{cfg.phrases.language}'), while the model transcribes '{heard}': none can match its "
                         f"words, and no distress_phrase alert is raised; list phrases in '{base}' "
                         f"([phrases] {base} = [...] in the configuration file) and set phrases.language "
                         "= \"\" (the model's language)")
        else:
            notes.extend(TranscriptionSetup._unwritten_note(cfg, language, heard or language))
        return notes

    @staticmethod
    def _unwritten_note(cfg: Config, language: str, heard: str) -> list[str]:
        """The line naming the phrases of ``language``'s list written in no letter of the script the
        model (of ``heard``) writes (``help me`` in the Korean list), which are never found; none
        when there is none."""
        foreign = unwritten(cfg.phrases.for_language(language), heard)
        if not foreign:
            return []
        script = SCRIPTS[base_language(heard)][0]
        named = ", ".join(repr(p) for p in foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        return [f"{len(foreign)} of the '{language}' distress phrases hold no {script} letters ({named}): the "
                f"'{heard}' model writes what a caller says in {script}, so they are hardly ever found; write them "
                f"in {script}"]

    @staticmethod
    def notes_over(cfg: Config, info: ModelInfo) -> str:
        """The one line saying that :meth:`notes` has nothing more to say for ``cfg`` (a reload that
        fixed what an earlier configuration was warned of): the list spotted and the model's language."""
        language = TranscriptionSetup.language_of(cfg, info)
        count = len(cfg.phrases.for_language(language))
        heard = (info.language or language).lower()
        return (f"the transcription's warnings no longer apply: the '{language}' distress phrases ({count}) are "
                f"spotted in the words the model transcribes ('{heard}')")

    @staticmethod
    def find(cfg: Config, model: str | None = None) -> ModelInfo | None:
        """The model :meth:`create` would load, its folder checked as :func:`load_model` checks it,
        without loading it; ``None`` when none is found. A command says what a model folder lacks
        (one found by its name too, half unpacked) before it makes anything: raises
        :class:`monitor.transcription.vosk_models.ModelError` for a folder that is no Vosk model.

        A model asked for with ``--model`` (``model``) and not found raises
        :class:`monitor.transcription.vosk_models.ModelNotInstalled` naming it and how to get it
        (``None`` is for the configuration's choice): a command on a recording stops on it, the
        daemon goes on acoustic-only saying so."""
        folder, language = TranscriptionSetup.asked(cfg, model)
        info = resolve_model(folder, language)
        if info is None and model:
            raise ModelNotInstalled(not_installed_message(model, language))
        if info is not None:
            check_model_dir(info.path)
        return info

    @staticmethod
    def loadable(cfg: Config, model: str | None = None, *,
                 on_load: Callable[[ModelInfo], None] = lambda info: None) -> ModelInfo | None:
        """The model :meth:`find` finds, loaded once in a short-lived process of its own
        (:func:`~monitor.transcription.vosk_models.check_loads`, a few seconds: a crash in Vosk's
        load ends that process only), ``on_load`` called first; ``None`` when none is found for the
        configuration's choice. Raises :class:`~monitor.transcription.vosk_models.ModelError` in
        one line naming where the model was asked for (:meth:`named_problems`); or
        :class:`~monitor.transcription.vosk_models.ModelNotInstalled` for a model asked for by its
        name or language that is not installed."""
        with TranscriptionSetup.named_problems(cfg, model):
            info = TranscriptionSetup.find(cfg, model)
            if info is not None:
                on_load(info)
                check_loads(info)
        return info

    @staticmethod
    @contextlib.contextmanager
    def named_problems(cfg: Config, model: str | None = None) -> Iterator[None]:
        """A :class:`~monitor.transcription.vosk_models.ModelError` of the model ``--model``
        (``model``) or the configuration asks for, raised inside the block, raised again in one
        line naming where it was asked for (``--model``, ``transcription.model``,
        ``transcription.language 'ko'``), the folder and its problem: no such folder, no model,
        one Vosk cannot load. :class:`~monitor.transcription.vosk_models.ModelNotInstalled` says
        what was asked for already and passes as it is."""
        folder, language = TranscriptionSetup.asked(cfg, model)  # its error names the key already
        try:
            yield
        except ModelNotInstalled:
            raise
        except ModelError as err:
            if not folder:  # the folder the language code found
                key = "--model" if model else "transcription.model" if cfg.transcription.model \
                    else "transcription.language"
                raise ModelError(f"{key} '{language}': {err}") from None
            raise ModelError(f"--model {err}" if model else f"transcription.model: {err}") from None

    @staticmethod
    def asked(cfg: Config, model: str | None = None) -> tuple[str | None, str]:
        """(model folder or None, language code) that ``--model`` or else the configuration asks for
        (:func:`asked_model`: raises :class:`monitor.transcription.vosk_models.ModelError` for what
        is neither a folder, nor a language code, nor a model's name)."""
        what = "--model" if model else "transcription.model"
        return asked_model(model or cfg.transcription.model or "", cfg.transcription.language, what=what)

    @staticmethod
    def missing_message(cfg: Config, model: str | None = None) -> str:
        """The one line said when no model is found for the language asked for."""
        return no_model_message(TranscriptionSetup.asked(cfg, model)[1])

    def model_line(self) -> str:
        """The model in words: ``the Vosk model at PATH (LANGUAGE; found as SOURCE)``."""
        info = self.info
        return f"the Vosk model at {info.path} ({info.language or self.language or 'language unknown'}; found as {info.source})"

    def transcribed_legs(self, legs: tuple[str, ...]) -> tuple[str, ...]:
        """The legs that get a recognizer: the caller's (the only words a rule reads), and the
        agent's as well when ``transcription.agent`` asks for it."""
        return tuple(leg for leg in legs if leg != "agent" or self.agent)

    def for_call(self, rate: int, legs: tuple[str, ...]) -> dict[str, Any]:
        """Keyword arguments for :class:`monitor.pipeline.CallPipeline`: a transcriber per
        transcribed leg (:meth:`transcribed_legs`), all sharing the one loaded model.

        Replay never drops audio and keeps the recognizer in step with the
        cue windows (so its pace is the recognizer's); the live daemon drops the
        oldest audio rather than fall behind, and never waits for words. Both renew a
        recognizer after ``renew_s`` of speech (its memory grows with the audio it decoded):
        at utterance ends the audio decides, so a replay renews at the same points each time.
        """
        from .recognizer import Transcriber
        transcribers = {leg: Transcriber(self.model, leg, rate, model_rate=self.info.sample_rate,
                                         on_full="drop" if self.live else "block",
                                         renew_s=self.renew_s, flushes_left=self.flushes_left)
                        for leg in self.transcribed_legs(legs)}
        return {"transcribers": transcribers, "phrase_matcher": self.matcher, "words_in_step": not self.live}
