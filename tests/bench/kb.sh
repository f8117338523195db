#!/usr/bin/env bash
# tests/bench/kb.sh - the knowledge base's search index (tests/bench/kb.c).
#
# Search quality on the real official replies (each message's title must
# find its own reply in the top 3: with the title as the entry's question,
# and with it withheld), then 100,000 entries made from the replies with
# variations and 10,000 queries from real message titles, one by one on one
# thread: p50_ms, p99_ms, queries_per_s (per core), index_mb (what the index
# holds; index_rss_mb as the process saw it), rebuild_s (building the index
# from scratch). Prints key=value lines. Needs ../shared/data.
#
# Usage: tests/bench/kb.sh [-n ENTRIES] [-q QUERIES]   (defaults 100000, 10000)
set -euo pipefail
cd "$(dirname "$0")/../.."
source deploy/lib.sh

N=100000
Q=10000
while getopts "n:q:" o; do
    case $o in
    n) N=$OPTARG ;;
    q) Q=$OPTARG ;;
    *) hl_usage "$0"; exit 2 ;;
    esac
done
D=$PWD/../shared/data
[ -r "$D/official_replies.csv" ] || hl_die "$D/official_replies.csv is needed (the shared data beside the repository)"
hl_build build -DCMAKE_BUILD_TYPE=RelWithDebInfo
hl_machine
build/tests/bench/bench_kb -r "$D/official_replies.csv" -t "$D/citizen_messages_train.csv" -n "$N" -q "$Q"
