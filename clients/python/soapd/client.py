"""The soapd client: :class:`Client`, the facade over features, datasets, fitted bases and batch jobs.

Its operations live with their ideas: limits in ``_limits``, batching in ``_splitting``,
VJPs in ``_vjp``, datasets in ``dataset``, bases in ``basis``, jobs in ``job``,
several replicas used as one in ``_fanout``.
"""
from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from ._fanout import Replicas
from ._features import Features
from ._limits import LimitsMixin, ServerLimits
from ._requests import NPZ, descriptor_object
from ._splitting import SplittingMixin
from ._systems import to_structures
from ._transport import Transport
from ._vjp import VJPMixin
from .basis import BasesMixin, Basis
from .dataset import Dataset, DatasetsMixin
from .job import Job, JobsMixin

__all__ = ["Basis", "Client", "Dataset", "Job", "ServerLimits"]

DEFAULT_URL = "http://127.0.0.1:8080"


class Client(LimitsMixin, SplittingMixin, VJPMixin, DatasetsMixin, BasesMixin, JobsMixin):
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

    # -- server ---------------------------------------------------------------------
    def health(self) -> Dict[str, Any]:
        """``GET /health``: ``{"status": "ok", "version": ...}``."""
        return self._transport.json("GET", "/health")

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
        desc = descriptor_object(descriptor)

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
