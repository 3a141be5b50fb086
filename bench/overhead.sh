#!/usr/bin/env bash
# Measures what the gateway adds, as issue 2's bar states it:
#  1. gateway vs direct at 1,000 req/s against `floodgate sim --time-scale 0`
#  2. peak throughput through the gateway with 50 connections
#  3. 500 req/s for 60 s against a sim answering in 1.5 s: success, p99, RSS
# Everything (sim, gateway, load generator) runs on this machine.
# Usage: bench/overhead.sh [OUTDIR]   (DURATION=30s to change step 1-2 length)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/out}
dur=${DURATION:-30s}
mkdir -p "$out"
go build -o "$out/floodgate" ./cmd/floodgate
fg="$out/floodgate"
key=fg-bench
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

wait_port() { for _ in $(seq 1 100); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; echo "port $1 not up" >&2; return 1; }

echo "== machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB, $(go version | cut -d' ' -f3)"

# 1 + 2: overhead and peak against a sim with no delays.
"$fg" sim --listen 127.0.0.1:9000 --time-scale 0 >"$out/sim0.log" 2>&1 & pids+=($!)
SIM_URL=http://127.0.0.1:9000/v1 "$fg" serve --config bench/gateway.yaml >"$out/gw0.log" 2>&1 & pids+=($!)
wait_port 9000; wait_port 8080

echo "== 1. added latency at 1000 req/s, gateway vs direct"
"$fg" load --quiet --target http://127.0.0.1:8080/v1 --key $key --rate 1000 --duration "$dur" --warmup 3s \
	--compare http://127.0.0.1:9000/v1 --out "$out/overhead-1000rps.json"

echo "== 1b. one connection, closed loop, gateway vs direct"
"$fg" load --quiet --target http://127.0.0.1:8080/v1 --key $key --concurrency 1 --duration 10s --warmup 2s \
	--compare http://127.0.0.1:9000/v1 --out "$out/overhead-1conn.json"

echo "== 2. peak throughput, 50 connections, through the gateway"
"$fg" load --quiet --target http://127.0.0.1:8080/v1 --key $key --concurrency 50 --duration "$dur" --warmup 3s \
	--out "$out/peak-50conn.json"
echo "== 2b. peak throughput, 50 connections, sim directly (for reference)"
"$fg" load --quiet --target http://127.0.0.1:9000/v1 --concurrency 50 --duration 10s --warmup 2s \
	--out "$out/peak-50conn-direct.json"

cleanup; pids=()

# 3: slow upstream, many requests in flight.
"$fg" sim --listen 127.0.0.1:9000 --ttft-ms 1500 --tps 0 >"$out/sim15.log" 2>&1 & pids+=($!)
SIM_URL=http://127.0.0.1:9000/v1 "$fg" serve --config bench/gateway.yaml >"$out/gw15.log" 2>&1 & gw=$!; pids+=($gw)
wait_port 9000; wait_port 8080
echo "== 3. 500 req/s for 60 s against a 1.5 s upstream"
peak=0
( while kill -0 $gw 2>/dev/null; do awk '/VmRSS/{print $2}' /proc/$gw/status; sleep 0.5; done ) >"$out/rss-kb.txt" & sampler=$!
"$fg" load --quiet --target http://127.0.0.1:8080/v1 --key $key --rate 500 --duration 60s --out "$out/slow-500rps.json"
kill $sampler 2>/dev/null || true
peak=$(sort -n "$out/rss-kb.txt" | tail -1)
echo "gateway peak RSS: $((peak / 1024)) MiB"
