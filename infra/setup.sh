#!/usr/bin/env bash
# Installs what hitstream needs on a fresh Debian/Ubuntu machine, and nothing that is already there.
# Runs before `npm start` and `npm test` (npm's pre-scripts), so those two commands work on a clean clone.
#   - Java 17+ and Maven: the native Kafka broker comes from Maven Central jars.
#   - clickhouse-server: Debian's 18.16 (the native stack's ClickHouse).
#   - prometheus and prometheus-alertmanager: Debian's 2.42 and 0.25 (with promtool and amtool, which
#     the tests run on the alert rules and the Alertmanager configs).
#   - Python's chdb: a current ClickHouse engine in-process, for the SQL portability tests.
#   - Python's schemathesis: the API contract test.
#   - chromium (tests only): Debian's headless browser for the web page tests.
#   - Docker Compose v2 (tests only), built from the Go module proxy: `docker compose config` checks
#     docker-compose.yml without a Docker engine. Cached under ~/.cache/hitstream (~5 min to build).
#   - node_modules, from package-lock.json.
#   - Node.js 26 LTS when the machine's Node is older: the official build from the npm registry
#     (node-<platform>-<arch>), cached, linked as node_modules/.bin/node. npm puts that folder first
#     on the PATH of every script it runs, so `npm start`, `npm test` and `npx hitstream` run on it.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf 'setup: %s\n' "$*" >&2; }

missing=()
command -v java >/dev/null || missing+=(openjdk-17-jre-headless)
command -v mvn >/dev/null || missing+=(maven)
{ [ -x /usr/sbin/clickhouse-server ] || command -v clickhouse-server >/dev/null || command -v clickhouse >/dev/null; } || missing+=(clickhouse-server)
{ command -v prometheus >/dev/null && command -v promtool >/dev/null; } || missing+=(prometheus)
{ { command -v alertmanager >/dev/null || command -v prometheus-alertmanager >/dev/null; } && command -v amtool >/dev/null; } || missing+=(prometheus-alertmanager)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && [ "${HITSTREAM_ALLOW_APT:-true}" != false ]; then
    say "installing ${missing[*]} with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    say "missing: ${missing[*]}. Install them (e.g. sudo apt-get install ${missing[*]}) or point KAFKA_BROKERS / CLICKHOUSE_URL at running services."
  fi
fi

# The web pages are tested in Debian's headless Chromium (playwright-core drives it; its own browser
# download does not work offline).
if [ "${1:-}" = --test ] && [ ! -x /usr/bin/chromium ] && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null && [ "${HITSTREAM_ALLOW_APT:-true}" != false ]; then
  say "installing chromium with apt-get for the browser tests"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

if [ "${1:-}" = --test ] && ! python3 -c 'import chdb' 2>/dev/null; then
  say "installing chdb (pip) for the SQL portability tests"
  python3 -m pip install -q --disable-pip-version-check chdb
fi

# schemathesis checks the API against its OpenAPI document (test/integration/contract.test.ts).
if [ "${1:-}" = --test ] && ! command -v schemathesis >/dev/null; then
  say "installing schemathesis (pip) for the API contract test"
  python3 -m pip install -q --disable-pip-version-check 'schemathesis>=4.32,<5'
fi

# Debian's docker-compose 1.29 rejects the top-level `name:` key; v2 runs standalone too.
COMPOSE_VERSION=v2.32.4
COMPOSE_BIN="${XDG_CACHE_HOME:-$HOME/.cache}/hitstream/compose-$COMPOSE_VERSION/docker-compose"
if [ "${1:-}" = --test ] && [ ! -x "$COMPOSE_BIN" ]; then
  if command -v go >/dev/null; then
    say "building Docker Compose $COMPOSE_VERSION from the Go module proxy (about 5 minutes, once)"
    gopath=$(mktemp -d)
    GOPATH="$gopath" GOFLAGS=-modcacherw go install "github.com/docker/compose/v2/cmd@$COMPOSE_VERSION"
    mkdir -p "$(dirname "$COMPOSE_BIN")"
    mv "$gopath/bin/cmd" "$COMPOSE_BIN"
    rm -rf "$gopath"
  else
    say "missing: go (to build Docker Compose $COMPOSE_VERSION for the compose file test)"
  fi
fi

if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  say "installing node modules (npm ci)"
  npm ci --no-audit --no-fund --loglevel=error
fi

# Node 20 is past its end of life (2026-04-30). hitstream runs on Node 26, the active LTS line; a
# machine with an older Node gets the official build from the npm registry (~1 s, 60 MB download).
NODE_VERSION=26.12.1
NODE_MAJOR=${NODE_VERSION%%.*}
machine_node=$(node -v)
if [ "$(node -p 'process.versions.node.split(".")[0]')" -lt "$NODE_MAJOR" ]; then
  node_pkg="node-$(node -p 'process.platform + "-" + process.arch')"
  node_dir="${XDG_CACHE_HOME:-$HOME/.cache}/hitstream/$node_pkg-$NODE_VERSION"
  if [ ! -x "$node_dir/bin/node" ]; then
    tmp=$(mktemp -d)
    (cd "$tmp" && npm pack -q "$node_pkg@$NODE_VERSION" >/dev/null && tar xzf ./*.tgz)
    mkdir -p "$(dirname "$node_dir")"
    rm -rf "$node_dir" && mv "$tmp/package" "$node_dir" && rm -rf "$tmp"
  fi
  ln -sfn "$node_dir/bin/node" node_modules/.bin/node
  say "Node $machine_node is older than $NODE_MAJOR LTS: npm's scripts and npx run on Node $NODE_VERSION from the npm registry ($node_dir, linked as node_modules/.bin/node)"
fi

