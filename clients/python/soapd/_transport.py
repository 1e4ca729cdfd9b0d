"""HTTP transport: one keep-alive connection pool, gzip uploads, retries, problem+json errors."""
from __future__ import annotations

import email.utils
import gzip
import json
import random
import time
from typing import Any, Dict, Mapping, Optional

import httpx

from ._errors import ConnectionError, SoapdError

#: Statuses answered with Retry-After when the server is saturated or rate limiting.
RETRY_STATUSES = (429, 503)


def _retry_after(response: httpx.Response) -> Optional[float]:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())


def _problem(response: httpx.Response) -> Dict[str, Any]:
    try:
        data = response.json()
        if isinstance(data, dict):
            return data
    except (ValueError, UnicodeDecodeError):
        pass
    return {"title": response.reason_phrase, "detail": response.text[:500]}


class Transport:
    """A thread-safe HTTP/1.1 session with the soapd server.

    Args:
        url: base URL of the server.
        token: bearer token sent with every request, if any.
        timeout: seconds for connecting and for each read (httpx semantics).
        retries: attempts after the first for 429/503 answers and connection failures.
        max_retry_wait: upper bound of one wait between attempts, in seconds.
        gzip_threshold: request bodies larger than this many bytes are gzipped.
        pool_size: keep-alive connections kept open (and concurrent requests).
    """

    def __init__(
        self,
        url: str,
        token: Optional[str] = None,
        timeout: float = 300.0,
        retries: int = 5,
        max_retry_wait: float = 30.0,
        gzip_threshold: int = 64 * 1024,
        pool_size: int = 8,
    ) -> None:
        self.url = url.rstrip("/")
        self.retries = retries
        self.max_retry_wait = max_retry_wait
        self.gzip_threshold = gzip_threshold
        headers = {"User-Agent": "soapd-python/0.1", "Accept-Encoding": "gzip"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            base_url=self.url,
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=httpx.Limits(max_connections=pool_size, max_keepalive_connections=pool_size, keepalive_expiry=20.0),
        )

    def close(self) -> None:
        self._http.close()

    def _encode(self, body: Any) -> tuple:
        if isinstance(body, (bytes, bytearray)):  # a binary upload: the caller sets Content-Type
            return bytes(body), {}
        data = json.dumps(body, separators=(",", ":"), allow_nan=False).encode()
        headers = {"Content-Type": "application/json"}
        if len(data) > self.gzip_threshold:
            data = gzip.compress(data, compresslevel=3)
            headers["Content-Encoding"] = "gzip"
        return data, headers

    def _wait(self, attempt: int, suggested: Optional[float]) -> None:
        delay = suggested if suggested is not None else min(0.2 * 2**attempt, 5.0) * (0.5 + random.random())
        time.sleep(min(delay, self.max_retry_wait))

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: Optional[Mapping[str, Any]] = None,
        headers: Optional[Mapping[str, str]] = None,
        accept: str = "application/json",
        stream: bool = False,
        raw: Optional[bytes] = None,
        content_type: Optional[str] = None,
    ) -> httpx.Response:
        """Send a request; return the (2xx) response or raise SoapdError / ConnectionError.

        With ``stream=True`` the caller must close the returned response. ``raw`` sends bytes
        as they are, declared ``content_type``, instead of a JSON ``body``.
        """
        all_headers = {"Accept": accept, **(headers or {})}
        content = None
        if body is not None:
            content, extra = self._encode(body)
            all_headers.update(extra)
        elif raw is not None:
            content = raw
            all_headers["Content-Type"] = content_type or "application/octet-stream"
        attempt = 0
        while True:
            request = self._http.build_request(method, path, content=content, params=params, headers=all_headers)
            try:
                response = self._http.send(request, stream=stream)
            except httpx.TimeoutException as exc:
                raise TimeoutError(f"soapd at {self.url} did not answer {method} {path} in time ({type(exc).__name__})") from None
            except (httpx.TransportError, OSError) as exc:
                # A refused connection is retried once (a server not running fails fast);
                # a dropped keep-alive connection or a reset as often as 503s are.
                budget = 1 if isinstance(exc, httpx.ConnectError) else self.retries
                if attempt < budget and not isinstance(exc, httpx.UnsupportedProtocol):
                    time.sleep(0.1 * 2**attempt)
                    attempt += 1
                    continue
                raise ConnectionError(self.url, str(exc) or type(exc).__name__) from None
            if response.status_code < 400:
                return response
            try:
                if stream:
                    response.read()
            finally:
                response.close()
            if response.status_code in RETRY_STATUSES and attempt < self.retries:
                self._wait(attempt, _retry_after(response))
                attempt += 1
                continue
            raise SoapdError.from_problem(response.status_code, _problem(response)) from None

    def json(self, method: str, path: str, body: Any = None, **kwargs: Any) -> Any:
        """Send a request and decode its JSON answer (None for 204)."""
        response = self.request(method, path, body, **kwargs)
        if response.status_code == 204 or not response.content:
            return None
        return response.json()
