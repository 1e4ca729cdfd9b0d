"""Vector-Jacobian products of the features (``POST /v1/features/vjp``): forces and stress without the Jacobian."""
from __future__ import annotations

import io
import json
import zipfile
from typing import Any, Dict, Mapping, Sequence

import numpy as np

from ._requests import NPZ, descriptor_object
from ._systems import to_structures


class VJPMixin:
    """:meth:`vjp` of :class:`~soapd.Client`."""

    def vjp(
        self,
        systems: Any,
        descriptor: Mapping[str, Any],
        output_gradient: Any,
        per: str = "atom",
        gradients: Sequence[str] = ("positions", "strain"),
    ) -> Dict[str, np.ndarray]:
        """Vector-Jacobian product of the features with ``output_gradient`` (``POST /v1/features/vjp``).

        ``output_gradient`` G is shaped like the features' values (rows x columns, rows per
        atom or per structure as ``per`` says). Returns ``positions`` (atoms x 3,
        sum of G dX/dr per atom, atoms of all structures in order) and/or ``strain``
        (structures x 3 x 3, sum of G dX/deps). For a model E = sum G.X the forces are
        ``-positions`` and the virial ``-strain``. The Jacobian itself never leaves the server.
        """
        if per not in ("atom", "structure"):
            raise ValueError(f"per must be 'atom' or 'structure', not {per!r}")
        G = np.asarray(output_gradient, dtype=np.float64)
        if G.ndim != 2:
            raise ValueError(f"output_gradient must be 2-D (rows x columns), has shape {G.shape}")
        body = {
            "structures": to_structures(systems),
            "descriptor": descriptor_object(descriptor),
            "per": per,
            "gradients": list(gradients),
        }
        # An npz upload: request.json plus G as float64 .npy, no JSON text for the numbers.
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
            archive.writestr("request.json", json.dumps(body, allow_nan=False))
            with archive.open("output_gradient.npy", "w") as member:
                np.save(member, np.ascontiguousarray(G))
        data = self._transport.request(
            "POST", "/v1/features/vjp", buffer.getvalue(), headers={"Content-Type": NPZ}
        ).json()
        out: Dict[str, np.ndarray] = {}
        if "positions" in data:
            out["positions"] = np.asarray(data["positions"]["values"], dtype=np.float64).reshape(-1, 3)
            out["position_samples"] = np.asarray(data["positions"]["samples"]["values"], dtype=np.int32).reshape(-1, 2)
        if "strain" in data:
            out["strain"] = np.asarray(data["strain"]["values"], dtype=np.float64).reshape(-1, 3, 3)
        return out
