"""Conversion of user systems (ASE, pymatgen, dicts) into the API's structure objects."""
from __future__ import annotations

import sys
from typing import Any, Dict, List

import numpy as np

Structure = Dict[str, Any]

_DICT_KEYS = {"numbers", "symbols", "positions", "cell", "pbc"}


def _is_ase_atoms(obj: Any) -> bool:
    ase = sys.modules.get("ase")
    return ase is not None and isinstance(obj, ase.Atoms)


def _is_pymatgen(obj: Any) -> bool:
    if "pymatgen.core" not in sys.modules:
        return False
    from pymatgen.core import IMolecule, IStructure

    return isinstance(obj, (IStructure, IMolecule))


def is_single_system(obj: Any) -> bool:
    """True when ``obj`` is one system (not a list of systems)."""
    return isinstance(obj, dict) or _is_ase_atoms(obj) or _is_pymatgen(obj)


def as_system_list(systems: Any) -> List[Any]:
    """One system or an iterable of systems, as a list."""
    if is_single_system(systems):
        return [systems]
    if isinstance(systems, (str, bytes)):
        raise TypeError(f"soapd cannot featurize a {type(systems).__name__}: pass systems, not file names")
    try:
        return list(systems)
    except TypeError:
        return [systems]  # to_structure names its type


def _from_ase(atoms: Any) -> Structure:
    pbc = [bool(p) for p in atoms.pbc]
    out: Structure = {"numbers": atoms.numbers.tolist(), "positions": np.asarray(atoms.positions, dtype=float).tolist()}
    if any(pbc):
        out["cell"] = np.asarray(atoms.cell, dtype=float).tolist()
        out["pbc"] = pbc
    return out


def _from_pymatgen(obj: Any) -> Structure:
    if not obj.is_ordered:
        raise ValueError("soapd cannot featurize a disordered pymatgen structure (partial occupancies)")
    numbers = [int(z) for z in obj.atomic_numbers]
    positions = np.asarray(obj.cart_coords, dtype=float).tolist()
    lattice = getattr(obj, "lattice", None)
    if lattice is None:  # Molecule
        return {"numbers": numbers, "positions": positions}
    pbc = [bool(p) for p in getattr(lattice, "pbc", (True, True, True))]
    return {"numbers": numbers, "positions": positions, "cell": np.asarray(lattice.matrix, dtype=float).tolist(), "pbc": pbc}


def _from_dict(d: Dict[str, Any], index: int) -> Structure:
    unknown = set(d) - _DICT_KEYS
    if unknown:
        raise ValueError(f"system {index}: unknown structure field(s) {sorted(unknown)}; expected {sorted(_DICT_KEYS)}")
    out: Structure = {}
    for key, value in d.items():
        if isinstance(value, np.ndarray):
            value = value.tolist()
        elif key == "positions" or key == "cell":
            value = None if value is None else np.asarray(value, dtype=float).tolist()
        elif key == "numbers":
            value = np.asarray(value).astype(int).tolist()
        out[key] = value
    return out


def to_structure(system: Any, index: int = 0) -> Structure:
    """Convert one system to the API's structure object.

    Supports ``ase.Atoms``, pymatgen ``Structure``/``Molecule`` and dicts in the
    API's form (``numbers`` or ``symbols``, ``positions``, optional ``cell``/``pbc``).
    Raises TypeError naming the type of anything else.
    """
    if isinstance(system, dict):
        return _from_dict(system, index)
    if _is_ase_atoms(system):
        return _from_ase(system)
    if _is_pymatgen(system):
        return _from_pymatgen(system)
    kind = type(system)
    raise TypeError(
        f"soapd cannot convert system {index} of type {kind.__module__}.{kind.__qualname__}: "
        "expected ase.Atoms, a pymatgen Structure/Molecule or a dict with numbers/positions[/cell/pbc]"
    )


def to_structures(systems: Any) -> List[Structure]:
    """Convert one system or a list of systems to API structure objects."""
    return [to_structure(s, i) for i, s in enumerate(as_system_list(systems))]


def atom_count(structure: Structure) -> int:
    """Number of atoms of an API structure object."""
    return len(structure.get("positions") or ())


def to_ase(structure: Structure) -> Any:
    """An API structure object as ``ase.Atoms`` (for neighbour lists)."""
    from ._deps import require

    ase = require("ase", "this feature", "ase", extra="ase")
    cell = structure.get("cell")
    pbc = structure.get("pbc")
    if pbc is None:
        pbc = cell is not None
    kwargs: Dict[str, Any] = {"positions": structure["positions"], "pbc": pbc}
    if "numbers" in structure:
        kwargs["numbers"] = structure["numbers"]
    else:
        kwargs["symbols"] = structure["symbols"]
    if cell is not None:
        kwargs["cell"] = cell
    return ase.Atoms(**kwargs)
