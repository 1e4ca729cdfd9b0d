"""Screening random Cu–Al–Ni alloys with soapd features and a ridge model.

Makes its own data: fcc supercells with random Cu/Al/Ni substitution and a small
rattle, energies from ASE's EMT calculator. Features are SOAP power spectra
through soapd with an optimal radial basis fitted on the training structures
(dataset → fit_basis → features with basis_id, one row per structure); a
scikit-learn ridge model predicts the energy per atom and the test MAE is
printed. The server's URL is taken from $SOAPD_URL (default http://127.0.0.1:8080).

    python examples/screening.py [--structures 120] [--seed 0]
"""
from __future__ import annotations

import argparse
import time

import numpy as np
from ase.build import bulk
from ase.calculators.emt import EMT
from sklearn.linear_model import RidgeCV
from sklearn.metrics import mean_absolute_error
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import soapd

SPECIES = {"Al": 13, "Ni": 28, "Cu": 29}
HYPERS = {
    "cutoff": {"radius": 4.5, "smoothing": {"type": "ShiftedCosine", "width": 0.5}},
    "density": {"type": "Gaussian", "width": 0.4},
    "basis": {"type": "TensorProduct", "max_angular": 4, "radial": {"type": "Gto", "max_radial": 7}},
}


def random_alloys(count: int, rng: np.random.Generator) -> list:
    """fcc supercells (2×2×2 conventional cells, 32 atoms) with random composition, strain and rattle."""
    alloys = []
    for _ in range(count):
        atoms = bulk("Cu", "fcc", a=rng.uniform(3.55, 3.75), cubic=True) * (2, 2, 2)
        fractions = rng.dirichlet(np.ones(len(SPECIES)))
        atoms.set_chemical_symbols(rng.choice(list(SPECIES), size=len(atoms), p=fractions))
        atoms.rattle(0.05, seed=int(rng.integers(1 << 31)))
        atoms.calc = EMT()
        atoms.info["energy"] = atoms.get_potential_energy()
        alloys.append(atoms)
    return alloys


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--structures", type=int, default=120)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    start = time.perf_counter()

    alloys = random_alloys(args.structures, rng)
    energy = np.array([a.info["energy"] / len(a) for a in alloys])
    train, test = train_test_split(np.arange(len(alloys)), test_size=0.25, random_state=args.seed)

    client = soapd.Client()  # $SOAPD_URL
    dataset = client.create_dataset({"species": sorted(SPECIES.values()), "hypers": HYPERS})
    dataset.add([alloys[i] for i in train], targets=energy[train])
    basis = client.fit_basis(dataset, method="pca", contraction="mixed", q_max=4)
    features = client.features(alloys, {"type": "power_spectrum", "basis_id": basis.id}, per="structure")
    X = features.values / np.array([len(a) for a in alloys])[:, None]  # per-atom mean of the environments

    model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-6, 2, 17)))
    model.fit(X[train], energy[train])
    mae = mean_absolute_error(energy[test], model.predict(X[test]))
    spread = mean_absolute_error(energy[test], np.full(len(test), energy[train].mean()))
    print(f"{len(alloys)} alloys, {X.shape[1]} features (basis {basis.id[:12]}, q_max {basis.q_max}, mixed)")
    print(f"test MAE {mae * 1000:.2f} meV/atom (predicting the mean: {spread * 1000:.2f} meV/atom) in {time.perf_counter() - start:.1f} s")


if __name__ == "__main__":
    main()
