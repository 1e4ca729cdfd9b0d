"""Fitted optimal radial bases: :class:`Basis` (its eigenvalues and radial functions) and the
client's operations fitting, fetching and sharing them."""
from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Tuple, Union

import numpy as np

from ._deps import require
from ._systems import to_structures
from .dataset import Dataset

if TYPE_CHECKING:  # pragma: no cover
    from .client import Client


class BasesMixin:
    """Basis operations of :class:`~soapd.Client`."""

    def fit_basis(
        self,
        dataset: Union["Dataset", str],
        method: str = "pca",
        contraction: str = "mixed",
        q_max: Optional[int] = None,
        residual_variance: Optional[float] = None,
        gamma: Optional[float] = None,
        center_specific: bool = False,
        multispectrum: Optional[Mapping[str, Any]] = None,
    ) -> "Basis":
        """Fit an optimal radial basis from a dataset (``POST /v1/bases``); give ``q_max`` or ``residual_variance``."""
        body: Dict[str, Any] = {
            "dataset_id": dataset.id if isinstance(dataset, Dataset) else str(dataset),
            "method": method,
            "contraction": contraction,
            "center_specific": bool(center_specific),
        }
        for key, value in (("q_max", q_max), ("residual_variance", residual_variance), ("gamma", gamma)):
            if value is not None:
                body[key] = value
        if multispectrum is not None:
            ms = dict(multispectrum)
            if "structures" in ms:
                ms["structures"] = to_structures(ms["structures"])
            body["multispectrum"] = ms
        basis = Basis(self, self._transport.json("POST", "/v1/bases", body))
        if self._replicas:
            self.share_basis(basis.id)
        return basis

    def share_basis(self, basis: Union["Basis", str]) -> None:
        """Make a basis stored on the first replica known to every replica (``PUT /v1/bases/{id}``).

        Replicas configured with ``peers`` also fetch an unknown basis themselves; this makes it
        independent of that. A no-op for a single server.
        """
        if self._replicas:
            self._replicas.share_basis(basis.id if isinstance(basis, Basis) else str(basis))

    def basis(self, id: str) -> "Basis":
        """A fitted basis by id (``GET /v1/bases/{id}``)."""
        return Basis(self, self._transport.json("GET", f"/v1/bases/{id}"))

    def bases(self, limit: int = 100, offset: int = 0) -> List["Basis"]:
        """Fitted bases, newest first."""
        data = self._transport.json("GET", "/v1/bases", params={"limit": limit, "offset": offset})
        return [Basis(self, b) for b in data["bases"]]


class Basis:
    """A fitted optimal radial basis.

    Attributes:
        id, hypers, species, options, q_max: as the server describes the basis.
        eigenvalues: per l, the covariance eigenvalues (descending), as arrays.
        residual_variance: per l, the residual variance after keeping 1, 2, … functions.
        projections: per l, the contraction matrix U (row-major, as served), when served.
    """

    #: Radii at which :meth:`radial_functions` asks the server to tabulate R(r) (its maximum).
    GRID_POINTS = 2000

    def __init__(self, client: Client, data: Dict[str, Any]) -> None:
        self.client = client
        self.data = data
        self.id: str = data["id"]
        self.hypers: Dict[str, Any] = data.get("hypers", {})
        self.species: List[int] = list(data.get("species", []))
        self.options: Dict[str, Any] = data.get("options", {})
        self.q_max: Optional[int] = data.get("q_max")
        self.eigenvalues = [np.asarray(e, dtype=float) for e in data.get("eigenvalues", [])]
        self.residual_variance = [np.asarray(e, dtype=float) for e in data.get("residual_variance", [])]
        self.projections = [np.asarray(p, dtype=float) for p in data["projections"]] if "projections" in data else None
        self._tables: Dict[int, Tuple[np.ndarray, np.ndarray, List[str]]] = {}

    def __repr__(self) -> str:
        return f"soapd.Basis({self.id!r}, q_max={self.q_max}, options={self.options})"

    @property
    def cutoff(self) -> float:
        return float(self.hypers["cutoff"]["radius"])

    def _table(self, points: int) -> Tuple[np.ndarray, np.ndarray, List[str]]:
        if points not in self._tables:
            data = self.client._transport.json("GET", f"/v1/bases/{self.id}", params={"radial_functions": points})
            rf = data["radial_functions"]
            r = np.asarray(rf["r"], dtype=float)
            names = re.findall(r"\[(\w+)\]", rf.get("layout", "[species][l][q][r]"))
            values = np.asarray(rf["values"], dtype=float)
            sizes = [len(r) if n == "r" else -1 if n == "q" else None for n in names]
            for i, n in enumerate(names):
                if sizes[i] is None:
                    sizes[i] = (int(self.hypers["basis"]["max_angular"]) + 1) if n == "l" else len(self.species)
            self._tables[points] = (r, values.reshape(sizes), names)
        return self._tables[points]

    def radial_layout(self) -> List[str]:
        """Names of the axes of :meth:`radial_functions`'s result (the server's layout, e.g. species, l, q, r)."""
        return self._table(2)[2]

    def radial_functions(self, r: Any) -> np.ndarray:
        """The fitted radial functions R_aql(r) at radii ``r`` (0 ≤ r ≤ cutoff), last axis r.

        When ``r`` is the server's own grid (``n`` equally spaced radii from 0 to the
        cutoff, 2 ≤ n ≤ 2000) the server's values are returned exactly; otherwise they
        are linearly interpolated on the server's 2000-point grid (spacing cutoff/1999).
        The other axes follow :meth:`radial_layout` (``[species][l][q]`` for a shared basis).
        """
        r = np.asarray(r, dtype=float)
        flat = r.ravel()
        rc = self.cutoff
        if flat.size and (flat.min() < 0 or flat.max() > rc * (1 + 1e-12)):
            raise ValueError(f"radial functions are tabulated for 0 <= r <= cutoff ({rc}); got [{flat.min()}, {flat.max()}]")
        n = flat.size
        if 2 <= n <= self.GRID_POINTS and np.allclose(flat, np.linspace(0.0, rc, n), rtol=0, atol=1e-12 * rc):
            grid, values, _ = self._table(n)
            return values.reshape(values.shape[:-1] + r.shape)
        grid, values, _ = self._table(self.GRID_POINTS)
        lead = values.shape[:-1]
        table = values.reshape(-1, grid.size)
        out = np.stack([np.interp(flat, grid, row) for row in table])
        return out.reshape(lead + r.shape)

    def plot(self, points: int = 200, ax: Any = None) -> Any:
        """Plot R_aql(r) for every l (one panel per l) with matplotlib; returns the figure."""
        plt = require("matplotlib.pyplot", "Basis.plot()", "matplotlib", extra="matplotlib")
        r = np.linspace(0.0, self.cutoff, points)
        values = self.radial_functions(r)
        names = self.radial_layout()
        values = np.moveaxis(values, names.index("l"), 0) if "l" in names else values[None]
        nl = values.shape[0]
        if ax is None:
            fig, axes = plt.subplots(1, nl, figsize=(3.2 * nl, 3), squeeze=False, sharey=True)
            axes = axes[0]
        else:
            axes = np.atleast_1d(ax)
            fig = axes[0].figure
        for l, axis in enumerate(axes[:nl]):
            curves = values[l].reshape(-1, r.size)
            for curve in curves:
                axis.plot(r, curve, lw=1)
            axis.set_title(f"l = {l}")
            axis.set_xlabel("r (Å)")
        axes[0].set_ylabel("R(r)")
        fig.suptitle(f"basis {self.id[:12]}…")
        return fig
