"""Progress bars through tqdm, when it is installed."""
from __future__ import annotations

from typing import Any, Optional

from ._deps import optional


class _NoBar:
    n = 0

    def update(self, n: int = 1) -> None:
        self.n += n

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        pass

    def close(self) -> None:
        pass


def progress_bar(enabled: bool, total: Optional[int], desc: str, unit: str = "structure") -> Any:
    """A tqdm bar when ``enabled`` and tqdm is installed, else an object with the same methods doing nothing."""
    if enabled:
        tqdm = optional("tqdm.auto")
        if tqdm is not None:
            return tqdm.tqdm(total=total, desc=desc, unit=unit)
    return _NoBar()
