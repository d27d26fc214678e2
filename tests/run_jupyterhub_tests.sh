#!/usr/bin/env bash
# Runs JupyterHub's own proxy tests (test_proxy.py and test_api.py, shipped in its wheel) with
# this project's CLI standing in for configurable-http-proxy on PATH.
#
# Deselected: test_proxy_bind_ip connects to the machine's non-loopback address, which tests on
# these machines must never do.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
venv="$root/.tools/venv"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
status=0
PATH="$root/tests/bin:$venv/bin:$PATH" "$venv/bin/python" -m pytest \
  -c "$root/tests/jupyterhub_pytest.ini" --rootdir "$work" -p no:jupyter_server -p no:cacheprovider \
  -m "not browser" -q -o addopts="" \
  --deselect "jupyterhub/tests/test_proxy.py::test_proxy_bind_ip" \
  --pyargs jupyterhub.tests.test_proxy jupyterhub.tests.test_api "$@" || status=$?
# The suite leaves some of its mock single-user servers running; they belong to this run's venv.
pkill -f "^$venv/bin/python -m jupyterhub.tests.mocksu" || true
exit "$status"
