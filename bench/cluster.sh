#!/usr/bin/env bash
# Issue 5's sticky-routing drill, bigger and longer than the test's: three
# `floodgate serve` processes on 127.0.0.1/.2/.3 sharing Redis (sessions,
# rate limits, the ring) and one NATS server, configured by
# bench/cluster.yaml; USERS conversations of TURNS turns each, with
# `floodgate load`'s customer-service prompts (every third turn streamed),
# sent to random nodes with THINK between turns; the node owning the most
# conversations is killed with SIGKILL once KILL_AT of the turns are
# served. It prints the turns lost (must be 0), how long the dead node's
# sessions took to be served again, and the rest of the figures
# (OUTDIR/cluster.json; the whole log in OUTDIR/cluster.log).
# It is cmd/floodgate's TestClusterDrill, built without the race detector.
# Needs Redis on 127.0.0.1:6379.
# Usage: bench/cluster.sh [OUTDIR]
#   (USERS=100 TURNS=10 THINK=300ms TIMESCALE=0.1 KILL_AT=0.4 HEARTBEAT=3s)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/out}
mkdir -p "$out"
out=$(cd "$out" && pwd)
go test -c -o "$out/cluster-drill.test" ./cmd/floodgate
cd cmd/floodgate # the drill reads ../../bench/cluster.yaml
CI=true "$out/cluster-drill.test" -test.run '^TestClusterDrill$' -test.v -test.timeout 30m \
	-drill.conversations "${USERS:-100}" -drill.turns "${TURNS:-10}" -drill.think "${THINK:-300ms}" \
	-drill.timescale "${TIMESCALE:-0.1}" -drill.kill-at "${KILL_AT:-0.4}" -drill.heartbeat "${HEARTBEAT:-3s}" \
	-drill.out "$out/cluster.json" >"$out/cluster.log" 2>&1 || status=$?
grep -o 'drill: .*' "$out/cluster.log" || true
grep -E '^(--- |ok|FAIL|PASS)' "$out/cluster.log" || true
exit "${status:-0}"
