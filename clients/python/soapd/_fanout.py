"""Several soapd replicas used as one (issue 16): batches spread round-robin, a batch whose
replica dies retried on another, bases copied to every replica by content id, datasets
accumulated in shards and merged, jobs sharded."""
from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Any, Callable, List, Optional, Sequence, Tuple

from ._errors import ConnectionError, SoapdError

if TYPE_CHECKING:  # pragma: no cover
    from .client import Client

BASIS = "application/x-soapd-basis"
STATISTICS = "application/x-soapd-statistics"


def _replica_failed(exc: BaseException) -> bool:
    """Whether ``exc`` means the replica is gone or broken (try another), not that the request is wrong."""
    if isinstance(exc, (ConnectionError, TimeoutError)):
        return True
    return isinstance(exc, SoapdError) and exc.status in (502, 503, 504)


class Replicas:
    """The replicas of one :class:`~soapd.Client` made with a list of URLs."""

    def __init__(self, clients: Sequence["Client"]) -> None:
        self.clients = list(clients)
        self._dead: set = set()
        self._lock = threading.Lock()
        self._next = 0

    def __len__(self) -> int:
        return len(self.clients)

    def alive(self) -> List[int]:
        with self._lock:
            live = [i for i in range(len(self.clients)) if i not in self._dead]
        if not live:
            raise ConnectionError(", ".join(c.url for c in self.clients), "no replica answers")
        return live

    def mark_dead(self, index: int) -> None:
        with self._lock:
            self._dead.add(index)

    def pick(self) -> int:
        """The next live replica, round-robin."""
        live = self.alive()
        with self._lock:
            self._next += 1
            return live[self._next % len(live)]

    def call(self, first: int, work: Callable[["Client"], Any]) -> Any:
        """``work(replica)`` on replica ``first``, then on each other live one if a replica fails."""
        tried: set = set()
        index = first
        while True:
            tried.add(index)
            try:
                return work(self.clients[index])
            except Exception as exc:  # noqa: BLE001 - re-raised unless the replica is at fault
                if not _replica_failed(exc):
                    raise
                self.mark_dead(index)
                others = [i for i in self.alive() if i not in tried]
                if not others:
                    raise
                index = others[0]

    # -- features ---------------------------------------------------------------------------
    def run_batches(self, ranges: Sequence[Tuple[int, int]], send: Callable[["Client", int, int], Any],
                    concurrency: int) -> List[Tuple[int, Any]]:
        """Each [start, end) range on a replica (round-robin, retried elsewhere if its replica
        fails); results in the ranges' order. Each range's result is taken exactly once."""
        def one(k: int) -> Tuple[int, Any]:
            a, b = ranges[k]
            first = k % len(self.clients)
            if first not in self.alive():
                first = self.pick()
            return a, self.call(first, lambda c: send(c, a, b))

        workers = max(1, min(len(ranges), concurrency * len(self.clients)))
        with ThreadPoolExecutor(workers, thread_name_prefix="soapd-fanout") as pool:
            return list(pool.map(one, range(len(ranges))))

    # -- bases ----------------------------------------------------------------------------------
    def share_basis(self, basis_id: str, source: int = 0) -> None:
        """Copy a basis from replica ``source`` to every other live one (``PUT /v1/bases/{id}``)."""
        document = self.clients[source]._transport.request(
            "GET", f"/v1/bases/{basis_id}", accept=BASIS).content
        for i in self.alive():
            if i != source:
                self.clients[i]._transport.request(
                    "PUT", f"/v1/bases/{basis_id}", raw=document, content_type=BASIS)

    # -- datasets ---------------------------------------------------------------------------------
    def merge_statistics(self, shards: Sequence[Tuple[int, str]], into: Tuple[int, str]) -> Any:
        """Add each shard dataset's statistics into dataset ``into`` (``(replica, id)``), once each."""
        target, target_id = into
        info = None
        for replica, dataset_id in shards:
            if (replica, dataset_id) == into:
                continue
            document = self.clients[replica]._transport.request(
                "GET", f"/v1/datasets/{dataset_id}/statistics", accept=STATISTICS).content
            info = self.clients[target]._transport.request(
                "POST", f"/v1/datasets/{target_id}/statistics", raw=document, content_type=STATISTICS,
                headers={"Idempotency-Key": f"merge-{dataset_id}"}).json()
        return info

    # -- jobs -----------------------------------------------------------------------------------------
    def run_job_shards(self, structures: Sequence[Any], body: dict, poll: float = 0.2,
                       timeout: Optional[float] = None) -> List[Tuple[int, Any]]:
        """Structures in contiguous shards, one job per live replica; a shard whose replica
        fails (even mid-way) is submitted again on another. Results in the caller's order."""
        from ._features import Features

        live = self.alive()
        n = len(structures)
        count = max(1, min(len(live), n))
        bounds = [(k * n // count, (k + 1) * n // count) for k in range(count)]
        deadline = None if timeout is None else time.monotonic() + timeout

        def shard(k: int) -> Tuple[int, Any]:
            a, b = bounds[k]
            key = f"shard-{uuid.uuid4().hex}"

            def run(client: "Client") -> Any:
                info = client._transport.json("POST", "/v1/jobs", {**body, "structures": list(structures[a:b])},
                                              headers={"Idempotency-Key": key})
                job = info["id"]
                while info.get("state") not in ("succeeded", "failed", "cancelled"):
                    if deadline is not None and time.monotonic() > deadline:
                        raise TimeoutError(f"job {job} on {client.url} did not finish in time")
                    time.sleep(poll)
                    info = client._transport.json("GET", f"/v1/jobs/{job}")
                if info["state"] != "succeeded":
                    raise SoapdError.from_problem(500, {"title": "Job failed", "detail": str(info.get("error"))})
                response = client._transport.request("GET", f"/v1/jobs/{job}/result", accept="application/x-npz")
                return Features.from_npz(response.content)

            return a, self.call(live[k], run)

        with ThreadPoolExecutor(count, thread_name_prefix="soapd-shard") as pool:
            return list(pool.map(shard, range(count)))
