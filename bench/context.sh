#!/usr/bin/env bash
# Measures context management against issue 4's bar:
#  1. the corpus: 200 conversations of 40-60 turns driven through the engine
#     against an in-process sim whose summaries drop every entity
#     (SummaryLoss 1), once with context management (summaries on an
#     embedded Q2) and once with the full history: average prompt tokens per
#     model call (bar: <= 3,000), probe recall of pinned facts (bar: 100 %),
#     orphaned tool messages and prompts over the limit (bar: none), facts
#     unreachable after a summary;
#  2. the time context management adds to a turn: p50/p99, wall clock and
#     thread CPU (bar: p99 <= 2 ms);
#  3. the window's guarantees over many random histories (property test and
#     fuzzers).
# Usage: bench/context.sh   (CONVERSATIONS=200 LOSS=1 PROPS=50 FUZZTIME=30s)
set -euo pipefail
cd "$(dirname "$0")/.."
conv=${CONVERSATIONS:-200}
loss=${LOSS:-1}
props=${PROPS:-50}
fuzz=${FUZZTIME:-30s}

echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(go version | cut -d' ' -f3)"

echo "== 1. corpus: $conv conversations, sim summary loss $loss"
go test ./internal/engine -run '^$' -bench BenchmarkContextCorpus -benchtime 1x -timeout 60m \
	-engine.corpus "$conv" -engine.corpus.loss "$loss" -engine.corpus.parallel 2

echo "== 2. context management per turn"
go test ./internal/ctxwindow -run '^$' -bench 'BenchmarkTurnContext|BenchmarkBuild' -benchtime 20000x -count 3

echo "== 3. window guarantees: property test x$props, fuzzers for $fuzz each"
go test ./internal/ctxwindow -run TestBuildProperties -count 1 -ctxwindow.props "$props"
for f in FuzzBuild FuzzExtract FuzzScanFacts; do
	go test ./internal/ctxwindow -run '^$' -fuzz "^$f\$" -fuzztime "$fuzz"
done
