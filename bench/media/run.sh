#!/bin/sh
# Media benchmarks (docs/media.md): codec CPU per 20 ms frame, the
# terminated G.711 path per stream, and real loopback streams.
# usage: bench/media/run.sh BUILD_DIR
set -e
B=${1:-build-bench}
BIN=$B/bin/bench_media
$BIN codecs 2000
for t in 1 2 3; do $BIN dsp 2000 3; done
for n in 500 1000; do $BIN streams "$n" 5; done
