#!/bin/bash
# minimal_gateway's memory per idle keep-alive client connection: starts the
# gateway (one thread) in front of app-echo and runs bench/idle-conns, which
# holds N connections (default 10000) after one request each and prints the
# RSS and PSS growth per connection. Also runs against nginx when
# PEERS="nginx" is given (one worker, same application).
#
#   bash bench/idle-conns.sh [BUILD_DIR] [N]
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
build=${1:-build}
n=${2:-10000}
. bench/peers/lib.sh
need_pkgs spawn-fcgi curl
[ -x "$build/bench/idle-conns" ] || { echo "$build/bench/idle-conns missing: build first" >&2; exit 1; }
ulimit -n "$(ulimit -Hn)"
bench_scratch gw-idle
app=$(free_port)
spawn-fcgi -n -a 127.0.0.1 -p "$app" -- "$top/$build/tests/app-echo" -t 64 >/dev/null &
all_pids+=($!)
PIN_GW=
for name in minimal_gateway ${PEERS:-}; do
    . "bench/peers/$name.sh"
    PEER_PORT=$(free_port)
    GW_EXTRA="KeepAliveTimeout 600" "start_$name" "$app" /srv
    all_pids+=("$PEER_PID")
    wait_http "http://127.0.0.1:$PEER_PORT/x?size=13" || { echo "$name does not answer" >&2; exit 1; }
    measured=$PEER_PID
    [ "$name" = nginx ] && measured=$(pgrep -P "$PEER_PID" | head -1)
    echo "== $name"
    "$build/bench/idle-conns" -n "$n" -p "$measured" 127.0.0.1 "$PEER_PORT" || status=1
    kill "$PEER_PID"; wait "$PEER_PID" 2>/dev/null || true # its kept connections free the application's threads
done
exit ${status:-0}
