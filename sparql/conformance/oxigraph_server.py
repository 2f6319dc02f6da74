"""The reference server: ``oxigraph serve`` (from the ``oxigraph`` PyPI package) on loopback.

Its score shows what a mature SPARQL 1.1 implementation achieves under this runner, so a lower
score elsewhere points at the endpoint rather than at the runner.

>>> with OxigraphServer() as server:
...     server.endpoint().query_url.endswith("/query")
True
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from .runner import GSP_FEATURES, Endpoint

#: How long a freshly started server may take to answer its first query.
STARTUP_TIMEOUT_S = 30.0


class OxigraphServer:
    """``oxigraph serve --location <temporary directory> --bind 127.0.0.1:<free port>``, as a context manager."""

    def __init__(self, binary: str = "oxigraph", location: Path | None = None, extra_args: tuple[str, ...] = ()):
        self.binary = shutil.which(binary) or binary
        self.extra_args = tuple(extra_args)  # e.g. ("--union-default-graph",)
        self._own_location = location is None
        self.location = Path(location) if location else None
        self.process: subprocess.Popen | None = None
        self.url = ""

    def endpoint(self) -> Endpoint:
        return Endpoint(
            query_url=f"{self.url}/query",
            update_url=f"{self.url}/update",
            graph_store_url=f"{self.url}/store",
            graph_store_features=GSP_FEATURES,  # /store/{path} is direct graph identification
        )

    def start(self) -> OxigraphServer:
        if self._own_location:
            self.location = Path(tempfile.mkdtemp(prefix="oxigraph-conformance-"))
        self.location.mkdir(parents=True, exist_ok=True)
        self._log = (self.location / "server.log").open("w+b")
        for _ in range(3):  # another process may take the free port between choosing and binding it
            port = _free_port()
            self.url = f"http://127.0.0.1:{port}"
            bind = f"127.0.0.1:{port}"
            self.process = subprocess.Popen(
                [self.binary, "serve", "--location", str(self.location / "db"), "--bind", bind, *self.extra_args],
                stdout=self._log,
                stderr=subprocess.STDOUT,
            )
            if self._wait_until_ready():
                return self
        self.stop()
        raise RuntimeError(f"oxigraph serve did not start: {self._log_text()}")

    def _wait_until_ready(self) -> bool:
        """Poll a real query until it is answered; False if the process died first."""
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        probe = f"{self.url}/query?query=ASK%7B%7D"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                with urllib.request.urlopen(probe, timeout=2) as response:
                    if response.status == 200:
                        return True
            except OSError:  # URLError, refused, reset, timeout: not up yet
                time.sleep(0.02)
        self.stop()
        raise TimeoutError(f"oxigraph serve did not answer within {STARTUP_TIMEOUT_S} s: {self._log_text()}")

    def _log_text(self) -> str:
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")[-2000:]

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if getattr(self, "_log", None) is not None:
            self._log.close()
            self._log = None
        if self._own_location and self.location is not None:
            shutil.rmtree(self.location, ignore_errors=True)
            self.location = None

    def __enter__(self) -> OxigraphServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
