#!/usr/bin/env bash
# The whole test suite: Deno's tests (unit and integration, against real traefik, redis, etcd
# and JupyterHub), then JupyterHub's own proxy tests against our CLI. Ends with one line
# "N passed, N failed, N skipped" counted from both runners' own summaries.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
deno=${DENO:-$root/.tools/bin/deno}
log=$(mktemp)
trap 'rm -f "$log"' EXIT

dp=0 df=0 di=0
# One `deno test` run, counted into dp/df/di from Deno's own summary line. A run that Deno itself
# does not survive (killed by a signal: exit status above 128, e.g. a segfault inside the runtime)
# is reported and run once more; a second crash counts as a failure.
deno_test() {
  local rc summary attempt
  for attempt in 1 2; do
    NO_COLOR=1 "$deno" test --allow-all "$@" 2>&1 | tee "$log"
    rc=${PIPESTATUS[0]}
    summary=$(grep -E '^(ok|FAILED) \| ' "$log" | tail -n 1)
    if [ -n "$summary" ] || [ "$rc" -le 128 ] || [ "$attempt" -eq 2 ]; then break; fi
    echo "deno test ($*) crashed with exit status $rc before its summary; running it once more"
  done
  local p f i
  p=$(sed -nE 's/.* ([0-9]+) passed.*/\1/p' <<<"$summary"); p=${p:-0}
  f=$(sed -nE 's/.* ([0-9]+) failed.*/\1/p' <<<"$summary"); f=${f:-0}
  i=$(sed -nE 's/.* ([0-9]+) ignored.*/\1/p' <<<"$summary"); i=${i:-0}
  if [ -z "$summary" ] || { [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; }; then
    echo "deno test exited with $rc without a summary of failures; counting it as one failure"
    f=$((f + 1))
  fi
  dp=$((dp + p)) df=$((df + f)) di=$((di + i))
}

whole=0
if [ "$#" -eq 0 ]; then
  whole=1
  # Unit tests and every JSDoc example of the library (--doc, they assert), then the
  # integration tests against real traefik, redis, etcd and JupyterHub.
  deno_test --doc mod.ts lib/ providers/ bench/
  deno_test tests/
else
  deno_test "$@"
fi

pp=0 pf=0 ps=0
if [ "$whole" -eq 1 ] && [ -x "$root/.tools/venv/bin/python" ] && [ -z "${SKIP_JUPYTERHUB_TESTS:-}" ]; then
  echo
  echo "== JupyterHub's own tests (test_proxy, test_api, test_named_servers, test_internal_ssl_connections, test_unix_socket) against this proxy =="
  "$root/tests/run_jupyterhub_tests.sh" 2>&1 | tee "$log"
  py_rc=${PIPESTATUS[0]}
  line=$(grep -E '^=*\s*[0-9]+ (passed|failed|error)' "$log" | tail -n 1)
  [ -n "$line" ] || line=$(grep -E '[0-9]+ (passed|failed)' "$log" | tail -n 1)
  pp=$(grep -oE '[0-9]+ passed' <<<"$line" | grep -oE '[0-9]+'); pp=${pp:-0}
  pf=$(grep -oE '[0-9]+ failed' <<<"$line" | grep -oE '[0-9]+'); pf=${pf:-0}
  pe=$(grep -oE '[0-9]+ errors?' <<<"$line" | grep -oE '[0-9]+'); pf=$((pf + ${pe:-0}))
  ps=$(grep -oE '[0-9]+ skipped' <<<"$line" | grep -oE '[0-9]+'); ps=${ps:-0}
  if [ "$py_rc" -ne 0 ] && [ "$pf" -eq 0 ]; then
    echo "pytest exited with $py_rc without counting failures; counting it as one failure"
    pf=1
  fi
fi

passed=$((dp + pp)) failed=$((df + pf)) skipped=$((di + ps))
echo
echo "deno: $dp passed, $df failed, $di ignored; jupyterhub: $pp passed, $pf failed, $ps skipped"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
