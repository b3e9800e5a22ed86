#!/usr/bin/env bash
# The whole test suite: type check, unit, integration (real PostgreSQL, NATS JetStream, FFmpeg, PGlite)
# and end-to-end tests against the compiled executables.
#
# Uses the PostgreSQL at TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres) and the
# NATS at TEST_NATS_URL (default nats://127.0.0.1:4222) when they answer; otherwise starts throwaway ones
# (Debian's nats-server; a PostgreSQL cluster made with initdb in a temporary directory) and stops them
# at the end. Extra arguments are passed to `bun test` (e.g. a path filter).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/setup.sh

ensure_node_deps
ensure_ffmpeg || { log "FFmpeg is required for the tests"; exit 1; }
# promtool (Debian's prometheus package) checks the metrics exposition and the alert rules.
command -v promtool >/dev/null || { log "installing promtool (Debian package prometheus)"; apt_install --no-install-recommends prometheus || log "promtool unavailable: its checks are skipped"; }
# systemd-analyze (Debian package systemd; without systemd-sysv it does not become the init) verifies the units.
command -v systemd-analyze >/dev/null || { log "installing systemd-analyze (Debian package systemd)"; apt_install --no-install-recommends systemd || log "systemd-analyze unavailable: test/e2e/systemd.test.ts will fail"; }
# Headless Chromium drives Swagger UI's "Try it out" in test/integration/swagger-ui.test.ts.
command -v chromium-headless-shell >/dev/null || { log "installing chromium-headless-shell (Debian)"; apt_install --no-install-recommends chromium-headless-shell || log "chromium-headless-shell unavailable: the Swagger UI test will fail"; }
# The arm64 release binary answers --version under emulation in test/e2e/release.test.ts.
{ command -v qemu-aarch64-static >/dev/null && [ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ]; } || { log "installing qemu-user-static and libc6-arm64-cross (Debian)"; apt_install --no-install-recommends qemu-user-static libc6-arm64-cross || log "qemu-user-static unavailable: the arm64 release check will fail"; }
# jq: the README's "First job" commands use it, and test/e2e/readme-first-job.test.ts runs them as written.
command -v jq >/dev/null || { log "installing jq"; apt_install jq || log "jq unavailable: the README First job test will fail"; }
# The HA drill (test/e2e/ha-drill.test.ts) runs HAProxy and a PostgreSQL primary + replica (initdb,
# pg_basebackup); the backup test runs pg_dump/pg_restore.
command -v haproxy >/dev/null || [ -x /usr/sbin/haproxy ] || { log "installing haproxy"; apt_install --no-install-recommends haproxy || log "haproxy unavailable: the HA drill will fail"; }
ls /usr/lib/postgresql/*/bin/pg_basebackup >/dev/null 2>&1 && command -v pg_dump >/dev/null || { log "installing PostgreSQL (server binaries for the HA drill, pg_dump for backups)"; apt_install postgresql || log "PostgreSQL binaries unavailable: the HA drill and backup tests will fail"; }

export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
export TEST_NATS_URL="${TEST_NATS_URL:-nats://127.0.0.1:4222}"

SCRATCH=$(mktemp -d /tmp/webencode-test.XXXXXX)
PIDS=()
cleanup() {
  for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  if [ -n "${PG_STARTED:-}" ]; then run_pg "$PGBIN/pg_ctl" -D "$SCRATCH/pg" -m immediate stop >/dev/null 2>&1 || true; fi
  rm -rf "$SCRATCH"
}
trap cleanup EXIT

free_port() { "$BUN" -e 'const s=Bun.listen({hostname:"127.0.0.1",port:0,socket:{data(){}}});console.log(s.port);s.stop()'; }
run_pg() { if as_root; then runuser -u postgres -- "$@"; else "$@"; fi; }

read -r pg_state nats_state < <("$BUN" scripts/check-services.ts "$TEST_DATABASE_URL" "$TEST_NATS_URL")

if [ "$pg_state" != "pg=ok" ]; then
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then log "installing PostgreSQL"; apt_install postgresql; fi
  PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
  port=$(free_port)
  log "no PostgreSQL at $TEST_DATABASE_URL; starting a throwaway cluster on port $port"
  as_root && chown postgres "$SCRATCH"
  run_pg "$PGBIN/initdb" -D "$SCRATCH/pg" -A trust -U postgres >/dev/null
  run_pg "$PGBIN/pg_ctl" -D "$SCRATCH/pg" -o "-p $port -k $SCRATCH -c listen_addresses=127.0.0.1" -w -l "$SCRATCH/pg.log" start >/dev/null
  PG_STARTED=1
  export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
fi

if [ "$nats_state" != "nats=ok" ]; then
  command -v nats-server >/dev/null || { log "installing nats-server"; apt_install nats-server; }
  port=$(free_port)
  log "no NATS JetStream at $TEST_NATS_URL; starting a throwaway nats-server -js on port $port"
  nats-server -a 127.0.0.1 -p "$port" -js -sd "$SCRATCH/nats" >"$SCRATCH/nats.log" 2>&1 &
  PIDS+=($!)
  export TEST_NATS_URL="nats://127.0.0.1:$port"
  for _ in $(seq 1 50); do "$BUN" scripts/check-services.ts "$TEST_DATABASE_URL" "$TEST_NATS_URL" | grep -q "nats=ok" && break; sleep 0.2; done
fi

log "type check"
node_modules/.bin/tsc --noEmit -p tsconfig.json
# The web dashboard is browser code (DOM types, Preact JSX) with its own settings.
node_modules/.bin/tsc --noEmit -p src/ui/tsconfig.json

# Into the scratch directory (removed at the end), not dist/: the test build is ~800 MB with the plugin binaries,
# and dist/ stays what `npm start` and install.sh use. The tests find it through E2E_DIST (test/helpers/proc.ts).
export E2E_DIST="$SCRATCH/dist"
log "building the executables for the end-to-end tests into $E2E_DIST"
"$BUN" scripts/build.ts --plugins --outdir "$E2E_DIST" >&2

log "running tests (PostgreSQL: $TEST_DATABASE_URL, NATS: $TEST_NATS_URL)"
# The whole suite runs as TEST_SHARDS parallel `bun test` processes (default 2; the files share no state:
# each has its own database, bus prefix, ports and directories). Arguments (a path filter) run one process.
SHARDS="${TEST_SHARDS:-2}"
set +e
if [ $# -gt 0 ] || [ "$SHARDS" -le 1 ]; then
  "$BUN" test --timeout 120000 "$@" 2>&1 | tee "$SCRATCH/test-0.log"
  status=${PIPESTATUS[0]}
else
  SHARD_PIDS=()
  i=0
  while read -r files; do
    # shellcheck disable=SC2086 # one word per file
    "$BUN" test --timeout 120000 $files >"$SCRATCH/test-$i.log" 2>&1 &
    SHARD_PIDS+=($!)
    log "shard $i: $(echo $files | wc -w) files (pid $!)"
    i=$((i + 1))
  done < <("$BUN" scripts/test-shards.ts "$SHARDS")
  status=0
  for p in "${SHARD_PIDS[@]}"; do wait "$p" || status=1; done
  for ((j = 0; j < i; j++)); do echo "===== shard $j ====="; cat "$SCRATCH/test-$j.log"; done
fi
set -e
passed=0
failed=0
for f in "$SCRATCH"/test-*.log; do
  p=$(grep -Eo '^ *[0-9]+ pass$' "$f" | tail -n 1 | tr -dc 0-9)
  q=$(grep -Eo '^ *[0-9]+ fail$' "$f" | tail -n 1 | tr -dc 0-9)
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${q:-0}))
  # A shard that died before its summary counts as a failure, whatever it printed.
  [ -n "$p$q" ] || { echo "$(basename "$f"): no summary (the test process died)" >&2; status=1; }
done
if [ "$failed" -gt 0 ]; then echo "failed tests:"; grep -h '^(fail)' "$SCRATCH"/test-*.log | sort -u; fi
echo "tests: $passed passed, $failed failed"
if [ "$passed" = 0 ]; then echo "no test ran" >&2; exit 1; fi
[ "$failed" -eq 0 ] || status=1
exit "$status"
