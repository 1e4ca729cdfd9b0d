"""Fixtures: the real soapd release binary on free loopback ports, and a scriptable loopback proxy."""
from __future__ import annotations

import json
import os
import re
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable, Dict, List, Optional

import httpx
import pytest

REPO = Path(__file__).resolve().parents[3]

HYPERS = {
    "cutoff": {"radius": 3.5, "smoothing": {"type": "ShiftedCosine", "width": 0.5}},
    "density": {"type": "Gaussian", "width": 0.3},
    "basis": {"type": "TensorProduct", "max_angular": 3, "radial": {"type": "Gto", "max_radial": 3}},
}


class Server:
    """A soapd process serving on 127.0.0.1 at a port it chose (port 0), with a temporary database."""

    def __init__(self, binary: Path, directory: Path, *flags: str) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.log: List[str] = []
        self.process = subprocess.Popen(
            [str(binary), "serve", "--host", "127.0.0.1", "--port", "0", "--database", str(directory / "db.sqlite"),
             "--data-directory", str(directory), *flags],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        found = threading.Event()
        self.port: Optional[int] = None

        def drain() -> None:
            for line in self.process.stderr:
                self.log.append(line)
                if self.port is None:
                    m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
                    if m:
                        self.port = int(m.group(1))
                        found.set()
            found.set()

        threading.Thread(target=drain, daemon=True).start()
        if not found.wait(30) or self.port is None:
            self.stop()
            raise RuntimeError(f"soapd did not start: {''.join(self.log)[-2000:]}")
        self.url = f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@pytest.fixture(scope="session")
def binary() -> Path:
    path = Path(os.environ.get("SOAPD_BINARY", REPO / ".build/release/soapd"))
    if not path.is_absolute():
        path = REPO / path
    if not path.exists():
        pytest.fail(f"no soapd binary at {path}: build it (swift build -c release --product soapd) or set SOAPD_BINARY")
    return path


@pytest.fixture(scope="session")
def server(binary: Path, tmp_path_factory: pytest.TempPathFactory):
    s = Server(binary, tmp_path_factory.mktemp("soapd"), "--log-level", "warning")
    yield s
    s.stop()


@pytest.fixture(scope="session")
def small_server(binary: Path, tmp_path_factory: pytest.TempPathFactory):
    """A server that refuses requests of more than 10 structures."""
    s = Server(binary, tmp_path_factory.mktemp("soapd-small"), "--max-structures", "10", "--log-level", "warning")
    yield s
    s.stop()


@pytest.fixture()
def client(server: Server):
    import soapd

    with soapd.Client(server.url) as c:
        yield c


@pytest.fixture()
def hypers() -> Dict:
    return json.loads(json.dumps(HYPERS))


class Proxy:
    """A loopback HTTP/1.1 server that records requests and answers from a script, else forwards upstream.

    ``script(handler_request) -> None | (status, headers, body)`` decides per request.
    """

    def __init__(self, upstream: str) -> None:
        self.upstream = httpx.Client(base_url=upstream, timeout=60)
        self.requests: List[Dict] = []
        self.script: Callable[[Dict], Optional[tuple]] = lambda request: None
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = {"method": self.command, "path": self.path, "headers": dict(self.headers), "body": body,
                           "peer": self.client_address}
                with proxy.lock:
                    proxy.requests.append(request)
                    answer = proxy.script(request)
                if answer is None:
                    headers = {k: v for k, v in self.headers.items()
                               if k.lower() in ("content-type", "content-encoding", "accept", "idempotency-key")}
                    headers["Accept-Encoding"] = "identity"
                    r = proxy.upstream.request(self.command, self.path, content=body or None, headers=headers)
                    answer = (r.status_code, {"Content-Type": r.headers.get("content-type", "application/octet-stream")}, r.content)
                status, headers, payload = answer
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_DELETE = _handle

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.upstream.close()


@pytest.fixture()
def proxy(server: Server):
    p = Proxy(server.url)
    yield p
    p.close()


@pytest.fixture()
def small_proxy(small_server: Server):
    """A proxy in front of the server started with --max-structures 10."""
    p = Proxy(small_server.url)
    yield p
    p.close()


def problem(status: int, title: str, headers: Optional[Dict[str, str]] = None) -> tuple:
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": title}).encode()
    return status, {"Content-Type": "application/problem+json", **(headers or {})}, body
