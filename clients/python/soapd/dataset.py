"""Server-side datasets: :class:`Dataset` (accumulating expansion covariances) and the client's
dataset operations, including accumulating one dataset in shards over several replicas."""
from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Dict, Mapping, Optional, Sequence, Tuple

import numpy as np

from ._requests import descriptor_object
from ._systems import to_structures

if TYPE_CHECKING:  # pragma: no cover
    from .client import Client


class DatasetsMixin:
    """Dataset operations of :class:`~soapd.Client`."""

    def create_dataset(self, descriptor: Mapping[str, Any], keep_structures: bool = False) -> "Dataset":
        """Create a dataset accumulator (``POST /v1/datasets``) for ``descriptor`` (``species`` + ``hypers``)."""
        desc = {k: v for k, v in descriptor_object(descriptor).items() if k in ("species", "hypers")}
        info = self._transport.json("POST", "/v1/datasets", {"descriptor": desc, "keep_structures": bool(keep_structures)})
        return Dataset(self, info["id"], info)

    def dataset(self, id: str) -> "Dataset":
        """An existing dataset by id."""
        return Dataset(self, id, self._transport.json("GET", f"/v1/datasets/{id}"))

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
