#!/usr/bin/env bash
# Installs WebEncode on a host: binaries, the `webencode` system user, directories, environment files and
# systemd units. Run as root from an unpacked release archive (./install.sh) or from a checkout after
# `npm run build` (scripts/install.sh).
#
#   install.sh [--kernel] [--worker] [--workers N] [--destdir DIR] [--bindir DIR] [--from DIR]
#   install.sh --upgrade [--bindir DIR] [--from DIR]      replace the installed binaries, keep the old ones
#   install.sh --rollback [--bindir DIR]                  put the binaries kept by the last --upgrade back
#
# Without options: the kernel alone, in standalone mode (embedded database, bus and worker): no worker unit,
# which would wait for a NATS server that a standalone host does not have. --worker installs the worker unit
# (distributed mode: NATS_URL in worker.env); --workers N enables N instances of webencode-worker@.service
# instead. --kernel with either installs both. --destdir installs into a staging root (packaging, tests): no
# user is created and systemd is not touched; the units that would be enabled are printed all the same.
# --from DIR takes the executables from DIR instead of the archive's directory (or the checkout's dist/).
# --upgrade follows the runbook's order for whatever is installed in BINDIR: stop the kernel, replace the
# binaries (the old ones stay as <name>.prev), `webencode-kernel migrate`, start the kernel, then restart
# the running workers one at a time (SIGTERM drains each: running tasks finish or are handed back).
# --rollback swaps <name>.prev back in the same order; migrations stay applied (docs/deployment.md).
set -euo pipefail
CALLER_PWD=$PWD
HERE=$(cd "$(dirname "$0")" && pwd)
# An unpacked release has its binaries, units and docs next to this script; a checkout has them one level up.
if [ -f "$HERE/MANIFEST.json" ] && [ -d "$HERE/systemd" ]; then SRC=$HERE; FROM=$HERE; else SRC=$(dirname "$HERE"); FROM=$SRC/dist; fi
cd "$SRC"

KERNEL=0; WORKER=0; INSTANCES=0; DESTDIR=""; BINDIR=/usr/local/bin; MODE=install
while [ $# -gt 0 ]; do
  case "$1" in
    --kernel) KERNEL=1 ;;
    --worker) WORKER=1 ;;
    --workers) WORKER=1; INSTANCES="${2:-}"; shift ;;
    --destdir) DESTDIR="$2"; shift ;;
    --bindir) BINDIR="$2"; shift ;;
    --from) case "$2" in /*) FROM="$2" ;; *) FROM="$CALLER_PWD/$2" ;; esac; shift ;;
    --upgrade) MODE=upgrade ;;
    --rollback) MODE=rollback ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
case "$INSTANCES" in ''|*[!0-9]*) echo "--workers needs a number of instances (got '$INSTANCES')" >&2; exit 2 ;; esac
if [ -z "$DESTDIR" ] && [ "$(id -u)" != 0 ]; then echo "run as root (or use --destdir for a staging install)" >&2; exit 1; fi
root="$DESTDIR"
# systemd is driven only on a real host with systemd running; a staging root prints each step instead.
LIVE=0; [ -z "$DESTDIR" ] && command -v systemctl >/dev/null && [ -d /run/systemd/system ] && LIVE=1

need() { [ -x "$FROM/$1" ] || { echo "$FROM/$1 is missing: run \`npm run build\` first (or unpack a release archive)" >&2; exit 1; }; }

# Workers run FFmpeg, and so does a standalone kernel's embedded worker. A warning, not a failure: the binaries
# may be installed before FFmpeg (or FFMPEG_PATH/FFPROBE_PATH may point elsewhere on the target host).
check_ffmpeg() {
  for tool in "${FFMPEG_PATH:-ffmpeg}" "${FFPROBE_PATH:-ffprobe}"; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      echo "warning: $tool not found: WebEncode needs FFmpeg and FFprobe 5.1 or newer (Debian/Ubuntu: apt-get install ffmpeg; or set FFMPEG_PATH and FFPROBE_PATH in the env files)" >&2
    fi
  done
}

install_docs() {
  install -d -m 0755 "$root/usr/share/doc/webencode"
  install -m 0644 README.md "$root/usr/share/doc/webencode/README.md"
  [ -f LICENSE ] && install -m 0644 LICENSE "$root/usr/share/doc/webencode/LICENSE"
  [ -d docs ] && cp -r docs "$root/usr/share/doc/webencode/"
  return 0
}

install_units() { # $@: unit file names under systemd/
  for u in "$@"; do sed "s#/usr/local/bin/#$BINDIR/#" "systemd/$u" > "$root/etc/systemd/system/$u"; done
}

# A step of an upgrade or rollback: run it on a live host, print it on a staging root (the order is the point).
step() {
  echo "step: $*"
  if [ "$LIVE" = 1 ]; then "$@"; fi
}

# `webencode-kernel migrate` with kernel.env's settings, as the service user, where the service runs.
migrate() {
  local envf="$root/etc/webencode/kernel.env" vars=() line
  if [ -f "$envf" ]; then
    while IFS= read -r line || [ -n "$line" ]; do
      case "$line" in ''|'#'*) continue ;; *=*) line="${line%\"}"; vars+=("${line/=\"/=}") ;; esac
    done < "$envf"
  fi
  if [ "$LIVE" = 1 ]; then
    (cd /var/lib/webencode && runuser -u webencode -- env -i PATH=/usr/local/bin:/usr/bin:/bin "${vars[@]}" "$BINDIR/webencode-kernel" migrate)
  fi
}

# The worker units running on this host now (template instances included), restarted one at a time.
running_workers() {
  systemctl list-units --type=service --state=active --no-legend --plain 'webencode-worker*' | awk '{print $1}'
}

# Runbook order: kernel down, new binaries, migrate, kernel up, then the workers one by one (each restart
# sends SIGTERM: the worker drains — running tasks get WORKER_SHUTDOWN_GRACE — before the new binary starts).
# $1: what to do between stopping and starting the kernel (a function name); $2: 1 = a kernel is installed
# here; $3: 1 = migrate (an upgrade; a rollback does not: the older kernel finds every migration it knows
# applied and starts on the newer schema).
restart_in_order() {
  local has_kernel=$2 u
  [ "$has_kernel" = 1 ] && step systemctl stop webencode-kernel.service
  "$1"
  if [ "$has_kernel" = 1 ]; then
    if [ "$3" = 1 ]; then echo "step: webencode-kernel migrate"; migrate; fi
    step systemctl start webencode-kernel.service
    step systemctl is-active --quiet webencode-kernel.service
  fi
  [ -x "$root$BINDIR/webencode-worker" ] || return 0
  if [ "$LIVE" = 0 ]; then echo "step: systemctl restart <each running webencode-worker unit, one at a time>"; return 0; fi
  for u in $(running_workers); do
    step systemctl restart "$u"
    step systemctl is-active --quiet "$u"
  done
}

if [ "$MODE" != install ]; then
  present=()
  for b in webencode-kernel webencode-worker webencode; do [ -x "$root$BINDIR/$b" ] && present+=("$b"); done
  [ ${#present[@]} -gt 0 ] || { echo "nothing installed in $root$BINDIR: install first (without --$MODE)" >&2; exit 1; }
  has_kernel=0; [ -x "$root$BINDIR/webencode-kernel" ] && has_kernel=1
  if [ "$MODE" = upgrade ]; then
    for b in "${present[@]}"; do need "$b"; done
    echo "upgrading ${present[*]} in $root$BINDIR to $("$FROM/${present[0]}" --version 2>/dev/null | awk '{print $2}' || echo '?')"
    replace() {
      for b in "${present[@]}"; do
        # The previous binary is kept for --rollback; the new one lands under a temporary name and is renamed
        # over the old, so a running worker keeps executing its own (unlinked) file until it restarts.
        cp -p "$root$BINDIR/$b" "$root$BINDIR/$b.prev"
        install -m 0755 "$FROM/$b" "$root$BINDIR/.$b.new"
        mv -f "$root$BINDIR/.$b.new" "$root$BINDIR/$b"
        echo "step: replaced $BINDIR/$b (previous: $b.prev)"
      done
      install_docs
      units=(); [ "$has_kernel" = 1 ] && units+=(webencode-kernel.service)
      [ -x "$root$BINDIR/webencode-worker" ] && units+=(webencode-worker.service webencode-worker@.service)
      install_units "${units[@]}"
      step systemctl daemon-reload
    }
    restart_in_order replace "$has_kernel" 1
    [ -z "$DESTDIR" ] && [ "$LIVE" = 0 ] && echo "systemd is not running here: the binaries are replaced; do the other steps above yourself, in that order"
    echo "upgraded; to go back: $0 --rollback${DESTDIR:+ --destdir $DESTDIR}"
  else
    for b in "${present[@]}"; do [ -x "$root$BINDIR/$b.prev" ] || { echo "$root$BINDIR/$b.prev is missing: nothing to roll back to" >&2; exit 1; }; done
    swap_back() {
      for b in "${present[@]}"; do
        mv -f "$root$BINDIR/$b" "$root$BINDIR/$b.rolled-back"
        mv -f "$root$BINDIR/$b.prev" "$root$BINDIR/$b"
        echo "step: restored $BINDIR/$b from $b.prev (the replaced one: $b.rolled-back)"
      done
    }
    restart_in_order swap_back "$has_kernel" 0
    [ -z "$DESTDIR" ] && [ "$LIVE" = 0 ] && echo "systemd is not running here: the binaries are restored; do the other steps above yourself, in that order"
    echo "rolled back; the migrations the upgrade applied stay (an older kernel runs on them when they only add; otherwise restore the pre-upgrade backup: docs/deployment.md)"
  fi
  exit 0
fi

[ "$KERNEL$WORKER" = "00" ] && KERNEL=1
[ "$KERNEL" = 1 ] && need webencode-kernel
[ "$WORKER" = 1 ] && need webencode-worker
check_ffmpeg

install -d -m 0755 "$root$BINDIR" "$root/etc/webencode" "$root/etc/systemd/system"
install -d -m 0750 "$root/var/lib/webencode" "$root/var/lib/webencode/plugins"
install_docs

if [ -z "$DESTDIR" ] && ! id webencode >/dev/null 2>&1; then
  useradd --system --home-dir /var/lib/webencode --shell /usr/sbin/nologin webencode
fi
if [ -z "$DESTDIR" ]; then chown -R webencode:webencode /var/lib/webencode; fi

env_file() { # $1: name, $2: content; never overwrite an operator's settings
  local f="$root/etc/webencode/$1"
  if [ ! -e "$f" ]; then printf '%s\n' "$2" > "$f"; chmod 0640 "$f"; [ -z "$DESTDIR" ] && chgrp webencode "$f"; fi
  return 0
}

if [ "$KERNEL" = 1 ]; then
  install -m 0755 "$FROM/webencode-kernel" "$root$BINDIR/webencode-kernel"
  install_units webencode-kernel.service
  # One random SECRET_KEY per installation (secrets at rest); copy the same value to every kernel.
  env_file kernel.env "# WebEncode kernel settings (README: Configuration; docs/security.md). Unset DATABASE_URL/NATS_URL = standalone.
#DATABASE_URL=postgres://webencode@db-host:5432/webencode?sslmode=verify-full&sslrootcert=/etc/webencode/pg-ca.pem
#NATS_URL=tls://nats-host:4222
#NATS_CA_FILE=/etc/webencode/nats-ca.pem
#TLS_CERT_FILE=/etc/webencode/tls/fullchain.pem
#TLS_KEY_FILE=/etc/webencode/tls/privkey.pem
SECRET_KEY=$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')
DATA_DIR=/var/lib/webencode
PLUGIN_DIR=/var/lib/webencode/plugins
PORT=8080
# Standalone mode listens on 127.0.0.1 only (distributed: 0.0.0.0); to serve other machines:
#HOST=0.0.0.0
LOG_LEVEL=info"
fi
# The command-line client (docs/cli.md) goes with either; a checkout built before it existed has none.
if [ -x "$FROM/webencode" ]; then install -m 0755 "$FROM/webencode" "$root$BINDIR/webencode"; fi
if [ "$WORKER" = 1 ]; then
  install -m 0755 "$FROM/webencode-worker" "$root$BINDIR/webencode-worker"
  install_units webencode-worker.service webencode-worker@.service
  env_file worker.env "# WebEncode worker settings (README: Configuration).
# The kernels' NATS server and BUS_PREFIX: a worker hears only kernels with the same pair.
NATS_URL=nats://127.0.0.1:4222
BUS_PREFIX=webencode
PLUGIN_DIR=/var/lib/webencode/plugins
# Temporary files: the unit sets /var/lib/webencode/worker-work (instance n: work-n), apart from the
# kernel's embedded worker (DATA_DIR/work); setting WORK_DIR here would give every instance the same one.
#WORK_DIR=/var/lib/webencode/worker-work
WORKER_CONCURRENCY=1
WORKER_SHUTDOWN_GRACE=60s
WORKER_METRICS_PORT=9464
LOG_LEVEL=info"
  # Template instances on one host need their own metrics port (worker.env's is the first one's).
  for i in $(seq 1 "$INSTANCES"); do
    env_file "worker-$i.env" "# Settings of webencode-worker@$i (on top of worker.env).
WORKER_METRICS_PORT=$((9463 + i))"
  done
fi

UNITS=()
[ "$KERNEL" = 1 ] && UNITS+=(webencode-kernel.service)
if [ "$WORKER" = 1 ]; then
  if [ "$INSTANCES" -gt 0 ]; then for i in $(seq 1 "$INSTANCES"); do UNITS+=("webencode-worker@$i.service"); done
  else UNITS+=(webencode-worker.service); fi
fi

if [ "$LIVE" = 1 ]; then
  systemctl daemon-reload
  systemctl enable "${UNITS[@]}"
  echo "installed and enabled: ${UNITS[*]}"
  echo "edit /etc/webencode/*.env, then: systemctl start ${UNITS[*]}"
else
  echo "installed into ${DESTDIR:-/} (systemd not touched); units to enable: ${UNITS[*]}"
fi
[ "$KERNEL" = 1 ] && [ "$WORKER" = 0 ] && echo "standalone mode: the kernel runs its own worker; for separate workers (distributed mode: DATABASE_URL and NATS_URL in kernel.env) install them with --worker or --workers N"
exit 0
