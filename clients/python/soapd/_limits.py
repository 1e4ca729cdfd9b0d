"""The server's per-request limits: :class:`ServerLimits` and their discovery from ``GET /v1/info``."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Optional

from ._errors import SoapdError


@dataclass
class ServerLimits:
    """Per-request limits of the server (from ``GET /v1/info``, or soapd's defaults when it has none)."""

    max_structures: int = 100_000
    max_atoms_per_structure: int = 100_000
    max_atoms_total: int = 1_000_000
    max_body_bytes: int = 64 * 1024 * 1024
    max_output_values: int = 400_000_000
    max_gradient_values: int = 400_000_000
    version: Optional[str] = None
    from_server: bool = False
    extra: Dict[str, Any] = field(default_factory=dict)


class LimitsMixin:
    """:meth:`limits` of :class:`~soapd.Client` (uses ``_transport``; caches in ``_limits``)."""

    def limits(self, refresh: bool = False) -> ServerLimits:
        """The server's per-request limits from ``GET /v1/info``; soapd's defaults when the route is absent (404)."""
        if self._limits is None or refresh:
            try:
                info = self._transport.json("GET", "/v1/info")
            except SoapdError as exc:
                if exc.status not in (404, 405):
                    raise
                self._limits = ServerLimits()
            else:
                known = set(ServerLimits.__dataclass_fields__) - {"version", "from_server", "extra"}
                raw = dict(info.get("limits") or {})
                self._limits = ServerLimits(
                    **{k: int(raw[k]) for k in known if isinstance(raw.get(k), (int, float))},
                    version=info.get("version"), from_server=True,
                    extra={k: v for k, v in raw.items() if k not in known},
                )
        return self._limits
