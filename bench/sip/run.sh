#!/bin/bash
# SIP parse: cvoip (matching and full parse), sofia-sip, osip2, libre on
# the same corpus in one run.   bench/sip/run.sh BUILD_DIR
set -u
BD=$(cd "${1:?usage: run.sh BUILD_DIR}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
"$BD/bin/bench_sip_parse" "$HERE/corpus"
