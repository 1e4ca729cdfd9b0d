"""Exceptions raised by the soapd client."""
from __future__ import annotations

import builtins
from typing import Any, Mapping, Optional


class MissingDependency(ImportError):
    """An optional dependency needed by the requested feature is not installed.

    The message names the ``pip install`` command that provides it.
    """

    def __init__(self, package: str, feature: str, extra: Optional[str] = None) -> None:
        target = f"soapd[{extra}]" if extra else package
        super().__init__(
            f"{feature} needs the optional dependency '{package}', which is not "
            f"installed: run `pip install {target}`"
        )
        self.package = package
        self.feature = feature


class SoapdError(Exception):
    """An error answered by the soapd server (an RFC 9457 problem document).

    Attributes:
        status: the HTTP status code.
        title: the problem's title.
        detail: the problem's detail (pointers renumbered to the caller's list).
        pointer: JSON pointer into the request the caller built (structure
            indices are the caller's, also after the client split the list).
        problem: the full problem document as received (pointer renumbered).
    """

    def __init__(
        self,
        status: int,
        title: str = "",
        detail: str = "",
        pointer: Optional[str] = None,
        problem: Optional[Mapping[str, Any]] = None,
    ) -> None:
        self.status = int(status)
        self.title = title or ""
        self.detail = detail or ""
        self.pointer = pointer
        self.problem = dict(problem or {})
        text = f"{self.status} {self.title}".strip()
        if self.detail:
            text += f": {self.detail}"
        super().__init__(text)

    @classmethod
    def from_problem(cls, status: int, problem: Mapping[str, Any]) -> "SoapdError":
        """Build an error from a problem+json document."""
        return cls(
            status,
            title=str(problem.get("title", "")),
            detail=str(problem.get("detail", "")),
            pointer=problem.get("pointer"),
            problem=problem,
        )

    def with_structure_offset(self, offset: int, prefixes: tuple = ("/structures/", "/targets/")) -> "SoapdError":
        """Return a copy whose pointers name the caller's index (batch index + ``offset``)."""
        if offset == 0 or not self.pointer:
            return self
        pointer, detail = self.pointer, self.detail
        for prefix in prefixes:
            if pointer.startswith(prefix):
                rest = pointer[len(prefix):]
                index, sep, tail = rest.partition("/")
                if index.isdigit():
                    new = f"{prefix}{int(index) + offset}{sep}{tail}"
                    detail = detail.replace(pointer, new)
                    pointer = new
                break
        problem = dict(self.problem, pointer=pointer, detail=detail)
        return type(self)(self.status, self.title, detail, pointer, problem)


class JobFailed(SoapdError):
    """A batch job ended as failed or cancelled (raised by :meth:`soapd.Job.wait`)."""


class ConnectionError(builtins.ConnectionError):  # noqa: A001 - deliberate: soapd.ConnectionError
    """The soapd server could not be reached (not running, wrong URL, network error).

    A subclass of the built-in :class:`ConnectionError`; the message names the URL.
    """

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot reach the soapd server at {url}: {reason}")
        self.url = url
        self.reason = reason
