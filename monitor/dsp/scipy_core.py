"""scipy's compiled modules loaded on their own, without importing their scipy packages.

Importing ``scipy.fft``, ``scipy.ndimage`` or ``scipy.signal`` costs a good part of a second of
CPU on a small machine (they pull ``scipy.special`` and more in); their compiled cores import
nothing but numpy. :func:`compiled` loads one such core straight from scipy's installation.
"""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
from functools import lru_cache
from types import ModuleType


@lru_cache(maxsize=8)
def compiled(folder: str, name: str, needs: str) -> ModuleType | None:
    """scipy's compiled module ``scipy.<folder>.<name>`` (``folder`` dotted), or None if it is not
    found, fails to load or lacks the attribute ``needs``."""
    spec = importlib.util.find_spec("scipy")
    if spec is None or not spec.origin:
        return None
    qualified = ".".join(("scipy", folder, name))
    path_folder = os.path.join(os.path.dirname(spec.origin), *folder.split("."))
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = os.path.join(path_folder, name + suffix)
        if os.path.isfile(path):
            loader = importlib.machinery.ExtensionFileLoader(qualified, path)
            found = importlib.util.spec_from_file_location(qualified, path, loader=loader)
            if found is None:
                return None
            try:  # an extension module is opened and initialised by module_from_spec already
                module = importlib.util.module_from_spec(found)
                loader.exec_module(module)
            except ImportError:
                return None
            return module if hasattr(module, needs) else None
    return None
