"""Real peer servers started by the tests on loopback (never a mock)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def serving_app(store, settings, *, port: int = 0, threads: int = 8) -> Iterator[str]:
    """The whole application (``create_app``) served by waitress in a thread on loopback; yields
    ``http://127.0.0.1:PORT`` (a fixed ``port`` lets a restarted server answer at the same URL)."""
    import threading

    from waitress.server import create_server

    from web.app import create_app
    app = create_app(store, settings)
    server = create_server(app, host="127.0.0.1", port=port, threads=threads)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.close()
        # and the keep-alive connections clients still hold, which would keep the port bound
        for channel in list(server._map.values()):
            channel.close()
        server.task_dispatcher.shutdown()
        app.extensions["mouseion.executor"].close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_answering(url: str, process: subprocess.Popen, timeout: float = 60.0) -> None:
    """Poll a real request until the server answers: the condition, not a guessed delay, ends the wait."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError:
            return  # it answered, even if with an error status
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {timeout} s")


@contextmanager
def oxigraph_server(location: Path) -> Iterator[str]:
    """`oxigraph serve` (from the `oxigraph` PyPI package) with a union default graph; yields its base URL."""
    binary = shutil.which("oxigraph")
    if binary is None:
        raise RuntimeError("the oxigraph server binary is missing: pip install oxigraph")
    port = free_port()
    process = subprocess.Popen([binary, "serve", "--location", str(location), "--bind", f"127.0.0.1:{port}",
                                "--union-default-graph"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answering(f"{url}/query?query=ASK%7B%7D", process)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)
