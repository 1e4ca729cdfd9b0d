"""soapd.featomic against featomic itself: identical TensorMap metadata, equal numbers."""
from __future__ import annotations

import numpy as np
import pytest
from ase import Atoms
from ase.build import bulk, molecule

featomic = pytest.importorskip("featomic")
metatensor = pytest.importorskip("metatensor")

import soapd.featomic as sf  # noqa: E402

HYPERS = {
    "cutoff": {"radius": 3.5, "smoothing": {"type": "ShiftedCosine", "width": 0.5}},
    "density": {"type": "Gaussian", "width": 0.3, "scaling": {"type": "Willatt2018", "rate": 1.0, "scale": 2.0, "exponent": 4.0}},
    "basis": {"type": "TensorProduct", "max_angular": 4, "radial": {"type": "Gto", "max_radial": 4}},
}


def systems():
    ethanol = molecule("CH3CH2OH")
    far = Atoms("HCN", positions=[[0, 0, 0], [1.1, 0, 0], [12.0, 0, 0]])  # N sees nobody: its own block only
    si = bulk("Si", "diamond", 5.43)  # small cell: images of the centre itself are neighbours
    si.rattle(0.05, seed=1)
    nacl = bulk("NaCl", "rocksalt", 5.64) * (1, 1, 2)
    nacl.rattle(0.05, seed=2)
    tri = bulk("Cu", "fcc", 3.6)  # triclinic primitive cell
    tri.rattle(0.02, seed=3)
    return [ethanol, far, si, nacl, tri]


def assert_equal_tensormaps(ref, ours, gradients):
    assert ref.keys.names == ours.keys.names
    assert ref.keys == ours.keys  # same keys, same order
    for key, rb in ref.items():
        ob = ours.block(key)
        assert rb.samples == ob.samples, key
        assert len(rb.components) == len(ob.components)
        for rc, oc in zip(rb.components, ob.components):
            assert rc == oc, key
        assert rb.properties == ob.properties, key
        np.testing.assert_allclose(ob.values, rb.values, atol=1e-6, rtol=0, err_msg=str(key))
        assert rb.gradients_list() == ob.gradients_list()
        for parameter in gradients:
            rg, og = rb.gradient(parameter), ob.gradient(parameter)
            assert rg.samples == og.samples, key
            assert all(a == b for a, b in zip(rg.components, og.components))
            np.testing.assert_allclose(og.values, rg.values, atol=2e-5, rtol=0, err_msg=str(key))


@pytest.mark.parametrize("name", ["SphericalExpansion", "SoapRadialSpectrum", "SoapPowerSpectrum"])
@pytest.mark.parametrize("gradients", [None, ["positions"]])
def test_same_tensormap_as_featomic(server, name, gradients):
    hypers = dict(HYPERS)
    if name == "SoapRadialSpectrum":
        hypers["basis"] = {"radial": HYPERS["basis"]["radial"]}
    ref = getattr(featomic, name)(**hypers).compute(systems(), gradients=gradients)
    ours = getattr(sf, name)(**hypers, url=server.url).compute(systems(), gradients=gradients)
    assert isinstance(ours, metatensor.TensorMap)
    assert_equal_tensormaps(ref, ours, gradients or [])


def test_featomic_hyper_objects_and_a_shared_client(client):
    from featomic import basis, cutoff, density

    hypers = dict(
        cutoff=cutoff.Cutoff(radius=3.0, smoothing=cutoff.ShiftedCosine(width=0.5)),
        density=density.Gaussian(width=0.4),
        basis=basis.TensorProduct(max_angular=3, radial=basis.Gto(max_radial=3)),
    )
    ours = sf.SoapPowerSpectrum(**hypers, client=client)
    assert ours.client is client
    s = [molecule("H2O"), bulk("Si", "diamond", 5.43)]
    ref = featomic.SoapPowerSpectrum(**hypers).compute(s, gradients=["positions"])
    assert_equal_tensormaps(ref, ours.compute(s, gradients=["positions"]), ["positions"])


def test_one_system_and_dicts(server):
    water = molecule("H2O")
    ref = featomic.SphericalExpansion(**HYPERS).compute(water)
    calc = sf.SphericalExpansion(**HYPERS, url=server.url)
    assert_equal_tensormaps(ref, calc.compute(water), [])
    as_dict = {"numbers": water.numbers.tolist(), "positions": water.positions.tolist()}
    assert_equal_tensormaps(ref, calc.compute([as_dict]), [])


def test_unsupported_requests(server):
    calc = sf.SoapPowerSpectrum(**HYPERS, url=server.url)
    with pytest.raises(NotImplementedError, match="strain"):
        calc.compute(bulk("Si", "diamond", 5.43), gradients=["positions", "strain"])
    with pytest.raises(NotImplementedError):
        calc.compute(molecule("H2O"), selected_keys=metatensor.Labels(["center_type"], np.array([[1]])))
    with pytest.raises(ValueError, match="density"):
        sf.SoapPowerSpectrum(cutoff=HYPERS["cutoff"], basis=HYPERS["basis"], url=server.url)
