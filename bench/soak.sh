#!/usr/bin/env bash
# Issue 3's soak: constant agent traffic against `floodgate serve` (demo
# config: support agent, demo shop, two sims) for a warm-up and a measured
# window, sampling the server's RSS every 5 s. Every request is a new
# session, so sessions pile up in the SQLite store; RSS must stay flat.
# Usage: bench/soak.sh [OUTDIR]   (RATE=60 WARMUP=2m WINDOW=10m to change)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-bench/out}
rate=${RATE:-60}
warmup=${WARMUP:-2m}
window=${WINDOW:-10m}
mkdir -p "$out"
out=$(cd "$out" && pwd)
go build -o "$out/floodgate" ./cmd/floodgate
work=$(mktemp -d)
cd "$work"   # serve keeps its store and queue under ./floodgate-data
"$out/floodgate" serve --listen 127.0.0.1:8090 --demo-key fg-soak >"$out/soak-serve.log" 2>&1 &
srv=$!
trap 'kill $srv 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do (exec 3<>/dev/tcp/127.0.0.1/8090) 2>/dev/null && break; sleep 0.1; done

( while kill -0 $srv 2>/dev/null; do
	printf '%s %s\n' "$(date +%s)" "$(awk '/VmRSS/{print $2}' /proc/$srv/status)"
	sleep 5
done ) >"$out/soak-rss.txt" &
sampler=$!

"$out/floodgate" load --quiet --target http://127.0.0.1:8090/v1 --key fg-soak --model agent:support \
	--rate "$rate" --warmup "$warmup" --duration "$window" --timeout 30s --out "$out/soak-load.json"
kill $sampler 2>/dev/null || true
sessions=$(ls -la "$work/floodgate-data/" | awk '/floodgate.db$/{print $5}')
python3 - "$out/soak-rss.txt" "$warmup" <<'PY'
import sys
rows = [tuple(map(int, l.split())) for l in open(sys.argv[1]) if len(l.split()) == 2]
w = sys.argv[2]
secs = int(w[:-1]) * (60 if w.endswith('m') else 1)
t0 = rows[0][0]
after = [kb for t, kb in rows if t - t0 >= secs]
mean = sum(after) / len(after)
print(f"RSS after warm-up over {len(after)} samples: min {min(after)/1024:.1f} MiB, max {max(after)/1024:.1f} MiB, "
      f"mean {mean/1024:.1f} MiB, spread {(max(after)-min(after))/mean*100:.1f}% of the mean")
PY
echo "store file: $sessions bytes"
