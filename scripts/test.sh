#!/usr/bin/env bash
# Run the whole test suite. DDS (Cyclone) and Ray bind to every interface, so when we can (root),
# the suite runs inside a private network namespace where only loopback exists; tests that need
# it (marker `netns`) are skipped otherwise.
set -uo pipefail
VENV=${1:-.venv}
shift || true
cd "$(dirname "$0")/.."
export PATH="$PWD/$VENV/bin:$PATH"
export HF_HUB_OFFLINE=1 PYTHONDONTWRITEBYTECODE=1 MPLBACKEND=Agg
if unshare -n true 2>/dev/null; then
  exec unshare -n bash -c 'ip link set lo up && EMBODIED_MEM_NETNS=1 exec python -m pytest -q -p no:cacheprovider "$@"' bash "$@"
else
  echo "note: no private network namespace (not root?): tests marked netns will be skipped"
  exec python -m pytest -q -p no:cacheprovider "$@"
fi
