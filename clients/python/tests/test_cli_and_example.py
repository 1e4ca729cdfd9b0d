"""The soapd-client command line on an extxyz file, and examples/screening.py."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from ase.build import bulk, molecule
from ase.io import write

import soapd
from soapd.cli import main
from conftest import REPO

HYPERS = {
    "cutoff": {"radius": 3.5, "smoothing": {"type": "ShiftedCosine", "width": 0.5}},
    "density": {"type": "Gaussian", "width": 0.3},
    "basis": {"type": "TensorProduct", "max_angular": 3, "radial": {"type": "Gto", "max_radial": 3}},
}


@pytest.fixture()
def files(tmp_path):
    frames = [molecule(m) for m in ("H2O", "CH4", "CH3OH")]
    cell = bulk("C", "diamond", 3.57)
    for k, atoms in enumerate(frames):
        atoms.info["energy"] = -float(k)
    cell.info["energy"] = 1.0
    write(tmp_path / "mols.extxyz", frames)
    write(tmp_path / "C.cif", cell)
    descriptor = {"type": "power_spectrum", "species": [1, 6, 8], "hypers": HYPERS}
    (tmp_path / "d.json").write_text(json.dumps(descriptor))
    return tmp_path, frames + [cell], descriptor


def test_featurize_extxyz_and_cif(server, files, capsys):
    path, systems, descriptor = files
    out = path / "out.npz"
    argv = ["--url", server.url, "featurize", str(path / "mols.extxyz"), str(path / "C.cif"),
            "--descriptor", str(path / "d.json"), "--output", str(out), "--per", "structure"]
    assert main(argv) == 0
    assert "4 rows" in capsys.readouterr().err
    with soapd.Client(server.url) as c:
        expected = c.features(systems, descriptor, per="structure")
    z = np.load(out)
    np.testing.assert_allclose(z["values"], expected.values, atol=1e-12)
    assert list(z["sample_names"]) == ["structure"]
    # as a job, with gradients, through the console script itself
    env = dict(os.environ, SOAPD_URL=server.url)
    script = Path(sys.executable).with_name("soapd-client")
    done = subprocess.run([str(script), "featurize", str(path / "mols.extxyz"), "--descriptor", str(path / "d.json"),
                           "-o", str(path / "job.npz"), "--job", "--gradients"], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    with soapd.Client(server.url) as c:
        expected = c.features(systems[:3], descriptor, gradients=True)
    job = soapd.Features.load(path / "job.npz")
    np.testing.assert_allclose(job.values, expected.values, atol=1e-12)
    np.testing.assert_array_equal(job.gradients.samples.values, expected.gradients.samples.values)


def test_fit_prints_a_basis_id(server, files, capsys):
    path, _, descriptor = files
    argv = ["--url", server.url, "-q", "fit", str(path / "mols.extxyz"),
            "--descriptor", str(path / "d.json"), "--q-max", "2", "--method", "pcovr", "--target", "energy"]
    assert main(argv) == 0
    basis_id = capsys.readouterr().out.strip()
    with soapd.Client(server.url) as c:
        basis = c.basis(basis_id)
    assert basis.q_max == 2 and basis.options["method"] == "pcovr"


def test_job_commands(server, files, capsys):
    path, systems, descriptor = files
    with soapd.Client(server.url) as c:
        job = c.submit(systems, descriptor)
        job.wait(progress=False, timeout=60)
    assert main(["--url", server.url, "job", "status", job.id]) == 0
    assert json.loads(capsys.readouterr().out)["state"] == "succeeded"
    assert main(["--url", server.url, "-q", "job", "result", job.id, "-o", str(path / "r.npz")]) == 0
    assert np.load(path / "r.npz")["values"].shape[0] == sum(len(a) for a in systems)
    assert main(["--url", server.url, "job", "cancel", job.id]) == 0
    assert "removed" in capsys.readouterr().out
    assert main(["--url", server.url, "job", "status", job.id]) == 1
    assert "404" in capsys.readouterr().err


def test_cli_errors_are_one_line(files, capsys):
    path, _, _ = files
    code = main(["--url", "http://127.0.0.1:9", "featurize", str(path / "mols.extxyz"), "--descriptor",
                 str(path / "d.json"), "-o", str(path / "x.npz")])
    assert code == 1
    err = capsys.readouterr().err
    assert "cannot reach the soapd server at http://127.0.0.1:9" in err and "Traceback" not in err


def test_screening_example(server):
    env = dict(os.environ, SOAPD_URL=server.url)
    done = subprocess.run([sys.executable, str(REPO / "examples" / "screening.py"), "--structures", "60"],
                          env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    found = re.search(r"test MAE ([\d.]+) meV/atom \(predicting the mean: ([\d.]+) meV/atom\)", done.stdout)
    assert found, done.stdout
    mae, baseline = float(found.group(1)), float(found.group(2))
    assert mae < 0.5 * baseline  # the features carry the energy
