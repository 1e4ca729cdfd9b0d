"""The soapd client: features, datasets, fitted bases and batch jobs."""
from __future__ import annotations

import io
import json
import os
import re
import zipfile
import tempfile
import threading
import time
import uuid
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple, Union

import numpy as np

from ._deps import require
from ._errors import JobFailed, SoapdError
from ._fanout import Replicas
from ._features import Features
from ._progress import progress_bar
from ._systems import Structure, atom_count, to_structures
from ._transport import Transport

DEFAULT_URL = "http://127.0.0.1:8080"
NPZ = "application/x-npz"
_STRUCTURE_POINTER = re.compile(r"^/(structures|targets)/\d+")


@dataclass
class ServerLimits:
    """Per-request limits of the server (from ``GET /v1/info``, or soapd's defaults when it has none)."""

    max_structures: int = 100_000
    max_atoms_per_structure: int = 100_000
    max_atoms_total: int = 1_000_000
    max_body_bytes: int = 64 * 1024 * 1024
    max_output_values: int = 400_000_000
    max_gradient_values: int = 400_000_000
    version: Optional[str] = None
    from_server: bool = False
    extra: Dict[str, Any] = field(default_factory=dict)


def _descriptor(descriptor: Mapping[str, Any]) -> Dict[str, Any]:
    if not isinstance(descriptor, Mapping):
        raise TypeError(f"descriptor must be a dict in the API's form, not {type(descriptor).__name__}")
    return dict(descriptor)


class Client:
    """A connection to a soapd server, or to several replicas used as one.

    Args:
        url: the server's base URL; defaults to ``$SOAPD_URL``, then ``http://127.0.0.1:8080``.
            A list of URLs makes a client of several replicas: feature batches are spread
            over them (results in the caller's order, as one replica gives), a batch whose
            replica dies is sent to another, a fitted basis is copied to every replica,
            :meth:`accumulate` shards a dataset and merges it, :meth:`run_jobs` shards a job.
            Datasets, bases and jobs otherwise live on the first URL.
        token: bearer token (for servers configured with read/write tokens).
        timeout: seconds allowed to connect and to each read of an answer.
        retries: attempts after the first for 429/503 (honouring Retry-After) and connection failures.
        concurrency: requests in flight at once when a list is split (keep-alive connections).
        batch_structures / batch_atoms: the most structures / atoms one request carries
            (further capped by the server's limits).
        gzip_threshold: request bodies above this many bytes are sent gzipped.
    """

    def __init__(
        self,
        url: Union[None, str, Sequence[str]] = None,
        token: Optional[str] = None,
        timeout: float = 300.0,
        *,
        retries: int = 5,
        concurrency: int = 4,
        batch_structures: int = 100,
        batch_atoms: int = 20_000,
        gzip_threshold: int = 64 * 1024,
    ) -> None:
        self._replicas: Optional[Replicas] = None
        if url is not None and not isinstance(url, str):
            urls = [str(u) for u in url]
            if not urls:
                raise ValueError("give at least one URL")
            kwargs = dict(retries=retries, concurrency=concurrency, batch_structures=batch_structures,
                          batch_atoms=batch_atoms, gzip_threshold=gzip_threshold)
            clients = [Client(u, token, timeout, **kwargs) for u in urls]  # type: ignore[arg-type]
            if len(clients) > 1:
                self._replicas = Replicas(clients)
            url = urls[0]
        self.url = (url or os.environ.get("SOAPD_URL") or DEFAULT_URL).rstrip("/")
        self.concurrency = max(1, int(concurrency))
        self.batch_structures = max(1, int(batch_structures))
        self.batch_atoms = max(1, int(batch_atoms))
        self._transport = Transport(self.url, token, timeout, retries=retries, gzip_threshold=gzip_threshold,
                                    pool_size=self.concurrency + 2)
        self._limits: Optional[ServerLimits] = None
        self._learned_max_structures: Optional[int] = None
        self._lock = threading.Lock()
        self._pool: Optional[ThreadPoolExecutor] = None

    # -- lifecycle ----------------------------------------------------------------
    def close(self) -> None:
        """Close the connection pool and worker threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._transport.close()
        for replica in self._replicas.clients if self._replicas else []:
            replica.close()

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        if self._replicas:
            return f"soapd.Client({[c.url for c in self._replicas.clients]!r})"
        return f"soapd.Client({self.url!r})"

    @property
    def urls(self) -> List[str]:
        """The replicas' URLs (one for a single server)."""
        return [c.url for c in self._replicas.clients] if self._replicas else [self.url]

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="soapd")
            return self._pool

    # -- server ---------------------------------------------------------------------
    def health(self) -> Dict[str, Any]:
        """``GET /health``: ``{"status": "ok", "version": ...}``."""
        return self._transport.json("GET", "/health")

    def limits(self, refresh: bool = False) -> ServerLimits:
        """The server's per-request limits from ``GET /v1/info``; soapd's defaults when the route is absent (404)."""
        if self._limits is None or refresh:
            try:
                info = self._transport.json("GET", "/v1/info")
            except SoapdError as exc:
                if exc.status not in (404, 405):
                    raise
                self._limits = ServerLimits()
            else:
                known = set(ServerLimits.__dataclass_fields__) - {"version", "from_server", "extra"}
                raw = dict(info.get("limits") or {})
                self._limits = ServerLimits(
                    **{k: int(raw[k]) for k in known if isinstance(raw.get(k), (int, float))},
                    version=info.get("version"), from_server=True,
                    extra={k: v for k, v in raw.items() if k not in known},
                )
        return self._limits

    # -- batching ---------------------------------------------------------------------
    def _plan(self, structures: Sequence[Structure]) -> List[Tuple[int, int]]:
        """Split ``structures`` into [start, end) ranges within the server's and the client's limits."""
        limits = self.limits()
        max_structures = min(self.batch_structures, limits.max_structures)
        if self._learned_max_structures is not None:
            max_structures = min(max_structures, self._learned_max_structures)
        max_atoms = min(self.batch_atoms, limits.max_atoms_total)
        max_bytes = limits.max_body_bytes // 2  # JSON text of a position is ~60 bytes; gzip usually divides by 2-3
        ranges: List[Tuple[int, int]] = []
        start, atoms, nbytes = 0, 0, 0
        for i, s in enumerate(structures):
            n = atom_count(s)
            b = 80 * n + 200
            if i > start and (i - start >= max_structures or atoms + n > max_atoms or nbytes + b > max_bytes):
                ranges.append((start, i))
                start, atoms, nbytes = i, 0, 0
            atoms += n
            nbytes += b
        if start < len(structures) or not ranges:
            ranges.append((start, len(structures)))
        return ranges

    def _halving(self, start: int, end: int, send: Callable[[int, int], Any]) -> List[Tuple[int, Any]]:
        """``send(start, end)``; a 413 for the whole batch halves it and retries. Errors name caller indices."""
        try:
            return [(start, send(start, end))]
        except SoapdError as exc:
            whole_batch = not (exc.pointer and _STRUCTURE_POINTER.match(exc.pointer))
            if exc.status == 413 and end - start > 1 and whole_batch:
                half = (end - start) // 2
                with self._lock:
                    if self._learned_max_structures is None or half < self._learned_max_structures:
                        self._learned_max_structures = max(1, half)
                return self._halving(start, start + half, send) + self._halving(start + half, end, send)
            raise exc.with_structure_offset(start) from None

    def _run(self, structures: Sequence[Structure], send: Callable[[int, int], Any], concurrent: bool,
             progress: bool, desc: str) -> List[Tuple[int, Any]]:
        """Send every planned batch (concurrently or in order); results in the caller's order."""
        ranges = self._plan(structures)
        bar = progress_bar(progress, len(structures), desc)
        try:
            if not concurrent or len(ranges) == 1:
                results = []
                for a, b in ranges:
                    results.extend(self._halving(a, b, send))
                    bar.update(b - a)
                return results
            pool = self._executor()
            futures: List[Future] = [pool.submit(self._halving, a, b, send) for a, b in ranges]
            for fut, (a, b) in zip(futures, ranges):
                fut.add_done_callback(lambda f, n=b - a: None if f.cancelled() or f.exception() else bar.update(n))
            done, pending = wait(futures, return_when=FIRST_EXCEPTION)
            if pending and any(f.exception() for f in done):
                for f in pending:
                    f.cancel()
                wait(pending)
            results = []
            for fut in futures:  # the first failure in the caller's order wins
                if fut.cancelled():
                    continue
                exc = fut.exception()
                if exc is not None:
                    raise exc
                results.extend(fut.result())
            return results
        finally:
            bar.close()

    # -- features -----------------------------------------------------------------------
    def features(
        self,
        systems: Any,
        descriptor: Mapping[str, Any],
        per: str = "atom",
        gradients: bool = False,
        progress: bool = False,
    ) -> Features:
        """Featurize ``systems`` with ``descriptor`` (``POST /v1/features``, npz transport).

        Args:
            systems: one or a list of ``ase.Atoms``, pymatgen ``Structure``/``Molecule``
                or dicts in the API's structure form.
            descriptor: the API's descriptor object (``type``, ``species``, ``hypers``
                or ``basis_id``, ...).
            per: ``"atom"`` or ``"structure"``.
            gradients: add position gradients.
            progress: show a tqdm bar of structures done (when tqdm is installed).

        A long list is split into requests within the server's limits, sent
        concurrently; the result is the one a single request would give, with
        the caller's structure indices.
        """
        if per not in ("atom", "structure"):
            raise ValueError(f"per must be 'atom' or 'structure', not {per!r}")
        structures = to_structures(systems)
        desc = _descriptor(descriptor)

        def send_to(client: "Client", start: int, end: int) -> Features:
            body = {"structures": structures[start:end], "descriptor": desc, "per": per, "gradients": bool(gradients)}
            response = client._transport.request("POST", "/v1/features", body, accept=NPZ)
            return Features.from_npz(response.content)

        def send(start: int, end: int) -> Features:
            return send_to(self, start, end)

        if self._replicas and structures:
            ranges = self._plan(structures)
            parts = self._replicas.run_batches(
                ranges, lambda c, a, b: c._halving(a, b, lambda x, y: send_to(c, x, y)), self.concurrency)
            flat = [item for _, batch in parts for item in batch]
            return Features.concatenate([f for _, f in flat], [start for start, _ in flat])
        parts = self._run(structures, send, concurrent=True, progress=progress, desc="featurizing")
        return Features.concatenate([f for _, f in parts], [start for start, _ in parts])

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
            "descriptor": _descriptor(descriptor),
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
            "POST", "/v1/features/vjp", buffer.getvalue(), headers={"Content-Type": "application/x-npz"}
        ).json()
        out: Dict[str, np.ndarray] = {}
        if "positions" in data:
            out["positions"] = np.asarray(data["positions"]["values"], dtype=np.float64).reshape(-1, 3)
            out["position_samples"] = np.asarray(data["positions"]["samples"]["values"], dtype=np.int32).reshape(-1, 2)
        if "strain" in data:
            out["strain"] = np.asarray(data["strain"]["values"], dtype=np.float64).reshape(-1, 3, 3)
        return out

    # -- datasets and bases -------------------------------------------------------------------
    def create_dataset(self, descriptor: Mapping[str, Any], keep_structures: bool = False) -> "Dataset":
        """Create a dataset accumulator (``POST /v1/datasets``) for ``descriptor`` (``species`` + ``hypers``)."""
        desc = {k: v for k, v in _descriptor(descriptor).items() if k in ("species", "hypers")}
        info = self._transport.json("POST", "/v1/datasets", {"descriptor": desc, "keep_structures": bool(keep_structures)})
        return Dataset(self, info["id"], info)

    def dataset(self, id: str) -> "Dataset":
        """An existing dataset by id."""
        return Dataset(self, id, self._transport.json("GET", f"/v1/datasets/{id}"))

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

    def accumulate(self, systems: Any, descriptor: Mapping[str, Any],
                   targets: Optional[Sequence[float]] = None) -> "Dataset":
        """A dataset of ``systems`` accumulated in shards, one per replica, then merged into one
        dataset on the first replica (``POST /v1/datasets/{id}/statistics``, each shard once).

        The merged statistics equal those of one replica given every structure (to rounding).
        """
        structures = to_structures(systems)
        target_list = None if targets is None else [float(t) for t in np.asarray(targets, dtype=float).ravel()]
        if not self._replicas:
            dataset = self.create_dataset(descriptor)
            dataset.add(structures, target_list)
            return dataset
        replicas = self._replicas
        live = replicas.alive()
        n = len(structures)
        count = max(1, min(len(live), n))
        bounds = [(k * n // count, (k + 1) * n // count) for k in range(count)]

        def shard(k: int) -> Tuple[int, str]:
            a, b = bounds[k]

            def run(client: "Client") -> Tuple[int, str]:
                dataset = client.create_dataset(descriptor)
                dataset.add(structures[a:b], None if target_list is None else target_list[a:b])
                return replicas.clients.index(client), dataset.id

            return replicas.call(live[k], run)

        with ThreadPoolExecutor(count, thread_name_prefix="soapd-shard") as pool:
            shards = list(pool.map(shard, range(count)))
        merged = self.create_dataset(descriptor)
        replicas.merge_statistics(shards, into=(0, merged.id))
        return self.dataset(merged.id)

    def run_jobs(self, systems: Any, descriptor: Mapping[str, Any], per: str = "atom", gradients: bool = False,
                 timeout: Optional[float] = None) -> Features:
        """Featurize ``systems`` as batch jobs, one shard per replica (a single job on one server);
        a shard whose replica dies is run again on another. Same result as one replica's job."""
        structures = to_structures(systems)
        body = {"descriptor": _descriptor(descriptor), "per": per, "gradients": bool(gradients)}
        if not self._replicas:
            job = self.submit(structures, descriptor, per=per, gradients=gradients)
            job.wait(progress=False, timeout=timeout)
            return job.result()
        parts = self._replicas.run_job_shards(structures, body, timeout=timeout)
        return Features.concatenate([f for _, f in parts], [a for a, _ in parts])

    def basis(self, id: str) -> "Basis":
        """A fitted basis by id (``GET /v1/bases/{id}``)."""
        return Basis(self, self._transport.json("GET", f"/v1/bases/{id}"))

    def bases(self, limit: int = 100, offset: int = 0) -> List["Basis"]:
        """Fitted bases, newest first."""
        data = self._transport.json("GET", "/v1/bases", params={"limit": limit, "offset": offset})
        return [Basis(self, b) for b in data["bases"]]

    # -- jobs ---------------------------------------------------------------------------
    def submit(
        self,
        systems: Any,
        descriptor: Mapping[str, Any],
        per: str = "atom",
        gradients: bool = False,
        fail_fast: bool = False,
        idempotency_key: Optional[str] = None,
    ) -> "Job":
        """Submit a batch job (``POST /v1/jobs``); ``systems`` may also be a :class:`Dataset` kept with its structures."""
        body: Dict[str, Any] = {"descriptor": _descriptor(descriptor), "per": per, "gradients": bool(gradients),
                                "fail_fast": bool(fail_fast)}
        if isinstance(systems, Dataset):
            body["dataset_id"] = systems.id
        else:
            body["structures"] = to_structures(systems)
        key = idempotency_key or uuid.uuid4().hex  # a retried submission answers the same job
        info = self._transport.json("POST", "/v1/jobs", body, headers={"Idempotency-Key": key})
        return Job(self, info["id"], info)

    def job(self, id: str) -> "Job":
        """An existing job by id (``GET /v1/jobs/{id}``)."""
        return Job(self, id, self._transport.json("GET", f"/v1/jobs/{id}"))

    def jobs(self, state: Optional[str] = None, limit: int = 100, offset: int = 0) -> List["Job"]:
        """Jobs, newest first, optionally only those in ``state``."""
        params: Dict[str, Any] = {"limit": limit, "offset": offset}
        if state:
            params["state"] = state
        data = self._transport.json("GET", "/v1/jobs", params=params)
        return [Job(self, j["id"], j) for j in data["jobs"]]


class Dataset:
    """A server-side dataset accumulating expansion covariances (for fitting optimal bases)."""

    def __init__(self, client: Client, id: str, info: Optional[Dict[str, Any]] = None) -> None:
        self.client = client
        self.id = id
        self._info = info or {}

    def __repr__(self) -> str:
        return f"soapd.Dataset({self.id!r})"

    def add(self, systems: Any, targets: Optional[Sequence[float]] = None, progress: bool = False) -> Dict[str, Any]:
        """Add structures (and optionally one target each) in batches, each with its own Idempotency-Key.

        Batches are sent in order; a retried batch counts once. Returns the dataset after the last batch.
        """
        structures = to_structures(systems)
        target_list = None
        if targets is not None:
            target_list = [float(t) for t in np.asarray(targets, dtype=float).ravel()]
            if len(target_list) != len(structures):
                raise ValueError(f"{len(target_list)} targets for {len(structures)} structures")

        def send(start: int, end: int) -> Dict[str, Any]:
            body: Dict[str, Any] = {"structures": structures[start:end]}
            if target_list is not None:
                body["targets"] = target_list[start:end]
            return self.client._transport.json("POST", f"/v1/datasets/{self.id}/structures", body,
                                               headers={"Idempotency-Key": uuid.uuid4().hex})

        results = self.client._run(structures, send, concurrent=False, progress=progress, desc="adding")
        if results:
            self._info = results[-1][1]
        return self._info

    def info(self, matrices: bool = False) -> Dict[str, Any]:
        """The dataset's counts (``GET /v1/datasets/{id}``; with ``matrices`` its covariance sums)."""
        params = {"matrices": "true"} if matrices else None
        self._info = self.client._transport.json("GET", f"/v1/datasets/{self.id}", params=params)
        return self._info


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


class Job:
    """A server-side batch featurization job."""

    FINAL_STATES = ("succeeded", "failed", "cancelled")

    def __init__(self, client: Client, id: str, info: Optional[Dict[str, Any]] = None) -> None:
        self.client = client
        self.id = id
        self._info = info or {}

    def __repr__(self) -> str:
        return f"soapd.Job({self.id!r}, state={self._info.get('state')!r})"

    @property
    def state(self) -> Optional[str]:
        """The state last seen (call :meth:`status` to refresh)."""
        return self._info.get("state")

    @property
    def errors(self) -> List[Dict[str, Any]]:
        """Per-structure errors last seen (structures skipped)."""
        return list(self._info.get("errors", []))

    def status(self, wait: Optional[float] = None) -> Dict[str, Any]:
        """The job's state and progress (``GET /v1/jobs/{id}``; ``wait`` long-polls up to that many seconds)."""
        params = {"wait": f"{min(max(wait, 0.0), 60.0):g}"} if wait else None
        self._info = self.client._transport.json("GET", f"/v1/jobs/{self.id}", params=params)
        return self._info

    def wait(self, progress: bool = True, timeout: Optional[float] = None) -> Dict[str, Any]:
        """Wait until the job ends; returns its final status.

        Shows a tqdm bar of structures done and atoms/s when ``progress`` and tqdm is
        installed. Raises :class:`soapd.JobFailed` when it failed or was cancelled and
        TimeoutError after ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        info = self.status()
        total = info.get("progress", {}).get("structures_total")
        bar = progress_bar(progress, total, f"job {self.id[:8]}")
        try:
            while True:
                p = info.get("progress", {})
                done = int(p.get("structures_done", 0))
                if done > bar.n:
                    bar.update(done - bar.n)
                if p.get("atoms_per_second"):
                    bar.set_postfix_str(f"{p['atoms_per_second']:.0f} atoms/s")
                if info.get("state") in self.FINAL_STATES:
                    break
                poll = 1.0 if progress else 30.0
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise TimeoutError(f"job {self.id} still {info.get('state')} after {timeout} s")
                    poll = min(poll, left)
                info = self.status(wait=max(poll, 0.05))
        finally:
            bar.close()
        if info["state"] != "succeeded":
            raise JobFailed(409, f"job {info['state']}", info.get("error", ""), None, info)
        return info

    def result(self) -> Features:
        """The features of a succeeded job, streamed from its npz result (structures keep the job's indices)."""
        response = self.client._transport.request("GET", f"/v1/jobs/{self.id}/result", accept=NPZ, stream=True)
        with tempfile.TemporaryFile() as tmp:
            try:
                for chunk in response.iter_bytes(1 << 20):
                    tmp.write(chunk)
            finally:
                response.close()
            tmp.seek(0)
            return Features.from_npz(tmp)

    def cancel(self) -> Optional[Dict[str, Any]]:
        """Cancel a queued or running job (returns it, cancelled); remove a finished one and its result (None)."""
        info = self.client._transport.json("DELETE", f"/v1/jobs/{self.id}")
        if info is not None:
            self._info = info
        return info
