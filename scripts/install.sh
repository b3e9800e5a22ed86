#!/usr/bin/env bash
# Installs WebEncode on a host: binaries, the `webencode` system user, directories, environment files and
# systemd units. Run as root from a checkout after `bun run build` (or from an unpacked release).
#
#   scripts/install.sh [--kernel] [--worker] [--workers N] [--destdir DIR] [--bindir DIR] [--from DIR]
#
# Without options: the kernel alone, in standalone mode (embedded database, bus and worker): no worker unit,
# which would wait for a NATS server that a standalone host does not have. --worker installs the worker unit
# (distributed mode: NATS_URL in worker.env); --workers N enables N instances of webencode-worker@.service
# instead. --kernel with either installs both. --destdir installs into a staging root (packaging, tests): no
# user is created and systemd is not touched; the units that would be enabled are printed all the same.
# --from DIR takes the executables from DIR instead of dist/.
set -euo pipefail
cd "$(dirname "$0")/.."

KERNEL=0; WORKER=0; INSTANCES=0; DESTDIR=""; BINDIR=/usr/local/bin; FROM=dist
while [ $# -gt 0 ]; do
  case "$1" in
    --kernel) KERNEL=1 ;;
    --worker) WORKER=1 ;;
    --workers) WORKER=1; INSTANCES="$2"; shift ;;
    --destdir) DESTDIR="$2"; shift ;;
    --bindir) BINDIR="$2"; shift ;;
    --from) FROM="$2"; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[ "$KERNEL$WORKER" = "00" ] && KERNEL=1
case "$INSTANCES" in ''|*[!0-9]*) echo "--workers needs a number of instances (got '$INSTANCES')" >&2; exit 2 ;; esac
if [ -z "$DESTDIR" ] && [ "$(id -u)" != 0 ]; then echo "run as root (or use --destdir for a staging install)" >&2; exit 1; fi

need() { [ -x "$FROM/$1" ] || { echo "$FROM/$1 is missing: run \`npx bun run build\` first" >&2; exit 1; }; }
[ "$KERNEL" = 1 ] && need webencode-kernel
[ "$WORKER" = 1 ] && need webencode-worker

# Workers run FFmpeg, and so does a standalone kernel's embedded worker. A warning, not a failure: the binaries
# may be installed before FFmpeg (or FFMPEG_PATH/FFPROBE_PATH may point elsewhere on the target host).
for tool in "${FFMPEG_PATH:-ffmpeg}" "${FFPROBE_PATH:-ffprobe}"; do
  if ! command -v "$tool" >/dev/null 2>&1; then
    echo "warning: $tool not found: WebEncode needs FFmpeg and FFprobe (Debian/Ubuntu: apt-get install ffmpeg; or set FFMPEG_PATH and FFPROBE_PATH in the env files)" >&2
  fi
done

root="$DESTDIR"
install -d -m 0755 "$root$BINDIR" "$root/etc/webencode" "$root/etc/systemd/system" "$root/usr/share/doc/webencode"
install -d -m 0750 "$root/var/lib/webencode" "$root/var/lib/webencode/plugins"
install -m 0644 README.md "$root/usr/share/doc/webencode/README.md"
[ -d docs ] && cp -r docs "$root/usr/share/doc/webencode/"

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
  sed "s#/usr/local/bin/#$BINDIR/#" systemd/webencode-kernel.service > "$root/etc/systemd/system/webencode-kernel.service"
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
if [ "$WORKER" = 1 ]; then
  install -m 0755 "$FROM/webencode-worker" "$root$BINDIR/webencode-worker"
  sed "s#/usr/local/bin/#$BINDIR/#" systemd/webencode-worker.service > "$root/etc/systemd/system/webencode-worker.service"
  sed "s#/usr/local/bin/#$BINDIR/#" systemd/webencode-worker@.service > "$root/etc/systemd/system/webencode-worker@.service"
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

if [ -z "$DESTDIR" ] && command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  systemctl enable "${UNITS[@]}"
  echo "installed and enabled: ${UNITS[*]}"
  echo "edit /etc/webencode/*.env, then: systemctl start ${UNITS[*]}"
else
  echo "installed into ${DESTDIR:-/} (systemd not touched); units to enable: ${UNITS[*]}"
fi
[ "$KERNEL" = 1 ] && [ "$WORKER" = 0 ] && echo "standalone mode: the kernel runs its own worker; for separate workers (distributed mode: DATABASE_URL and NATS_URL in kernel.env) install them with --worker or --workers N"
exit 0
