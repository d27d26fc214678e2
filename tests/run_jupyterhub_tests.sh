#!/usr/bin/env bash
# Runs JupyterHub's own proxy tests (test_proxy.py, test_api.py, test_named_servers.py,
# test_internal_ssl_connections.py and test_unix_socket.py,
# shipped in its wheel) with this project's CLI standing in for configurable-http-proxy on PATH.
#
# Left out: test_proxy_bind_ip connects to the machine's non-loopback address, which tests on
# these machines must never do. The run fails if a test meant to be left out still ran.
#
# The suite leaves some of its mock single-user servers running (they start in sessions of
# their own); tests/reap.py runs pytest as a child subreaper and stops exactly those.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$root/.tools/venv"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
LEFT_OUT=(test_proxy_bind_ip)
status=0
PATH="$root/tests/bin:$venv/bin:$PATH" "$venv/bin/python" "$root/tests/reap.py" \
  "$venv/bin/python" -m pytest \
  -c "$root/tests/jupyterhub_pytest.ini" --rootdir "$work" -p no:jupyter_server -p no:cacheprovider \
  -m "not browser" -q -o addopts="" --junitxml "$work/report.xml" \
  -k "$(printf 'not %s and ' "${LEFT_OUT[@]}" | sed 's/ and $//')" \
  --pyargs jupyterhub.tests.test_proxy jupyterhub.tests.test_api \
  jupyterhub.tests.test_named_servers jupyterhub.tests.test_internal_ssl_connections \
  jupyterhub.tests.test_unix_socket "$@" || status=$?
for name in "${LEFT_OUT[@]}"; do
  if grep -q "name=\"$name[\"\[]" "$work/report.xml" 2>/dev/null; then
    echo "run_jupyterhub_tests.sh: $name ran although it is left out; fix the selection"
    status=1
  fi
done
exit "$status"
