"""Pieces shared by the bodies of the client's requests: the descriptor object and the npz media type."""
from __future__ import annotations

from typing import Any, Dict, Mapping

#: Media type of soapd's npz feature layout (responses and uploads).
NPZ = "application/x-npz"


def descriptor_object(descriptor: Mapping[str, Any]) -> Dict[str, Any]:
    """A copy of ``descriptor`` for a request body; a TypeError when it is not a dict in the API's form."""
    if not isinstance(descriptor, Mapping):
        raise TypeError(f"descriptor must be a dict in the API's form, not {type(descriptor).__name__}")
    return dict(descriptor)
