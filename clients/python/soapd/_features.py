"""Feature matrices as returned by soapd: values, labels, gradients."""
from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import IO, Any, List, Optional, Sequence, Union

import numpy as np

from ._deps import require


#: Names of the gradient samples: the row, and the structure and atom moved (per atom and per structure).
GRADIENT_SAMPLE_NAMES = ["sample", "structure", "atom"]


@dataclass
class Labels:
    """Names of the label dimensions and one int row per entry (``values``: entries × names)."""

    names: List[str]
    values: np.ndarray

    def __post_init__(self) -> None:
        self.names = [str(n) for n in self.names]
        self.values = np.asarray(self.values, dtype=np.int32).reshape(-1, len(self.names))

    def __len__(self) -> int:
        return self.values.shape[0]

    def column(self, name: str) -> np.ndarray:
        """The values of one label dimension."""
        return self.values[:, self.names.index(name)]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Labels) and self.names == other.names and np.array_equal(self.values, other.values)


@dataclass
class Gradients:
    """Gradients of the rows: ``samples`` (sample, structure, atom) and ``values`` (entries × 3 × columns)."""

    samples: Labels
    values: np.ndarray


@dataclass
class Features:
    """A soapd feature matrix.

    Attributes:
        values: rows × columns.
        samples: row labels, ``(structure, atom)`` per atom or ``(structure)`` per structure.
        properties: column labels (e.g. ``neighbor_type, l, m, n``).
        center_types: atomic number of each row's centre (per-atom rows), else None.
        gradients: position gradients when asked for, else None.
        strain_gradients: strain gradients; the server does not serve them yet, always None.
    """

    values: np.ndarray
    samples: Labels
    properties: Labels
    center_types: Optional[np.ndarray] = None
    gradients: Optional[Gradients] = None
    strain_gradients: Optional[Gradients] = None

    # -- npz ------------------------------------------------------------------
    @classmethod
    def from_npz(cls, source: Union[str, os.PathLike, bytes, IO[bytes]]) -> "Features":
        """Read soapd's npz layout (the server's response, a job result or :meth:`save`)."""
        if isinstance(source, (bytes, bytearray, memoryview)):
            source = io.BytesIO(source)
        with np.load(source, allow_pickle=False) as z:
            files = set(z.files)
            samples = Labels(list(z["sample_names"]), z["samples"])
            properties = Labels(list(z["property_names"]), z["properties"])
            values = np.asarray(z["values"], dtype=np.float64).reshape(len(samples), len(properties))
            center_types = z["center_types"].astype(np.int32) if "center_types" in files else None
            gradients = None
            if "gradient_samples" in files:
                gradients = Gradients(
                    Labels(GRADIENT_SAMPLE_NAMES, z["gradient_samples"]),
                    np.asarray(z["gradient_values"], dtype=np.float64).reshape(-1, 3, len(properties)),
                )
        return cls(values, samples, properties, center_types, gradients)

    @classmethod
    def load(cls, path: Union[str, os.PathLike]) -> "Features":
        """Load features written by :meth:`save`."""
        return cls.from_npz(path)

    def save(self, path: Union[str, os.PathLike, IO[bytes]]) -> None:
        """Write the features as an ``.npz`` archive in soapd's layout (``numpy.load`` reads it)."""
        arrays = {
            "samples": self.samples.values,
            "sample_names": np.array(self.samples.names),
            "properties": self.properties.values,
            "property_names": np.array(self.properties.names),
            "values": self.values,
        }
        if self.center_types is not None:
            arrays["center_types"] = self.center_types
        if self.gradients is not None:
            arrays["gradient_samples"] = self.gradients.samples.values
            arrays["gradient_values"] = self.gradients.values
        np.savez(path, **arrays)

    # -- reassembly -------------------------------------------------------------
    def _shifted(self, structure_offset: int, row_offset: int) -> "Features":
        samples = self.samples.values.copy()
        samples[:, self.samples.names.index("structure")] += structure_offset
        gradients = None
        if self.gradients is not None:
            g = self.gradients.samples.values.copy()
            g[:, 0] += row_offset
            g[:, self.gradients.samples.names.index("structure")] += structure_offset
            gradients = Gradients(Labels(self.gradients.samples.names, g), self.gradients.values)
        return Features(self.values, Labels(self.samples.names, samples), self.properties, self.center_types, gradients)

    @classmethod
    def concatenate(cls, parts: Sequence["Features"], structure_offsets: Sequence[int]) -> "Features":
        """Join batch results in order, renumbering structures (by ``structure_offsets``) and gradient rows."""
        if len(parts) == 1 and structure_offsets[0] == 0:
            return parts[0]
        first = parts[0]
        for p in parts[1:]:
            if p.properties != first.properties or p.samples.names != first.samples.names:
                raise ValueError("batches answered with different columns; cannot join them")
        shifted = []
        rows = 0
        for part, offset in zip(parts, structure_offsets):
            shifted.append(part._shifted(offset, rows))
            rows += len(part.samples)
        center_types = None
        if first.center_types is not None:
            center_types = np.concatenate([p.center_types for p in shifted])
        gradients = None
        if first.gradients is not None:
            gradients = Gradients(
                Labels(first.gradients.samples.names, np.concatenate([p.gradients.samples.values for p in shifted])),
                np.concatenate([p.gradients.values for p in shifted]),
            )
        return cls(
            np.concatenate([p.values for p in shifted]),
            Labels(first.samples.names, np.concatenate([p.samples.values for p in shifted])),
            first.properties,
            center_types,
            gradients,
        )

    # -- metatensor -------------------------------------------------------------
    def to_tensormap(self) -> Any:
        """The features as a one-block ``metatensor.TensorMap`` (key ``_``), gradients as "positions".

        Needs metatensor-core (``pip install soapd[metatensor]``). For featomic's
        per-key blocks use :mod:`soapd.featomic` instead.
        """
        mts = require("metatensor", "Features.to_tensormap()", "metatensor-core", extra="metatensor")
        block = mts.TensorBlock(
            values=np.ascontiguousarray(self.values),
            samples=mts.Labels(self.samples.names, self.samples.values),
            components=[],
            properties=mts.Labels(self.properties.names, self.properties.values),
        )
        if self.gradients is not None:
            block.add_gradient(
                "positions",
                mts.TensorBlock(
                    values=np.ascontiguousarray(self.gradients.values),
                    samples=mts.Labels(self.gradients.samples.names, self.gradients.samples.values),
                    components=[mts.Labels(["xyz"], np.arange(3, dtype=np.int32).reshape(-1, 1))],
                    properties=block.properties,
                ),
            )
        return mts.TensorMap(mts.Labels(["_"], np.zeros((1, 1), dtype=np.int32)), [block])

    def __repr__(self) -> str:
        g = "" if self.gradients is None else f", {len(self.gradients.samples)} gradient entries"
        return f"Features({self.values.shape[0]} rows {self.samples.names} × {self.values.shape[1]} columns {self.properties.names}{g})"
