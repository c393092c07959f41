"""``python -m monitor``: the ``call-monitor`` command, for a Python whose environment's ``bin/`` is
not on PATH (``~/callmonitor/bin/python -m monitor --version``)."""

import sys

from .cli import main

sys.exit(main())
