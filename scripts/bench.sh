#!/usr/bin/env bash
# The whole-process benchmarks of `make bench`, after the Go benchmarks:
#   bench-validate.sh  validate throughput and peak memory (2,000 and 100,000 rows)
#   bench-load.sh      a 100,000-row journal: status, report, size
#   bench-run.sh       300 paced sends and their tracking (about 5 minutes)
# Each prints its figures and exits non-zero when a target is missed.
# BENCH="validate load" runs a subset.
set -euo pipefail
cd "$(dirname "$0")/.."
export PECBATCH=${PECBATCH:-$(pwd)/bin/pecbatch} BIN=${BIN:-bin/pecbatch}
status=0
for name in ${BENCH:-validate load run}; do
	echo
	echo "== scripts/bench-$name.sh"
	bash "scripts/bench-$name.sh" || { echo "bench-$name: FAILED" >&2; status=1; }
done
exit $status
