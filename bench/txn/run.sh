#!/bin/bash
# Transactions: in-process throughput and memory per live transaction
# (bench_txn), Kamailio tm's memory for the same counts (kamailio_tm.sh),
# and CPU per stateful OPTIONS against Kamailio (cpu_vs_kamailio.sh).
#   bench/txn/run.sh BUILD_DIR
set -u
BD=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
"$BD/bin/bench_txn" 10000 100000 200000
"$HERE/kamailio_tm.sh" 10000 100000 200000
"$HERE/cpu_vs_kamailio.sh" "$BD/bin" 2000 10
