#!/usr/bin/env bash
# Run test files while other processes keep every core busy, as on a loaded CI machine.
#
#   tools/under_load.sh [-b BURNERS] [-r ROUNDS] [-t SECONDS] -- PYTEST_ARGS...
#   e.g. tools/under_load.sh -b 3 -r 2 -- tests/test_cli.py -k interrupted
#
# BURNERS busy loops (default: 1 + the number of CPUs) run beside ROUNDS pytest runs of
# PYTEST_ARGS (default 1), with hypothesis and test order as in `make test`. The burners
# end with the script, on error or Ctrl-C too, and after SECONDS (default 600) in any case.
# Uses .venv/bin/python, or $PYTHON.
set -euo pipefail
cd "$(dirname "$0")/.."

burners=$(( $(nproc) + 1 ))
rounds=1
seconds=600
while getopts "b:r:t:" opt; do
    case $opt in
        b) burners=$OPTARG ;;
        r) rounds=$OPTARG ;;
        t) seconds=$OPTARG ;;
        *) echo "usage: $0 [-b BURNERS] [-r ROUNDS] [-t SECONDS] -- PYTEST_ARGS..." >&2; exit 2 ;;
    esac
done
shift $((OPTIND - 1))
[ "${1:-}" = "--" ] && shift
python=${PYTHON:-.venv/bin/python}

pids=()
stop() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
}
trap stop EXIT INT TERM

for _ in $(seq "$burners"); do
    timeout "$seconds" "$python" -c "while True: pass" &
    pids+=($!)
done
echo "under_load: $burners busy loops on $(nproc) CPUs, $rounds round(s)" >&2

failed=0
for round in $(seq "$rounds"); do
    echo "under_load: round $round" >&2
    timeout "$seconds" "$python" -m pytest -q -p no:cacheprovider "$@" || failed=1
done
exit $failed
