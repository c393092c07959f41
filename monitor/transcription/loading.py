"""The live daemon's speech model, loaded in the background while the daemon already monitors.

The daemon listens at once (capture, acoustic analysis and alerts) and transcription joins when
its model is ready: :class:`ModelLoading` loads the model the start found
(:meth:`~monitor.transcription.setup.TranscriptionSetup.find`) first in a short-lived child
process (the crash guard of :func:`~monitor.transcription.vosk_models.check_loads`: a crash in
Vosk's load ends that process, not the daemon), then in the daemon's own process, both from a
thread of its own. The daemon's capture loop takes the outcome (:meth:`ModelLoading.outcome`) once
it is there: the setup to transcribe with, or the one warning line saying why there is none.
Nothing here touches the daemon's state, so a reload meanwhile has nothing to race with.
"""

from __future__ import annotations

import threading
import time

from ..config import Config
from ..stops import stops_blocked
from .setup import TranscriptionSetup
from .vosk_models import ChildLoad, ModelError, ModelInfo


def off_message(err: ModelError) -> str:
    """The daemon's one warning line for a speech model it cannot use (its problem, naming where
    it was asked for: :meth:`TranscriptionSetup.named_problems`): it monitors acoustic-only."""
    return f"transcription off: {err}; running acoustic-only until a start loads a model"


class ModelLoading:
    """The speech model ``info`` (what ``model``, ``--model``, or else ``cfg`` asks for) loading
    for the live daemon: :meth:`start` forks the crash guard's child (in the calling thread, with
    Ctrl-C and SIGTERM blocked across the fork, as the start has always forked it) and starts the
    thread that waits for it and then loads the model in this process.

    :attr:`done` once the outcome is there (:meth:`outcome`). :meth:`cancel` (the daemon's stop,
    a start that fails) kills the child while it loads and drops what the thread still makes; the
    thread is a daemon thread, so a load in this process, which cannot be stopped, never keeps the
    process from exiting."""

    def __init__(self, cfg: Config, info: ModelInfo, model: str | None = None) -> None:
        self.cfg = cfg
        self.info = info
        self.model = model
        self.started_at: float | None = None
        self._child: ChildLoad | None = None
        self._cancelled = threading.Event()
        self._done = threading.Event()
        self._setup: TranscriptionSetup | None = None
        self._off: str | None = None
        self.took_s: float | None = None

    def start(self) -> "ModelLoading":
        self.started_at = started_at = time.monotonic()
        child = stops_blocked(self._forked)  # the child ignores them; one meanwhile is raised with it in hand
        threading.Thread(target=self._load, args=(child, started_at), name="speech-model", daemon=True).start()
        return self

    def _forked(self) -> ChildLoad:
        """The child that loads the model, forked, and kept before it is handed back: a stop raised
        as Ctrl-C and SIGTERM are unblocked finds it kept, to be ended."""
        self._child = child = ChildLoad(self.info)
        return child

    def _load(self, child: ChildLoad, started_at: float) -> None:
        try:
            with TranscriptionSetup.named_problems(self.cfg, self.model):
                child.outcome()
                if not self._cancelled.is_set():
                    self._setup = TranscriptionSetup.load(self.cfg, self.info, live=True, checked=True)
        except ModelError as err:
            self._off = off_message(err)
        except Exception as err:  # noqa: BLE001 - whatever else stops the load: one line, acoustic-only
            self._off = off_message(ModelError(f"{self.info.path}: {err}"))
        finally:
            self.took_s = time.monotonic() - started_at
            self._done.set()

    @property
    def done(self) -> bool:
        """Whether :meth:`outcome` is there (never once cancelled)."""
        return self._done.is_set() and not self._cancelled.is_set()

    def outcome(self) -> tuple[TranscriptionSetup | None, str | None]:
        """(the loaded setup, None), or (None, the warning line of the model's problem), once
        :attr:`done`."""
        return self._setup, self._off

    def cancel(self) -> None:
        """Kill the crash guard's child if it still loads; the outcome is dropped."""
        self._cancelled.set()
        if self._child is not None:
            self._child.end()
