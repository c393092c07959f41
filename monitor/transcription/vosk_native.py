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

import importlib.util
import os
import sys
from functools import lru_cache
from typing import Any

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
"""The C library's random seed each recognizer starts from (:func:`seed_dither`)."""


def seed_dither(seed: int = DITHER_SEED) -> bool:
    """Seed the C library's ``rand()``, which Kaldi's feature extraction draws each frame's dither
    noise from (a ``RandomState`` seeded from ``rand()``; the models' ``mfcc.conf`` leave dither on).
    Unseeded, a recognizer's words depend on how much audio the process decoded before it (the
    second of two recordings replayed together got other words than it alone: utterances joined,
    words changed), so a call's words, and a distress phrase heard in them, depended on the calls a
    batch's worker or the daemon had transcribed before. Seeded as each recognizer starts, a call
    decoded by one recognizer at a time gets the same words wherever and after whatever it is
    decoded. False where there is no such C library (nothing is done)."""
    import ctypes

    try:
        ctypes.CDLL(None).srand(ctypes.c_uint(seed))
    except (OSError, AttributeError):
        return False
    return True


def set_log_level(level: int) -> None:
    """Kaldi's logging: -1 and below, errors only."""
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
    methods of vosk's of the monitor uses."""

    def __init__(self, model: Model, rate: float) -> None:
        ffi, lib = library()
        self._lib, self._ffi = lib, ffi
        self._handle = ffi.NULL
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
