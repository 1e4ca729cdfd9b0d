"""featomic 0.6-compatible calculators computed by soapd.

Switch a featomic script by changing its import::

    from soapd.featomic import SoapPowerSpectrum   # was: from featomic import SoapPowerSpectrum

    calculator = SoapPowerSpectrum(cutoff=..., density=..., basis=...)   # + url= or client=
    descriptor = calculator.compute(systems, gradients=["positions"])  # a metatensor.TensorMap

The TensorMap has featomic's keys, samples, components, properties and
"positions" gradient blocks (names, values and order): soapd's flat feature
matrix (columns ``neighbor_type, l, m, n`` / ``neighbor_type, n`` /
``neighbor_1_type, neighbor_2_type, l, n_1, n_2``) is cut into featomic's
blocks. Like featomic, the atomic types come from the systems, a block
``(center, neighbor)`` holds the centres that have a neighbour of that type
within the cutoff (or are of that type: the central atom's own density), and
gradient samples are, per sample, the centre itself and its neighbours of the
block's types (found with ASE's neighbour list). Needs ``ase`` and
``metatensor-core``.
"""
from __future__ import annotations

import json
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from ._deps import require
from ._systems import to_ase, to_structures
from .client import Client

__all__ = ["SphericalExpansion", "SoapRadialSpectrum", "SoapPowerSpectrum", "hypers_to_json"]


def hypers_to_json(hypers: Mapping[str, Any]) -> Dict[str, Any]:
    """featomic hyper-parameters (dicts or featomic.cutoff/density/basis objects) as JSON-ready dicts.

    featomic's hyper classes convert themselves with ``_featomic_hypers()``, as in
    ``featomic._hypers.hypers_to_json``.
    """
    out: Dict[str, Any] = {}
    for key, value in hypers.items():
        if hasattr(value, "_featomic_hypers"):
            value = value._featomic_hypers()
        if isinstance(value, Mapping):
            value = hypers_to_json(value)
        out[key] = value
    return out


class _Neighbors:
    """Per-row neighbour information of all systems, for featomic's block sparsity."""

    def __init__(self, atoms_list: Sequence[Any], cutoff: float) -> None:
        nl = require("ase.neighborlist", "soapd.featomic", "ase", extra="ase")
        self.types = np.concatenate([a.numbers for a in atoms_list]).astype(np.int32)
        self.system = np.concatenate([np.full(len(a), k, dtype=np.int32) for k, a in enumerate(atoms_list)])
        self.atom = np.concatenate([np.arange(len(a), dtype=np.int32) for a in atoms_list])
        offsets = np.cumsum([0] + [len(a) for a in atoms_list])
        rows, cols = [], []
        for k, atoms in enumerate(atoms_list):
            i, j = nl.neighbor_list("ij", atoms, cutoff, self_interaction=False)
            rows.append(i + offsets[k])
            cols.append(j)
        pairs = np.stack([np.concatenate(rows), np.concatenate(cols)], axis=1).astype(np.int64) if rows else np.zeros((0, 2), np.int64)
        pairs = np.unique(pairs, axis=0)  # images of one neighbour count once
        self.pair_row = pairs[:, 0]
        self.pair_atom = pairs[:, 1].astype(np.int32)
        self.pair_type = self.types[offsets[self.system[self.pair_row]] + self.pair_atom] if len(pairs) else np.zeros(0, np.int32)
        self.species = sorted(set(self.types.tolist()))
        # has[row, type index]: the centre sees density of this type (a neighbour, or itself)
        index = {t: n for n, t in enumerate(self.species)}
        self.has = np.zeros((len(self.types), len(self.species)), dtype=bool)
        if len(pairs):
            self.has[self.pair_row, [index[t] for t in self.pair_type.tolist()]] = True
        self.has[np.arange(len(self.types)), [index[t] for t in self.types.tolist()]] = True
        self.index = index

    def rows(self, center: int, neighbor_types: Sequence[int]) -> np.ndarray:
        """Rows of a block: centres of type ``center`` seeing every type in ``neighbor_types``."""
        mask = self.types == center
        for t in neighbor_types:
            mask &= self.has[:, self.index[t]]
        return np.nonzero(mask)[0]

    def gradient_pairs(self, rows: np.ndarray, neighbor_types: Sequence[int]) -> Tuple[np.ndarray, np.ndarray]:
        """(block sample index, atom) of featomic's gradient samples, sorted: each centre and its neighbours of these types."""
        position = np.full(len(self.types), -1, dtype=np.int64)
        position[rows] = np.arange(len(rows))
        keep = (position[self.pair_row] >= 0) & np.isin(self.pair_type, list(neighbor_types))
        sample = np.concatenate([position[self.pair_row[keep]], np.arange(len(rows))])
        atom = np.concatenate([self.pair_atom[keep], self.atom[rows]])
        pairs = np.unique(np.stack([sample, atom], axis=1), axis=0)
        return pairs[:, 0], pairs[:, 1]


class _Calculator:
    """Shared machinery: hypers, the soapd request, and cutting the answer into featomic's blocks."""

    _descriptor_type = ""
    c_name = ""

    def __init__(
        self,
        *,
        cutoff: Any = None,
        density: Any = None,
        basis: Any = None,
        url: Optional[str] = None,
        client: Optional[Client] = None,
    ) -> None:
        if cutoff is None or density is None or basis is None:
            raise ValueError(f"{type(self).__name__} needs featomic 0.6's `cutoff`, `density` and `basis` hyper-parameters")
        self._hypers = hypers_to_json({"cutoff": cutoff, "density": density, "basis": basis})
        self._client = client if client is not None else Client(url)

    @property
    def name(self) -> str:
        return self.c_name

    @property
    def parameters(self) -> str:
        """The hyper-parameters as featomic's JSON string."""
        return json.dumps(self._hypers)

    @property
    def cutoffs(self) -> List[float]:
        return [float(self._hypers["cutoff"]["radius"])]

    @property
    def client(self) -> Client:
        return self._client

    def compute(
        self,
        systems: Any,
        *,
        gradients: Optional[List[str]] = None,
        use_native_system: bool = True,
        selected_samples: Any = None,
        selected_properties: Any = None,
        selected_keys: Any = None,
    ) -> Any:
        """Compute the representation of ``systems`` as featomic would, returning a ``metatensor.TensorMap``.

        ``gradients``: None, [] or ["positions"]. Strain and cell gradients are not served
        by soapd yet (NotImplementedError), nor are sample/property/key selections.
        ``use_native_system`` is accepted for compatibility and ignored.
        """
        mts = require("metatensor", "soapd.featomic", "metatensor-core", extra="metatensor")
        gradients = list(gradients or [])
        unsupported = [g for g in gradients if g != "positions"]
        if unsupported:
            raise NotImplementedError(
                f"soapd does not compute {unsupported} gradients yet (only 'positions'); use featomic itself for them"
            )
        if selected_samples is not None or selected_properties is not None or selected_keys is not None:
            raise NotImplementedError("selected_samples/selected_properties/selected_keys are not supported by soapd.featomic")
        structures = to_structures(systems)
        atoms_list = [to_ase(s) for s in structures]
        neighbors = _Neighbors(atoms_list, self.cutoffs[0])
        descriptor = {"type": self._descriptor_type, "species": neighbors.species, "hypers": self._hypers}
        features = self._client.features(structures, descriptor, per="atom", gradients=bool(gradients))
        expected = np.stack([neighbors.system, neighbors.atom], axis=1)
        if not np.array_equal(features.samples.values, expected):
            raise RuntimeError("soapd answered rows that are not one per atom in order")

        properties = features.properties
        grad_lookup = None
        if features.gradients is not None:
            gs = features.gradients.samples.values
            width = max((len(a) for a in atoms_list), default=1)
            keys = gs[:, 0].astype(np.int64) * width + gs[:, 2]
            order = np.argsort(keys, kind="stable")
            grad_lookup = (keys[order], order, width)

        blocks, key_values = [], []
        for key, center, neighbor_types, columns, components, prop_labels in self._blocks(neighbors, properties):
            rows = neighbors.rows(center, neighbor_types)
            if len(rows) == 0:
                continue
            shape = tuple(len(c) for _, c in components) + (len(prop_labels[1]),)
            values = features.values[np.ix_(rows, columns)].reshape((len(rows),) + shape)
            comps = [mts.Labels(names, np.asarray(v, dtype=np.int32)) for names, v in components]
            props = mts.Labels(prop_labels[0], np.asarray(prop_labels[1], dtype=np.int32))
            samples = mts.Labels(["system", "atom"], np.stack([neighbors.system[rows], neighbors.atom[rows]], axis=1))
            block = mts.TensorBlock(values=np.ascontiguousarray(values), samples=samples, components=comps, properties=props)
            if grad_lookup is not None:
                sample, atom = neighbors.gradient_pairs(rows, neighbor_types)
                sorted_keys, order, width = grad_lookup
                wanted = rows[sample].astype(np.int64) * width + atom
                where = np.clip(np.searchsorted(sorted_keys, wanted), 0, max(len(sorted_keys) - 1, 0))
                found = (sorted_keys[where] == wanted) if len(sorted_keys) else np.zeros(len(wanted), bool)
                gvalues = np.zeros((len(wanted), 3) + shape)
                source = features.gradients.values[order[where[found]]][:, :, columns]
                gvalues[found] = source.reshape((int(found.sum()), 3) + shape)
                gsamples = mts.Labels(
                    ["sample", "system", "atom"],
                    np.stack([sample, neighbors.system[rows][sample], atom], axis=1).astype(np.int32),
                )
                xyz = mts.Labels(["xyz"], np.arange(3, dtype=np.int32).reshape(-1, 1))
                block.add_gradient(
                    "positions",
                    mts.TensorBlock(values=gvalues, samples=gsamples, components=[xyz] + comps, properties=props),
                )
            blocks.append(block)
            key_values.append(key)
        return mts.TensorMap(mts.Labels(self._key_names, np.asarray(key_values, dtype=np.int32)), blocks)

    # subclasses: yield (key values, center, neighbour types, soapd columns, components, properties)
    _key_names: List[str] = []

    def _blocks(self, neighbors: _Neighbors, properties: Any):  # pragma: no cover - abstract
        raise NotImplementedError


def _columns(properties: Any, fixed: Mapping[str, int], order: Sequence[str]) -> Tuple[np.ndarray, np.ndarray]:
    """Columns whose labels equal ``fixed``, sorted by the labels ``order``; returns (indices, their label rows)."""
    names = properties.names
    values = properties.values
    mask = np.ones(len(values), dtype=bool)
    for name, v in fixed.items():
        mask &= values[:, names.index(name)] == v
    idx = np.nonzero(mask)[0]
    sub = values[idx][:, [names.index(n) for n in order]]
    perm = np.lexsort(sub.T[::-1])
    return idx[perm], sub[perm]


class SphericalExpansion(_Calculator):
    """featomic's ``SphericalExpansion``, computed by soapd (keys o3_lambda, o3_sigma, center_type, neighbor_type)."""

    _descriptor_type = "spherical_expansion"
    c_name = "spherical_expansion"
    _key_names = ["o3_lambda", "o3_sigma", "center_type", "neighbor_type"]

    def _blocks(self, neighbors: _Neighbors, properties: Any):
        max_angular = int(self._hypers["basis"]["max_angular"])
        for c in neighbors.species:
            for a in neighbors.species:
                for l in range(max_angular + 1):
                    cols, labels = _columns(properties, {"neighbor_type": a, "l": l}, ["m", "n"])
                    ns = np.unique(labels[:, 1])
                    ms = np.arange(-l, l + 1)
                    yield ([l, 1, c, a], c, [a], cols, [(["o3_mu"], ms.reshape(-1, 1))], (["n"], ns.reshape(-1, 1)))


class SoapRadialSpectrum(_Calculator):
    """featomic's ``SoapRadialSpectrum``, computed by soapd (keys center_type, neighbor_type)."""

    _descriptor_type = "radial_spectrum"
    c_name = "soap_radial_spectrum"
    _key_names = ["center_type", "neighbor_type"]

    def _blocks(self, neighbors: _Neighbors, properties: Any):
        for c in neighbors.species:
            for a in neighbors.species:
                cols, labels = _columns(properties, {"neighbor_type": a}, ["n"])
                yield ([c, a], c, [a], cols, [], (["n"], labels))


class SoapPowerSpectrum(_Calculator):
    """featomic's ``SoapPowerSpectrum``, computed by soapd (keys center_type, neighbor_1_type, neighbor_2_type)."""

    _descriptor_type = "power_spectrum"
    c_name = "soap_power_spectrum"
    _key_names = ["center_type", "neighbor_1_type", "neighbor_2_type"]

    def _blocks(self, neighbors: _Neighbors, properties: Any):
        for c in neighbors.species:
            for i, a in enumerate(neighbors.species):
                for b in neighbors.species[i:]:
                    cols, labels = _columns(properties, {"neighbor_1_type": a, "neighbor_2_type": b}, ["l", "n_1", "n_2"])
                    yield ([c, a, b], c, [a, b], cols, [], (["l", "n_1", "n_2"], labels))
