#!/usr/bin/env bash
# Runs the whole test suite on a fresh machine: installs what the tests need (as root, with apt-get),
# starts a private redis-server on a free loopback port, checks formatting, builds warning-free,
# runs every test project with TRX logging, and prints "N passed, N failed" as its last line.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=$(mktemp -d)
results="$root/TestResults"
rm -rf "$results"
mkdir -p "$results"

log() { printf '==> %s\n' "$*" >&2; }

# 1. System packages the tests use.
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v clang >/dev/null 2>&1 || missing+=(clang)   # Native AOT's linker
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    log "installing ${missing[*]}"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    log "missing ${missing[*]}: run this script as root to install them"
  fi
fi

# 2. A redis-server of our own on a free loopback port, and a three-node Redis Cluster, stopped by pid on exit.
redis_pid=""
cleanup() {
  if [ -n "$redis_pid" ] && kill -0 "$redis_pid" 2>/dev/null; then kill "$redis_pid" 2>/dev/null; fi
  # A test that restarts a node writes the same pid file, so the nodes are found by it whoever started them.
  for pidfile in "$work"/cluster*/redis.pid; do
    [ -e "$pidfile" ] || continue
    pid=$(cat "$pidfile" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill "$pid" 2>/dev/null; fi
  done
  sleep 0.2
  rm -rf "$work"
}
trap cleanup EXIT
if command -v redis-server >/dev/null 2>&1; then
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null || echo 6390)
  redis-server --port "$port" --bind 127.0.0.1 --daemonize yes --pidfile "$work/redis.pid" --dir "$work" --save '' --appendonly no >/dev/null
  for _ in $(seq 1 50); do
    redis-cli -p "$port" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  redis_pid=$(cat "$work/redis.pid" 2>/dev/null || true)
  export ORI_TEST_REDIS="127.0.0.1:$port"
  log "redis-server on $ORI_TEST_REDIS (pid $redis_pid)"

  # Cluster nodes need their port + 10000 free as well (the cluster bus), so ports come from 20000-29999.
  ports=$(python3 - <<'PY'
import random, socket
def free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p)); return True
    except OSError:
        return False
    finally:
        s.close()
found = []
while len(found) < 3:
    p = random.randint(20000, 29999)
    if p not in found and free(p) and free(p + 10000):
        found.append(p)
print(" ".join(map(str, found)))
PY
)
  nodes=()
  for p in $ports; do
    dir="$work/cluster$p"
    mkdir -p "$dir"
    redis-server --port "$p" --bind 127.0.0.1 --cluster-enabled yes --cluster-config-file "$dir/nodes.conf" \
      --cluster-node-timeout 2000 --daemonize yes --pidfile "$dir/redis.pid" --dir "$dir" --save '' --appendonly no >/dev/null
    nodes+=("127.0.0.1:$p")
  done
  for node in "${nodes[@]}"; do
    for _ in $(seq 1 50); do
      redis-cli -p "${node##*:}" ping >/dev/null 2>&1 && break
      sleep 0.1
    done
  done
  if redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes >"$work/cluster-create.log" 2>&1; then
    for node in "${nodes[@]}"; do
      for _ in $(seq 1 100); do
        redis-cli -p "${node##*:}" cluster info 2>/dev/null | grep -q 'cluster_state:ok' && break
        sleep 0.1
      done
    done
    ORI_TEST_REDIS_CLUSTER=$(IFS=,; echo "${nodes[*]}")
    export ORI_TEST_REDIS_CLUSTER
    export ORI_TEST_REDIS_CLUSTER_DIR="$work"
    log "redis cluster on $ORI_TEST_REDIS_CLUSTER"
  else
    log "redis-cli --cluster create failed:"
    cat "$work/cluster-create.log" >&2
  fi
fi

failures=0

# 3. Formatting and a warning-free build (warnings are errors in Directory.Build.props).
log "dotnet format --verify-no-changes"
# dotnet format compiles the projects (Debug) to run the style analyzers: the source generator they
# reference must exist first, or generated types look missing on a clean checkout.
dotnet restore Ori.Sockets.sln -v q >/dev/null 2>&1
dotnet build src/Ori.Sockets.Generators -v q -nologo >/dev/null 2>&1
if ! dotnet format Ori.Sockets.sln --verify-no-changes --no-restore -v q; then
  log "formatting differs: run 'dotnet format Ori.Sockets.sln'"
  failures=$((failures + 1))
fi

log "dotnet build"
if ! dotnet build Ori.Sockets.sln -c Release -v q -nologo; then
  log "build failed"
  echo "0 passed, $((failures + 1)) failed"
  exit 1
fi

# 3b. The Dashboard published with Native AOT (its black-box protocol test runs the binary).
log "native AOT publish of the Dashboard"
if dotnet publish samples/Dashboard/Dashboard.Server -c Release -r linux-x64 -p:OriAot=true -o "$work/aot" -v q -nologo >"$work/aot.log" 2>&1; then
  if grep -E 'warning (IL|AOT)[0-9]+' "$work/aot.log" >&2; then
    log "the native publish has trim or AOT warnings"
    failures=$((failures + 1))
  fi
  export ORI_DASHBOARD_NATIVE="$work/aot/Dashboard.Server"
else
  tail -20 "$work/aot.log" >&2
  log "native AOT publish failed"
  failures=$((failures + 1))
fi

# 3c. Every micro-benchmark runs once (BenchmarkDotNet's dry job, in this process): a harness that no longer starts
#     fails here instead of on the next person to measure.
log "micro-benchmarks: each runs once"
if ! dotnet run -c Release --no-build --project benchmarks/Ori.Sockets.Benchmarks -- --filter '*' --job dry --inProcess >"$work/benchmarks.log" 2>&1; then
  grep -E 'Exception|NA \|' "$work/benchmarks.log" | head -20 >&2
  log "a micro-benchmark did not run (log: $work/benchmarks.log)"
  failures=$((failures + 1))
fi

# 4. The browser client: the checked-in module and typings must be what its TypeScript source compiles
#    to, and its unit tests run under Node's test runner (counted with the .NET tests).
node_passed=0
node_failed=0
client="$root/src/browser-client"
log "browser client: tsc and node --test"
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
  if (cd "$client" && npm ci --no-audit --no-fund --silent >/dev/null 2>&1); then
    if (cd "$client" && npx --no-install tsc -p tsconfig.json --outDir "$work/tsc"); then
      for f in ori-sockets-client.js ori-sockets-client.d.ts; do
        if ! cmp -s "$work/tsc/$f" "$client/$f"; then
          log "$f does not match ori-sockets-client.ts: run 'npm run build' in src/browser-client"
          failures=$((failures + 1))
        fi
      done
    else
      log "tsc failed"
      failures=$((failures + 1))
    fi
  else
    log "npm ci failed"
    failures=$((failures + 1))
  fi
  # The official AsyncAPI parser, which a test runs on the Dashboard's generated document.
  if ! (cd "$root/tests/asyncapi" && npm ci --no-audit --no-fund --silent >/dev/null 2>&1); then
    log "npm ci failed in tests/asyncapi"
    failures=$((failures + 1))
  fi
  (cd "$client" && node --test --test-reporter=tap test/ > "$work/node.tap" 2>&1)
  node_passed=$(grep -E '^# pass [0-9]+' "$work/node.tap" | grep -o '[0-9]*' || echo 0)
  node_failed=$(grep -E '^# fail [0-9]+' "$work/node.tap" | grep -o '[0-9]*' || echo 1)
  grep -E '^not ok' "$work/node.tap" >&2 || true
  log "node --test: $node_passed passed, $node_failed failed"
else
  log "node and npm are required for the browser client's tests"
  failures=$((failures + 1))
fi

# 5. Every test project, TRX per project.
log "dotnet test"
dotnet test Ori.Sockets.sln -c Release --no-build --logger trx --results-directory "$results" -v q
test_exit=$?

# The event-loop mode's other half is read once per process: its tests run again in a process with it.
DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 dotnet test tests/Ori.Sockets.Tests -c Release --no-build \
  --filter "FullyQualifiedName~EventLoopTests" --logger "trx;LogFileName=event-loop-inline-completions.trx" --results-directory "$results" -v q \
  || test_exit=1

# 6. Count from the TRX files (and the Node tests).
passed=0
failed=0
for trx in "$results"/*.trx; do
  [ -e "$trx" ] || continue
  counters=$(grep -o '<Counters [^>]*>' "$trx" | head -1)
  p=$(printf '%s' "$counters" | grep -o ' passed="[0-9]*"' | grep -o '[0-9]*')
  f=$(printf '%s' "$counters" | grep -o ' failed="[0-9]*"' | grep -o '[0-9]*')
  e=$(printf '%s' "$counters" | grep -o ' error="[0-9]*"' | grep -o '[0-9]*')
  t=$(printf '%s' "$counters" | grep -o ' timeout="[0-9]*"' | grep -o '[0-9]*')
  a=$(printf '%s' "$counters" | grep -o ' aborted="[0-9]*"' | grep -o '[0-9]*')
  passed=$((passed + ${p:-0}))
  failed=$((failed + ${f:-0} + ${e:-0} + ${t:-0} + ${a:-0}))
done
passed=$((passed + node_passed))
failed=$((failed + failures + node_failed))
if [ "$test_exit" -ne 0 ] && [ "$failed" -eq 0 ]; then
  # dotnet test failed without a failed test (a crash, a project that did not run): count it.
  failed=1
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
