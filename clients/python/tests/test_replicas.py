"""Three `soapd serve` release binaries on loopback ports, peers of each other (issue 16):
a basis fitted on one used through another, sharded statistics merged, a sharded job, a
replica killed mid-way, and the Dask helper on a LocalCluster."""
from __future__ import annotations

import signal
import socket

import numpy as np
import pytest
from ase.build import bulk, molecule

import soapd
import soapd._transport
from conftest import HYPERS, Server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def replicas(binary, tmp_path):
    ports = [free_port() for _ in range(3)]
    urls = [f"http://127.0.0.1:{p}" for p in ports]
    servers = []
    try:
        for k, port in enumerate(ports):
            peers = ",".join(u for j, u in enumerate(urls) if j != k)
            servers.append(Server(binary, tmp_path / f"replica{k}", "--port", str(port), "--peers", peers,
                                  "--peer-timeout-seconds", "5", "--log-level", "warning"))
        yield servers
    finally:
        for s in servers:
            s.stop()


def structures(n=24):
    out = []
    for k in range(n):
        atoms = bulk("Si", "diamond", a=5.43, cubic=True) if k % 3 else molecule("CH3CH2OH")
        atoms.rattle(0.05, seed=k)
        out.append(atoms)
    return out


def descriptor(species):
    return {"type": "power_spectrum", "species": species, "hypers": HYPERS}


def same(a: soapd.Features, b: soapd.Features, tol=0.0):
    assert a.values.shape == b.values.shape
    np.testing.assert_array_equal(a.samples.values, b.samples.values)
    if tol:
        np.testing.assert_allclose(a.values, b.values, rtol=tol, atol=tol)
    else:
        np.testing.assert_array_equal(a.values, b.values)


SPECIES = [1, 6, 8, 14]


def test_features_spread_in_callers_order(replicas):
    systems = structures()
    with soapd.Client([s.url for s in replicas], batch_structures=3) as many, soapd.Client(replicas[0].url) as one:
        same(many.features(systems, descriptor(SPECIES)), one.features(systems, descriptor(SPECIES)))


def test_basis_fitted_on_one_used_via_another(replicas):
    systems = structures(9)
    with soapd.Client(replicas[0].url) as first, soapd.Client(replicas[2].url) as third:
        dataset = first.create_dataset(descriptor(SPECIES))
        dataset.add(systems)
        basis = first.fit_basis(dataset, q_max=3)
        use = {"type": "power_spectrum", "basis_id": basis.id}
        # Replica 3 never saw it: it fetches it from its peers by content id.
        same(third.features(systems, use), first.features(systems, use))
    # A client of all replicas copies a fitted basis to each (PUT): replica 2 has it without asking.
    with soapd.Client([s.url for s in replicas]) as many:
        again = many.fit_basis(many.dataset(dataset.id), q_max=2)
        for s in replicas:
            with soapd.Client(s.url) as c:
                assert c.basis(again.id).id == again.id


def test_sharded_statistics_merged_equal_single(replicas, binary, tmp_path):
    systems = structures(10)
    targets = np.linspace(-1, 1, len(systems))
    single = Server(binary, tmp_path / "single", "--log-level", "warning")
    try:
        with soapd.Client([s.url for s in replicas]) as many, soapd.Client(single.url) as one:
            merged = many.accumulate(systems, descriptor(SPECIES), targets=targets)
            whole = one.create_dataset(descriptor(SPECIES))
            whole.add(systems, targets)
            a = merged.info(matrices=True)
            b = whole.info(matrices=True)
            assert a["structures"] == b["structures"] == len(systems)
            assert a["centers"] == b["centers"]
            np.testing.assert_allclose(a["matrices"]["values"], b["matrices"]["values"], rtol=1e-12, atol=1e-12 *
                                       np.abs(b["matrices"]["values"]).max())
            for method in ("pca", "pcovr"):
                fa = many.fit_basis(merged, method=method, q_max=3)
                fb = one.fit_basis(whole, method=method, q_max=3)
                va = many.features(systems, {"type": "power_spectrum", "basis_id": fa.id})
                vb = one.features(systems, {"type": "power_spectrum", "basis_id": fb.id})
                same(va, vb, tol=1e-10)
    finally:
        single.stop()


def test_sharded_job_equals_one_replica(replicas):
    systems = structures(12)
    with soapd.Client([s.url for s in replicas]) as many, soapd.Client(replicas[0].url) as one:
        same(many.run_jobs(systems, descriptor(SPECIES), timeout=120),
             one.run_jobs(systems, descriptor(SPECIES), timeout=120))


def test_replica_killed_mid_way_is_retried_elsewhere(replicas, monkeypatch):
    systems = structures(30)
    with soapd.Client(replicas[0].url) as one:
        expected = one.features(systems, descriptor(SPECIES))
    victim = replicas[1]
    answered = []
    original = soapd.Features.from_npz.__func__

    def counting(cls, source):
        answered.append(1)
        if len(answered) == 3 and victim.process.poll() is None:
            victim.process.send_signal(signal.SIGKILL)
            victim.process.wait()
        return original(cls, source)

    monkeypatch.setattr(soapd.Features, "from_npz", classmethod(counting))
    with soapd.Client([s.url for s in replicas], batch_structures=2, concurrency=1, retries=1) as many:
        got = many.features(systems, descriptor(SPECIES))
    assert victim.process.poll() is not None
    same(got, expected)  # every structure once, in order


def test_job_shard_of_killed_replica_runs_elsewhere(replicas, monkeypatch):
    systems = structures(12)
    with soapd.Client(replicas[0].url) as one:
        expected = one.run_jobs(systems, descriptor(SPECIES), timeout=120)
    victim = replicas[2]
    original = soapd._transport.Transport.json

    def json(self, method, path, body=None, **kwargs):
        answer = original(self, method, path, body, **kwargs)
        if method == "POST" and path == "/v1/jobs" and self.url == victim.url and victim.process.poll() is None:
            victim.process.send_signal(signal.SIGKILL)
            victim.process.wait()
        return answer

    monkeypatch.setattr(soapd._transport.Transport, "json", json)
    with soapd.Client([s.url for s in replicas], retries=1) as many:
        same(many.run_jobs(systems, descriptor(SPECIES), timeout=120), expected)


def test_dask_local_cluster(replicas):
    distributed = pytest.importorskip("dask.distributed")
    import dask.bag as db

    import soapd.dask

    systems = structures(16)
    with soapd.Client(replicas[0].url) as one:
        expected = one.features(systems, descriptor(SPECIES))
    with distributed.LocalCluster(n_workers=2, processes=False, dashboard_address=None) as cluster, \
            distributed.Client(cluster):
        urls = [s.url for s in replicas]
        same(soapd.dask.features(systems, descriptor(SPECIES), urls), expected)
        bag = db.from_sequence(systems, npartitions=5)
        same(soapd.dask.features(bag, descriptor(SPECIES), urls), expected)


def test_ready_turns_503_on_sigterm_while_still_serving(binary, tmp_path):
    import httpx

    server = Server(binary, tmp_path / "draining", "--drain-delay-seconds", "3", "--log-level", "warning")
    try:
        assert httpx.get(server.url + "/ready").status_code == 200
        server.process.send_signal(signal.SIGTERM)
        for _ in range(50):
            r = httpx.get(server.url + "/ready")
            if r.status_code == 503:
                break
        assert r.status_code == 503 and r.headers["retry-after"] == "1"
        assert httpx.get(server.url + "/health").status_code == 200  # still serving while draining
        assert server.process.wait(20) == 0
    finally:
        server.stop()
