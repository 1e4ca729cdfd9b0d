"""Optional dependencies, imported on first use with a clear error when missing."""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import Optional

from ._errors import MissingDependency


def require(module: str, feature: str, package: Optional[str] = None, extra: Optional[str] = None) -> ModuleType:
    """Import ``module`` or raise :class:`MissingDependency` naming the pip install to run."""
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingDependency(package or module, feature, extra) from None


def optional(module: str) -> Optional[ModuleType]:
    """Import ``module`` if it is installed, else return None."""
    try:
        return importlib.import_module(module)
    except ImportError:
        return None
