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
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ]; then
    log "installing ${missing[*]}"
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    log "missing ${missing[*]}: run this script as root to install them"
  fi
fi

# 2. A redis-server of our own on a free loopback port, stopped by its pid on exit.
redis_pid=""
cleanup() {
  if [ -n "$redis_pid" ] && kill -0 "$redis_pid" 2>/dev/null; then kill "$redis_pid" 2>/dev/null; fi
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
