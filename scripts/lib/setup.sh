# Shared by scripts/start.sh and scripts/test.sh: install what a fresh Debian machine with Node.js and
# npm lacks. Sourced, not executed.

log() { printf '\033[1m[webencode]\033[0m %s\n' "$*" >&2; }

as_root() { [ "$(id -u)" = 0 ]; }

apt_install() {
  # $@: Debian packages. Only as root; otherwise say exactly what to install.
  if ! as_root; then
    log "missing: $* — install it with: sudo apt-get install -y $*"
    return 1
  fi
  if [ -z "${WEBENCODE_APT_UPDATED:-}" ]; then
    apt-get update -qq >/dev/null 2>&1 || true
    export WEBENCODE_APT_UPDATED=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_node_deps() {
  # npm ci when node_modules is missing or older than the lockfile. Bun comes in as a devDependency.
  # Also when a dependency patch in patches/ changed (npm ci's postinstall applies them with patch-package).
  if [ ! -x node_modules/.bin/bun ] || [ package-lock.json -nt node_modules/.package-lock.json ] \
    || [ -n "$(find patches -newer node_modules/.package-lock.json 2>/dev/null | head -1)" ]; then
    log "installing npm dependencies (including Bun)"
    npm ci --no-audit --no-fund --loglevel=error >&2
  fi
  BUN="$PWD/node_modules/.bin/bun"
  export BUN
  # Tests and scripts that start `bun` (or tsc) by name find the project's own copies first.
  export PATH="$PWD/node_modules/.bin:$PATH"
}

ensure_ffmpeg() {
  if command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null; then return 0; fi
  log "FFmpeg not found; installing it from Debian"
  apt_install ffmpeg
}
