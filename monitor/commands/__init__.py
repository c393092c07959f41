"""One module per ``call-monitor`` subcommand: ``add_parser(subparsers)`` and ``run(args) -> int``.

The rule that keeps every command quick to start (``call-monitor --help`` builds
all the parsers, so one heavy module slows it; a command given by its name imports
its own module alone and builds its own parser):

* at module level, a command imports only the standard library, ``..console``, ``..stops``
  and ``.common``'s option helpers (``add_config_options``, ``add_call_options``,
  ``add_transcription_options``): its parser can be built without its implementation;
* everything else (numpy, scipy, soundfile, sounddevice, vosk, matplotlib, dask,
  starlette/uvicorn, and the monitor modules that import them: analyzer, pipeline,
  store, transcription, report, ...) is imported inside ``run`` or the helpers it
  calls; type annotations of such objects go under ``if TYPE_CHECKING:``;
* ``.common`` hands out ``ConfigError``, ``ModelError`` and ``StoreError`` lazily
  (``from .common import StoreError`` inside ``run`` imports the store only then).

tests/test_startup.py checks it in a fresh interpreter: building every parser, and
running the commands that analyse no audio, import neither numpy nor scipy, vosk or
matplotlib. A new command is added to ``monitor.cli.COMMANDS`` and to that test's list.
"""
