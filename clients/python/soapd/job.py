"""Batch featurization jobs: :class:`Job` (state, waiting, result) and the client's operations
submitting and listing them, including one job sharded over several replicas."""
from __future__ import annotations

import tempfile
import time
import uuid
from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional

from ._errors import JobFailed
from ._features import Features
from ._progress import progress_bar
from ._requests import NPZ, descriptor_object
from ._systems import to_structures
from .dataset import Dataset

if TYPE_CHECKING:  # pragma: no cover
    from .client import Client


class JobsMixin:
    """Job operations of :class:`~soapd.Client`."""

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
        body: Dict[str, Any] = {"descriptor": descriptor_object(descriptor), "per": per, "gradients": bool(gradients),
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

    def run_jobs(self, systems: Any, descriptor: Mapping[str, Any], per: str = "atom", gradients: bool = False,
                 timeout: Optional[float] = None) -> Features:
        """Featurize ``systems`` as batch jobs, one shard per replica (a single job on one server);
        a shard whose replica dies is run again on another. Same result as one replica's job."""
        structures = to_structures(systems)
        body = {"descriptor": descriptor_object(descriptor), "per": per, "gradients": bool(gradients)}
        if not self._replicas:
            job = self.submit(structures, descriptor, per=per, gradients=gradients)
            job.wait(progress=False, timeout=timeout)
            return job.result()
        parts = self._replicas.run_job_shards(structures, body, timeout=timeout)
        return Features.concatenate([f for _, f in parts], [a for a, _ in parts])


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
