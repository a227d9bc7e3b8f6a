#!/usr/bin/env bash
# Install the Node.js packages of the Minecraft sidecar (mineflayer, mineflayer-pathfinder and the
# flying-squid test server, pinned in envs/minecraft/package.json) into a cache folder, so tests and
# runs need no internet afterwards.
#   usage: scripts/install_minecraft.sh [CACHE_DIR]     (default: .cache/minecraft-node)
# The env finds the packages through EMBODIED_MEM_MC_NODE_MODULES or this default folder.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST=${1:-${EMBODIED_MEM_MC_NODE_DIR:-.cache/minecraft-node}}
command -v node >/dev/null || { echo "node not found: install Node.js >= 18 (e.g. apt-get install nodejs npm)" >&2; exit 1; }
command -v npm >/dev/null || { echo "npm not found: install npm" >&2; exit 1; }
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 18 ]; then echo "Node.js >= 18 needed, found $(node --version)" >&2; exit 1; fi
mkdir -p "$DEST"
cp envs/minecraft/package.json "$DEST/package.json"
( cd "$DEST" && npm install --no-audit --no-fund --omit=dev --loglevel=error )
echo "Minecraft sidecar packages installed in $DEST/node_modules"
