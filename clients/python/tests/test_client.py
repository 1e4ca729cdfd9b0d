"""soapd.Client against the real release binary."""
from __future__ import annotations

import builtins
import gzip
import json
import sys
import time

import numpy as np
import pytest
from ase.build import bulk, molecule

import soapd
from conftest import problem

MOLECULES = ["H2O", "CH4", "CH3OH", "C2H6", "NH3", "HCN", "CO2", "CH3CHO"]


def systems(count: int = 25):
    """Molecules and a periodic cell, rattled so that no two are equal."""
    out = []
    for k in range(count):
        atoms = bulk("C", "diamond", 3.57) * (1, 1, 2) if k % 7 == 3 else molecule(MOLECULES[k % len(MOLECULES)])
        atoms.rattle(0.05, seed=k)
        out.append(atoms)
    return out


def descriptor(hypers, kind="power_spectrum"):
    return {"type": kind, "species": [1, 6, 7, 8], "hypers": hypers}


def as_dict(atoms):
    d = {"numbers": atoms.numbers.tolist(), "positions": atoms.positions.tolist()}
    if atoms.pbc.any():
        d.update(cell=atoms.cell.tolist(), pbc=atoms.pbc.tolist())
    return d


def assert_same(a: soapd.Features, b: soapd.Features):
    assert a.samples == b.samples
    assert a.properties == b.properties
    np.testing.assert_array_equal(a.values, b.values)
    if a.center_types is None:
        assert b.center_types is None
    else:
        np.testing.assert_array_equal(a.center_types, b.center_types)
    assert (a.gradients is None) == (b.gradients is None)
    if a.gradients is not None:
        assert a.gradients.samples == b.gradients.samples
        np.testing.assert_array_equal(a.gradients.values, b.gradients.values)


def test_default_url_from_environment(monkeypatch):
    monkeypatch.setenv("SOAPD_URL", "http://127.0.0.1:9/")
    assert soapd.Client().url == "http://127.0.0.1:9"
    monkeypatch.delenv("SOAPD_URL")
    assert soapd.Client().url == "http://127.0.0.1:8080"


def test_features_per_atom(client, hypers):
    s = systems(5)
    f = client.features(s, descriptor(hypers, "spherical_expansion"))
    assert f.samples.names == ["structure", "atom"]
    assert f.properties.names == ["neighbor_type", "l", "m", "n"]
    expected = [(k, i) for k, a in enumerate(s) for i in range(len(a))]
    assert f.samples.values.tolist() == [list(e) for e in expected]
    np.testing.assert_array_equal(f.center_types, np.concatenate([a.numbers for a in s]))
    assert f.values.shape == (len(expected), 4 * 16 * 4)
    assert f.gradients is None and f.strain_gradients is None
    # the same structures as the API's dicts, and one system alone
    assert_same(f, client.features([as_dict(a) for a in s], descriptor(hypers, "spherical_expansion")))
    one = client.features(s[2], descriptor(hypers, "spherical_expansion"))
    np.testing.assert_array_equal(one.values, f.values[f.samples.values[:, 0] == 2])


def test_features_per_structure_are_sums_of_atoms(client, hypers):
    s = systems(6)
    atoms = client.features(s, descriptor(hypers))
    per = client.features(s, descriptor(hypers), per="structure")
    assert per.samples.names == ["structure"] and per.samples.values[:, 0].tolist() == list(range(6))
    sums = np.array([atoms.values[atoms.samples.values[:, 0] == k].sum(axis=0) for k in range(6)])
    np.testing.assert_allclose(per.values, sums, atol=1e-12)


def test_gradients_match_finite_differences(client, hypers):
    atoms = molecule("CH3OH")
    atoms.rattle(0.05, seed=1)
    f = client.features(atoms, descriptor(hypers), gradients=True)
    g = f.gradients
    assert g.samples.names == ["sample", "structure", "atom"]
    assert g.values.shape == (len(g.samples), 3, f.values.shape[1])
    h = 1e-5
    for entry in (0, len(g.samples) // 2, len(g.samples) - 1):
        row, _, atom = g.samples.values[entry]
        for x in range(3):
            plus, minus = atoms.copy(), atoms.copy()
            plus.positions[atom, x] += h
            minus.positions[atom, x] -= h
            fd = (client.features(plus, descriptor(hypers)).values[row] - client.features(minus, descriptor(hypers)).values[row]) / (2 * h)
            np.testing.assert_allclose(g.values[entry, x], fd, atol=2e-5)


def test_save_load_and_tensormap(client, hypers, tmp_path):
    f = client.features(systems(4), descriptor(hypers), gradients=True)
    f.save(tmp_path / "f.npz")
    assert_same(f, soapd.Features.load(tmp_path / "f.npz"))
    z = np.load(tmp_path / "f.npz")
    assert list(z["property_names"]) == f.properties.names
    tm = f.to_tensormap()
    block = tm.block(0)
    np.testing.assert_array_equal(block.values, f.values)
    assert block.samples.names == ["structure", "atom"]
    grad = block.gradient("positions")
    np.testing.assert_array_equal(grad.values, f.gradients.values)
    np.testing.assert_array_equal(grad.samples.values, f.gradients.samples.values)


def test_split_over_max_structures_equals_one_request(server, small_server, hypers):
    s = systems(25)
    with soapd.Client(server.url) as one:
        whole = one.features(s, descriptor(hypers), gradients=True)
    with soapd.Client(small_server.url) as small:
        limits = small.limits()
        assert limits.from_server and limits.max_structures == 10  # from GET /v1/info
        split = small.features(s, descriptor(hypers), gradients=True)
        assert small._learned_max_structures is None  # no 413 was needed
        per_structure = small.features(s, descriptor(hypers), per="structure", gradients=True)
    assert len(whole.samples) == sum(len(a) for a in s)
    assert_same(whole, split)
    with soapd.Client(server.url) as one:
        assert_same(one.features(s, descriptor(hypers), per="structure", gradients=True), per_structure)


def test_413_halving_without_info_route(small_proxy, client, hypers):
    """A server without GET /v1/info: the client halves a batch refused with 413 until it fits."""
    small_proxy.script = lambda request: problem(404, "Not found") if request["path"] == "/v1/info" else None
    s = systems(25)
    with soapd.Client(small_proxy.url) as c:
        assert not c.limits().from_server
        split = c.features(s, descriptor(hypers), gradients=True)
        assert c._learned_max_structures is not None and c._learned_max_structures <= 10
    assert_same(client.features(s, descriptor(hypers), gradients=True), split)


def test_concurrent_batches_in_callers_order(client, server, hypers, proxy):
    s = systems(25)
    whole = client.features(s, descriptor(hypers), gradients=True)
    with soapd.Client(proxy.url, batch_structures=4, concurrency=4) as c:
        split = c.features(s, descriptor(hypers), gradients=True)
    assert_same(whole, split)
    posts = [r for r in proxy.requests if r["path"] == "/v1/features"]
    assert len(posts) == 7
    for r in posts:
        assert r["headers"]["Accept"] == "application/x-npz"


def test_keep_alive_connections_are_reused(proxy, hypers):
    with soapd.Client(proxy.url, batch_structures=2, concurrency=3) as c:
        for _ in range(4):
            c.features(systems(2), descriptor(hypers))
        one = {r["peer"] for r in proxy.requests}
        c.features(systems(24), descriptor(hypers))  # 12 batches over at most 3 connections
    assert len(proxy.requests) == 1 + 4 + 12  # /v1/info once, then the batches
    assert len(one) == 1
    assert len({r["peer"] for r in proxy.requests}) <= 3


def test_limits_from_info_route_split_requests(proxy, client, hypers):
    limits = {"max_structures": 3, "max_atoms_per_structure": 1000, "max_atoms_total": 1000,
              "max_body_bytes": 1 << 20, "max_output_values": 10**8, "max_gradient_values": 10**8}

    def script(request):
        if request["path"] == "/v1/info":
            return 200, {"Content-Type": "application/json"}, json.dumps({"version": "test", "limits": limits}).encode()
        return None

    proxy.script = script
    s = systems(10)
    with soapd.Client(proxy.url) as c:
        assert c.limits().from_server and c.limits().max_structures == 3
        f = c.features(s, descriptor(hypers))
    sizes = sorted(len(json.loads(r["body"])["structures"]) for r in proxy.requests if r["path"] == "/v1/features")
    assert sizes == [1, 3, 3, 3]
    assert_same(f, client.features(s, descriptor(hypers)))


def test_limits_fall_back_to_defaults_without_info(proxy):
    proxy.script = lambda request: problem(404, "Not found") if request["path"] == "/v1/info" else None
    with soapd.Client(proxy.url) as c:
        limits = c.limits()
    assert not limits.from_server and limits.max_structures == 100_000


def test_large_bodies_are_gzipped(proxy, client, hypers):
    s = systems(8)
    with soapd.Client(proxy.url, gzip_threshold=1000) as c:
        f = c.features(s, descriptor(hypers))
    (post,) = [r for r in proxy.requests if r["path"] == "/v1/features"]
    assert post["headers"].get("Content-Encoding") == "gzip"
    assert len(json.loads(gzip.decompress(post["body"]))["structures"]) == 8
    assert_same(f, client.features(s, descriptor(hypers)))
    proxy.requests.clear()
    with soapd.Client(proxy.url) as c:  # default threshold: a small body goes as is
        c.features(s[:1], descriptor(hypers))
    (post,) = [r for r in proxy.requests if r["path"] == "/v1/features"]
    assert "Content-Encoding" not in post["headers"]
    json.loads(post["body"])


@pytest.mark.parametrize("status", [503, 429])
def test_retries_honour_retry_after(proxy, client, hypers, status):
    answered = []

    def script(request):
        if request["path"] == "/v1/features" and len(answered) < 2:
            answered.append(status)
            return problem(status, "busy", {"Retry-After": "1"})
        return None

    proxy.script = script
    with soapd.Client(proxy.url) as c:
        start = time.monotonic()
        f = c.features(systems(3), descriptor(hypers))
        elapsed = time.monotonic() - start
    assert answered == [status, status]
    assert elapsed >= 1.9
    assert len([r for r in proxy.requests if r["path"] == "/v1/features"]) == 3
    assert_same(f, client.features(systems(3), descriptor(hypers)))


def test_retries_are_bounded(proxy, hypers):
    proxy.script = lambda request: problem(503, "Service unavailable", {"Retry-After": "0"}) \
        if request["path"] == "/v1/features" else None
    with soapd.Client(proxy.url, retries=2) as c:
        with pytest.raises(soapd.SoapdError) as info:
            c.features(systems(2), descriptor(hypers))
    assert info.value.status == 503
    assert len([r for r in proxy.requests if r["path"] == "/v1/features"]) == 3


def test_unknown_atom_type_names_callers_index(server, hypers):
    s = [as_dict(a) for a in systems(25)]
    s[12] = {"numbers": [1, 16, 1], "positions": [[0, 0, 0], [0.96, 0, 0], [1.5, 0.9, 0]]}
    for batch in (100, 5):
        with soapd.Client(server.url, batch_structures=batch) as c:
            with pytest.raises(soapd.SoapdError) as info:
                c.features(s, descriptor(hypers))
        e = info.value
        assert e.status == 422
        assert e.pointer == "/structures/12/numbers/1"
        assert "/structures/12/numbers/1" in e.detail and e.title


def test_unknown_system_type_is_a_type_error(client, hypers):
    class Crystal:
        pass

    with pytest.raises(TypeError, match="Crystal"):
        client.features([molecule("H2O"), Crystal()], descriptor(hypers))
    with pytest.raises(TypeError, match="system 1 of type"):
        client.features([molecule("H2O"), np.zeros((3, 3))], descriptor(hypers))


def test_server_not_running_is_a_connection_error(hypers):
    with soapd.Client("http://127.0.0.1:9") as c:
        start = time.monotonic()
        with pytest.raises(soapd.ConnectionError) as info:
            c.features(molecule("H2O"), descriptor(hypers))
    assert "http://127.0.0.1:9" in str(info.value)
    assert isinstance(info.value, builtins.ConnectionError)
    assert info.value.__suppress_context__ and info.value.__cause__ is None  # no httpx traceback
    assert time.monotonic() - start < 5


def test_other_http_errors_carry_the_problem(client, hypers):
    with pytest.raises(soapd.SoapdError) as info:
        client.features(systems(2), {"type": "power_spectrum", "basis_id": "0" * 64})
    assert info.value.status == 404 and info.value.pointer == "/descriptor/basis_id"
    bad = json.loads(json.dumps(hypers))
    bad["cutoff"]["smoothing"] = {"type": "Tanh"}
    with pytest.raises(soapd.SoapdError) as info:
        client.features(systems(2), descriptor(bad))
    assert info.value.status == 422 and info.value.pointer.startswith("/descriptor/hypers/cutoff/smoothing")


def test_dataset_fit_basis_and_features(client, hypers, proxy, monkeypatch):
    s = systems(12)
    targets = np.arange(12.0)
    dataset = client.create_dataset(descriptor(hypers))
    assert dataset.id and dataset.info()["structures"] == 0
    with soapd.Client(proxy.url, batch_structures=5) as c:
        info = c.dataset(dataset.id).add(s, targets=targets, progress=True)
    assert info["structures"] == 12 and info["targets"] == 12 and info["version"] == 3
    keys = [r["headers"].get("Idempotency-Key") for r in proxy.requests if r["path"].endswith("/structures")]
    assert len(keys) == 3 and len(set(keys)) == 3 and all(keys)
    assert dataset.info()["structures"] == 12

    basis = client.fit_basis(dataset, method="pca", contraction="mixed", q_max=3)
    assert len(basis.eigenvalues) == hypers["basis"]["max_angular"] + 1
    assert all(np.all(np.diff(e) <= 1e-12) for e in basis.eigenvalues)
    assert len(basis.residual_variance) == len(basis.eigenvalues)
    again = client.basis(basis.id)
    assert again.id == basis.id and again.q_max == 3
    pcovr = client.fit_basis(dataset.id, method="pcovr", gamma=0.5, q_max=2, contraction="separate")
    assert pcovr.id != basis.id and pcovr.options["method"] == "pcovr"
    by_variance = client.fit_basis(dataset, residual_variance=1e-2)
    assert by_variance.q_max >= 1

    rc = hypers["cutoff"]["radius"]
    grid = np.linspace(0, rc, 50)
    exact = basis.radial_functions(grid)
    assert basis.radial_layout()[-1] == "r" and exact.shape[-1] == 50
    r = np.array([0.1, 1.234, 2.5, rc])
    interpolated = basis.radial_functions(r)
    near = basis.radial_functions(np.linspace(0, rc, 2000))
    idx = [int(round(x / rc * 1999)) for x in r]
    np.testing.assert_allclose(interpolated, near[..., idx], atol=2e-2 * np.abs(near).max())
    np.testing.assert_allclose(exact[..., -1], interpolated[..., -1], atol=1e-12)
    with pytest.raises(ValueError):
        basis.radial_functions([rc + 1])

    import matplotlib

    matplotlib.use("Agg")
    fig = basis.plot()
    assert len(fig.axes) == hypers["basis"]["max_angular"] + 1

    f = client.features(s, {"type": "power_spectrum", "basis_id": basis.id}, per="structure")
    assert f.properties.names == ["l", "n_1", "n_2"] and f.values.shape == (12, 4 * 3 * 3)

    # a retried batch reuses its Idempotency-Key and counts once
    proxy.requests.clear()
    failed = []
    proxy.script = lambda request: (failed.append(1) or problem(503, "busy", {"Retry-After": "0"})) \
        if request["path"].endswith("/structures") and not failed else None
    with soapd.Client(proxy.url) as c:
        info = c.dataset(dataset.id).add(s[:2])
    keys = [r["headers"].get("Idempotency-Key") for r in proxy.requests if r["path"].endswith("/structures")]
    assert len(keys) == 2 and keys[0] == keys[1]
    assert info["structures"] == 14


def test_jobs(client, hypers, capsys):
    s = systems(9)
    job = client.submit(s, descriptor(hypers), gradients=True)
    assert job.id and job.state in ("queued", "running", "succeeded")
    final = job.wait(progress=True, timeout=60)
    assert final["state"] == "succeeded" and final["progress"]["structures_done"] == 9
    assert "structure" in capsys.readouterr().err  # the tqdm bar
    result = job.result()
    assert_same(result, client.features(s, descriptor(hypers), gradients=True))
    assert client.job(job.id).status()["state"] == "succeeded"
    assert job.id in [j.id for j in client.jobs(state="succeeded")]
    assert job.cancel() is None  # a finished job is removed
    with pytest.raises(soapd.SoapdError) as info:
        client.job(job.id)
    assert info.value.status == 404


def test_job_fail_fast_and_per_structure_errors(client, hypers):
    s = [as_dict(a) for a in systems(4)]
    s[2] = {"numbers": [1, 16], "positions": [[0, 0, 0], [1.3, 0, 0]]}
    job = client.submit(s, descriptor(hypers), per="structure")
    job.wait(progress=False, timeout=60)
    assert [e["structure"] for e in job.errors] == [2]
    assert job.result().samples.values[:, 0].tolist() == [0, 1, 3]
    with pytest.raises(soapd.SoapdError) as info:
        client.submit(s, descriptor(hypers), fail_fast=True).wait(progress=False, timeout=60)
    assert info.value.status in (409, 422)


def test_job_wait_times_out(proxy, hypers):
    running = {"id": "j", "state": "running", "created_at": "", "updated_at": "", "errors": [],
               "progress": {"structures_done": 1, "structures_total": 4, "chunks_done": 1, "atoms_done": 3}}
    proxy.script = lambda request: (200, {"Content-Type": "application/json"}, json.dumps(running).encode()) \
        if request["path"].startswith("/v1/jobs/j") else None
    with soapd.Client(proxy.url) as c:
        job = c.job("j")
        start = time.monotonic()
        with pytest.raises(TimeoutError, match="still running"):
            job.wait(progress=False, timeout=0.5)
    assert 0.5 <= time.monotonic() - start < 5
    assert all(r["path"].startswith("/v1/jobs/j") for r in proxy.requests)


def test_cancel_a_running_job(client, hypers):
    # 108,000 atoms with l <= 8 and 11 radial functions: a few seconds of work on this machine
    big = [bulk("Si", "diamond", 5.43) * (3, 3, 3)] * 2000
    heavy = json.loads(json.dumps(hypers))
    heavy["basis"].update(max_angular=8)
    heavy["basis"]["radial"]["max_radial"] = 10
    heavy["cutoff"]["radius"] = 6.0
    job = client.submit(big, {"type": "power_spectrum", "species": [14], "hypers": heavy}, per="structure")
    info = job.cancel()
    assert info["state"] == "cancelled"
    with pytest.raises(soapd.JobFailed) as failed:
        job.wait(progress=False, timeout=30)
    assert "cancelled" in str(failed.value)
    assert job.cancel() is None  # now removed


def test_missing_optional_dependency(client, hypers, monkeypatch):
    f = client.features(systems(1), descriptor(hypers))
    monkeypatch.setitem(sys.modules, "metatensor", None)
    with pytest.raises(soapd.MissingDependency, match="pip install soapd\\[metatensor\\]"):
        f.to_tensormap()
    with pytest.raises(ImportError):
        f.to_tensormap()


def test_pymatgen_structures(client, hypers):
    pytest.importorskip("pymatgen.core")
    from pymatgen.io.ase import AseAtomsAdaptor

    s = [molecule("CH3OH"), bulk("C", "diamond", 3.57) * (1, 1, 2)]
    converted = [AseAtomsAdaptor.get_molecule(s[0]), AseAtomsAdaptor.get_structure(s[1])]
    a = client.features(s, descriptor(hypers))
    b = client.features(converted, descriptor(hypers))
    np.testing.assert_allclose(a.values, b.values, atol=1e-10)


def test_vjp_matches_contracted_jacobian_and_forces(client, hypers):
    atoms = [molecule("CH3OH"), bulk("C", "diamond", 3.57)]
    for k, a in enumerate(atoms):
        a.rattle(0.05, seed=20 + k)
    f = client.features(atoms, descriptor(hypers), gradients=True)
    G = np.random.default_rng(0).normal(size=f.values.shape)
    out = client.vjp(atoms, descriptor(hypers), G, gradients=["positions"])
    expected = np.zeros((sum(len(a) for a in atoms), 3))
    starts = np.cumsum([0] + [len(a) for a in atoms])
    for (row, s, atom), g in zip(f.gradients.samples.values, f.gradients.values):
        expected[starts[s] + atom] += g @ G[row]
    np.testing.assert_allclose(out["positions"], expected, rtol=0, atol=1e-10 * np.abs(expected).max())
    assert "strain" not in out
    # E = sum w.X per structure: -positions are the forces (finite differences on one atom).
    w = np.random.default_rng(1).normal(size=f.values.shape[1])
    mol = atoms[0]
    both = client.vjp(mol, descriptor(hypers), w[None, :], per="structure")
    assert both["strain"].shape == (1, 3, 3)
    h = 1e-5
    for x in range(3):
        plus, minus = mol.copy(), mol.copy()
        plus.positions[2, x] += h
        minus.positions[2, x] -= h
        e = [client.features(m, descriptor(hypers), per="structure").values[0] @ w for m in (plus, minus)]
        assert abs((e[0] - e[1]) / (2 * h) - both["positions"][2, x]) < 1e-5
    with pytest.raises(soapd.SoapdError):
        client.vjp(mol, descriptor(hypers), w[None, :-1], per="structure")


def test_vjp_refuses_non_finite(client, hypers):
    mol = molecule("H2O")
    columns = client.features(mol, descriptor(hypers)).values.shape[1]
    G = np.ones((len(mol), columns))
    G[1, 2] = np.nan
    with pytest.raises(soapd.SoapdError) as error:
        client.vjp(mol, descriptor(hypers), G)
    assert "/output_gradient/1/2" in str(error.value) or getattr(error.value, "pointer", None) == "/output_gradient/1/2"
