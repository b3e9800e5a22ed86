#!/usr/bin/env bash
# Quick start: install what is missing, build the executables, and run the platform in standalone mode
# (embedded database under ./data, in-process bus, embedded worker). Ctrl-C stops it.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/setup.sh
ensure_node_deps
ensure_ffmpeg || { log "FFmpeg is required"; exit 1; }
# Rebuilt only when src/, plugins/, migrations/, the lock file or Bun changed (a stamp in dist/: scripts/build.ts).
log "building dist/webencode-kernel and dist/webencode-worker (when sources changed)"
"$BUN" scripts/build.ts --if-changed >&2
log "starting the kernel in standalone mode on http://${HOST:-127.0.0.1}:${PORT:-8080} (Swagger UI at /swagger)"
exec ./dist/webencode-kernel "$@"
