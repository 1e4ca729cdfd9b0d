"""Splitting a list of structures into requests within the server's and the client's limits:
batch planning, halving a batch the server refuses with 413, structure indices (error pointers
included) remapped to the caller's, batches sent concurrently in a thread pool."""
from __future__ import annotations

import re
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import Any, Callable, List, Sequence, Tuple

from ._errors import SoapdError
from ._progress import progress_bar
from ._systems import Structure, atom_count

_STRUCTURE_POINTER = re.compile(r"^/(structures|targets)/\d+")


class SplittingMixin:
    """Batching of :class:`~soapd.Client` (uses ``limits()``, ``batch_structures``, ``batch_atoms``,
    ``concurrency``, ``_lock``, ``_pool`` and ``_learned_max_structures``)."""

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.concurrency, thread_name_prefix="soapd")
            return self._pool

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
