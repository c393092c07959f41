"""Vosk's speech library through the binding its package ships, without importing the package.

``import vosk`` runs the package's ``__init__``, which imports, besides the library, what vosk uses
to download models and write subtitles (requests, urllib3, charset_normalizer, idna, certifi,
tqdm, srt): 6 MB of the live daemon's memory, used by nothing here (the monitor never downloads;
research/live_memory). :func:`library` loads the package's generated cffi binding
(``vosk/vosk_cffi.py``) and its library (``libvosk.so``) straight from vosk's installation, as
:mod:`monitor.dsp.scipy_core` loads scipy's compiled cores; :class:`Model` and
:class:`KaldiRecognizer` make the same calls with the same arguments as vosk's classes of those
names, so the words are the same.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import sys
import threading
from functools import lru_cache
from typing import Any, Iterator

_LIBRARY = {"linux": "libvosk.so", "darwin": "libvosk.dyld", "win32": "libvosk.dll"}
"""The library's file in vosk's installation, by ``sys.platform``."""


@lru_cache(maxsize=1)
def library() -> tuple[Any, Any]:
    """(the binding's ``ffi``, the library opened with it); ImportError when vosk is not installed
    or its library is not there."""
    spec = importlib.util.find_spec("vosk")
    if spec is None or not spec.origin:
        raise ImportError("vosk is not installed")
    folder = os.path.dirname(spec.origin)
    module = _binding(folder)
    name = _LIBRARY.get(sys.platform, "libvosk.so")
    if sys.platform == "win32":
        os.add_dll_directory(folder)  # the library's own dependencies lie beside it
    try:
        return module.ffi, module.ffi.dlopen(os.path.join(folder, name))
    except OSError as err:
        raise ImportError(f"{folder}: vosk's library {name} cannot be opened ({err})") from None


def _binding(folder: str) -> Any:
    """vosk's generated cffi binding in ``folder`` (``vosk_cffi.py``), run as a module of its own;
    ImportError, one line, when it is not there or does not run (a broken installation)."""
    path = os.path.join(folder, "vosk_cffi.py")
    binding = importlib.util.spec_from_file_location("monitor_vosk_cffi", path)
    if not os.path.isfile(path) or binding is None or binding.loader is None:
        raise ImportError(f"{folder}: vosk's binding vosk_cffi.py is not there")
    module = importlib.util.module_from_spec(binding)
    try:
        binding.loader.exec_module(module)
    except Exception as err:  # noqa: BLE001 - whatever a broken binding raises: one line
        said = str(err).strip().splitlines()
        raise ImportError(f"{path}: vosk's binding does not load ({said[0] if said else type(err).__name__})") from None
    return module


DITHER_SEED = 1
"""The seed of the random numbers each recognizer's dither starts from (:class:`Dither`)."""

_STATE_BYTES = 128
"""The size of the C library's own state of ``random()`` (glibc's: ``srand`` seeds one of this size),
and so of each recognizer's: the numbers are those ``srand(DITHER_SEED)`` starts."""

_RANDOM = threading.Lock()
"""Held while the C library's random numbers are a recognizer's own (:meth:`Dither.drawn`): they
are one state for the whole process, so only one recognizer at a time may have it. Made afresh in a
child forked while another thread held it."""
os.register_at_fork(after_in_child=_RANDOM._at_fork_reinit)  # type: ignore[attr-defined]


@lru_cache(maxsize=1)
def _c_random() -> Any | None:
    """The C library with ``initstate`` and ``setstate`` typed, where it is glibc, whose ``rand()``
    (which Kaldi draws from) is ``random()``, the generator these two set the state of; None
    elsewhere (``rand()`` is another generator there: :func:`seed_dither` is all that is done)."""
    try:
        libc = ctypes.CDLL(None)
        initstate, setstate, _ = libc.initstate, libc.setstate, libc.gnu_get_libc_version
    except (OSError, AttributeError):
        return None
    initstate.argtypes = [ctypes.c_uint, ctypes.c_void_p, ctypes.c_size_t]
    initstate.restype = ctypes.c_void_p
    setstate.argtypes = [ctypes.c_void_p]
    setstate.restype = ctypes.c_void_p
    return libc


@lru_cache(maxsize=4)
def _seeded(libc: Any, seed: int) -> bytes:
    """A state of ``random()`` seeded with ``seed`` (as ``srand(seed)`` seeds the C library's own),
    made once; each :class:`Dither` starts from a copy, so that making one never waits on a
    recognizer that decodes."""
    state = ctypes.create_string_buffer(_STATE_BYTES)
    with _RANDOM:
        libc.setstate(libc.initstate(seed, state, _STATE_BYTES))
    return state.raw


class Dither:
    """The random numbers one recognizer's dither is drawn from, its own.

    Kaldi dithers each frame's features with noise seeded from the C library's ``rand()`` (a
    ``RandomState`` seeded from it; the models' ``mfcc.conf`` leave dither on), one sequence for
    the whole process. Drawn from that, a recognizer's words depended on how much audio the process
    decoded before it (the second of two recordings replayed together got other words than it
    alone), and two recognizers decoding at once (the agent's leg with the caller's) took each
    other's numbers in whatever order their threads ran. Each recognizer here has a state of its
    own, seeded with :data:`DITHER_SEED` as it starts, and the C library draws from it only while
    that recognizer takes audio (:meth:`drawn`, around ``AcceptWaveform``, where the features are
    computed; making a recognizer, its results and its last utterance's flush draw nothing, so they
    need not wait their turn): a recognizer's words are the same wherever, after whatever and beside
    whatever it decodes. Loading a model draws some too (the network's context is computed with
    them): a model loaded while a recognizer decodes (the daemon's reload during a call) can take
    some of that recognizer's numbers. Where the C library is not glibc, the process's sequence is
    seeded as the recognizer starts (:func:`seed_dither`), as good for one recognizer at a time."""

    def __init__(self, seed: int = DITHER_SEED) -> None:
        self._libc = _c_random()
        if self._libc is None:
            seed_dither(seed)
            return
        self._state = ctypes.create_string_buffer(_seeded(self._libc, seed), _STATE_BYTES)

    @contextlib.contextmanager
    def drawn(self) -> Iterator[None]:
        """The C library's random numbers are this recognizer's within (one recognizer at a time)."""
        if self._libc is None:
            yield
            return
        with _RANDOM:
            before = self._libc.setstate(self._state)
            try:
                yield
            finally:
                self._libc.setstate(before)


def seed_dither(seed: int = DITHER_SEED) -> bool:
    """Seed the C library's ``rand()`` for the whole process (where it is not glibc, whose state a
    :class:`Dither` of a recognizer's own is). False where there is no such C library."""
    try:
        ctypes.CDLL(None).srand(ctypes.c_uint(seed))
    except (OSError, AttributeError):
        return False
    return True


KALDI_ERRORS = -2
"""Kaldi's log level that prints its errors only (a line ``ERROR (VoskAPI:...) Error opening input
stream PATH``): a message is printed when its severity is at most the level, an error's -2, a
warning's -1, a progress line's (``LOG``) 0."""
KALDI_SILENT = -3
"""Kaldi's log level that prints nothing."""


def set_log_level(level: int) -> None:
    """Kaldi's logging, for the whole process: :data:`KALDI_ERRORS`, :data:`KALDI_SILENT`."""
    library()[1].vosk_set_log_level(level)


class Model:
    """A loaded model (``vosk.Model(path)``); Exception("Failed to create a model") as vosk raises."""

    def __init__(self, path: str) -> None:
        ffi, lib = library()
        self._handle = ffi.NULL  # what __del__ sees if the load below is stopped (Ctrl-C)
        self._handle = lib.vosk_model_new(path.encode("utf-8"))
        if self._handle == ffi.NULL:
            raise Exception("Failed to create a model")  # noqa: TRY002 - vosk's own exception, as callers expect

    def __del__(self) -> None:
        handle = getattr(self, "_handle", None)  # none where the library did not load
        if handle is not None:
            ffi, lib = library()
            if handle != ffi.NULL:
                lib.vosk_model_free(handle)


class KaldiRecognizer:
    """A recognizer of ``model`` at ``rate`` Hz (``vosk.KaldiRecognizer(model, rate)``), with the
    methods of vosk's of the monitor uses; its dither is its own (:class:`Dither`)."""

    def __init__(self, model: Model, rate: float) -> None:
        ffi, lib = library()
        self._lib, self._ffi = lib, ffi
        self._handle = ffi.NULL
        self._dither = Dither()
        self._handle = lib.vosk_recognizer_new(model._handle, rate)
        if self._handle == ffi.NULL:
            raise Exception("Failed to create a recognizer")  # noqa: TRY002 - vosk's own exception

    def __del__(self) -> None:
        handle = getattr(self, "_handle", None)  # none where the library did not load
        if handle is not None and handle != self._ffi.NULL:
            self._lib.vosk_recognizer_free(handle)

    def SetWords(self, enable: bool) -> None:  # noqa: N802 - vosk's names
        self._lib.vosk_recognizer_set_words(self._handle, 1 if enable else 0)

    def SetPartialWords(self, enable: bool) -> None:  # noqa: N802
        self._lib.vosk_recognizer_set_partial_words(self._handle, 1 if enable else 0)

    def AcceptWaveform(self, data: bytes) -> int:  # noqa: N802
        with self._dither.drawn():
            res = self._lib.vosk_recognizer_accept_waveform(self._handle, data, len(data))
        if res < 0:
            raise Exception("Failed to process waveform")  # noqa: TRY002 - vosk's own exception
        return int(res)

    def Result(self) -> str:  # noqa: N802
        return self._text(self._lib.vosk_recognizer_result(self._handle))

    def PartialResult(self) -> str:  # noqa: N802
        return self._text(self._lib.vosk_recognizer_partial_result(self._handle))

    def FinalResult(self) -> str:  # noqa: N802
        return self._text(self._lib.vosk_recognizer_final_result(self._handle))

    def _text(self, raw: Any) -> str:
        return self._ffi.string(raw).decode("utf-8")
