#!/bin/bash
# minimal_gateway against the gateways an operator would pick instead, in
# front of the same FastCGI application (the libfcgi test app, app-echo, with
# 32 threads: more than either gateway keeps connections to, so no kept
# connection pins a thread another one waits for), with backend keep-alive on
# where the peer has it. Rounds
# alternate between the gateways; each prints requests/s, p50/p99 latency and
# the gateway's CPU time per request, then the ratio to the best peer.
#
#   bash bench/gateway-peers.sh [BUILD_DIR] [SECONDS] [ROUNDS]
#
# Peers measured today: nginx (fastcgi_keep_conn + upstream keepalive).
# Installs what is missing (wrk, nginx, spawn-fcgi). Loopback only.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
build=${1:-build}
secs=${2:-5}
rounds=${3:-3}
for pkg in wrk nginx spawn-fcgi curl; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null; }
done
[ -x "$build/examples/minimal_gateway/minimal_gateway" ] || { meson setup "$build" >/dev/null; ninja -C "$build" >/dev/null; }

run=$(mktemp -d /tmp/gw-bench-XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$run"
}
trap cleanup EXIT
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

app_port=$(port)
spawn-fcgi -n -a 127.0.0.1 -p "$app_port" -- "$top/$build/tests/app-echo" -t 32 >/dev/null &
pids+=($!)

# minimal_gateway: 2 threads, up to 16 kept connections each.
gw_port=$(port)
cat > "$run/gw.conf" <<CONF
Listen 127.0.0.1:$gw_port
Threads 2
MaxKeepAliveRequests 0
ProxyPass "/" "fcgi://127.0.0.1:$app_port/srv/" enablereuse=on max=16
CONF
"$top/$build/examples/minimal_gateway/minimal_gateway" -f "$run/gw.conf" 2>/dev/null &
gw_pid=$!
pids+=($gw_pid)

# nginx: 2 workers, upstream keepalive 16 per worker, FastCGI keep-conn.
ng_port=$(port)
mkdir -p "$run/nginx"
cat > "$run/nginx.conf" <<CONF
worker_processes 2;
pid $run/nginx.pid;
error_log $run/nginx/error.log;
daemon off;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $run/nginx;
    fastcgi_temp_path $run/nginx;
    proxy_temp_path $run/nginx;
    upstream app { server 127.0.0.1:$app_port; keepalive 16; }
    server {
        listen 127.0.0.1:$ng_port;
        location / {
            fastcgi_pass app;
            fastcgi_keep_conn on;
            fastcgi_param SCRIPT_FILENAME /srv\$fastcgi_script_name;
            fastcgi_param QUERY_STRING \$query_string;
            fastcgi_param REQUEST_METHOD \$request_method;
            fastcgi_param REQUEST_URI \$request_uri;
            fastcgi_param SERVER_PROTOCOL \$server_protocol;
        }
    }
}
CONF
nginx -c "$run/nginx.conf" -e "$run/nginx/error.log" &
ng_pid=$!
pids+=($ng_pid)
for p in $gw_port $ng_port; do
    for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$p/x" && break; sleep 0.05; done
done

# CPU seconds (user + system) of a process and its children-threads.
cpu() {
    local total=0
    for p in "$@"; do
        for t in /proc/$p/task/*/stat; do
            read -r -a f < "$t" || continue
            total=$((total + f[13] + f[14]))
        done
    done
    echo "$total"
}
ng_all() { echo "$ng_pid" $(pgrep -P "$ng_pid"); }

declare -A rps p50 p99 cpr
measure() { # name url pids...
    local name=$1 url=$2; shift 2
    local c0; c0=$(cpu "$@")
    local out; out=$(wrk -t2 -c16 -d"${secs}s" --latency "$url")
    grep -q "requests in" <<<"$out" || { echo "  $name: wrk failed: $out" >&2; return 1; }
    local c1; c1=$(cpu "$@")
    local r n l50 l99
    r=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    n=$(awk '/requests in/ {print $1}' <<<"$out")
    l50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    l99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    local ticks; ticks=$(getconf CLK_TCK)
    local us; us=$(python3 -c "print(round(($c1 - $c0) / $ticks / $n * 1e6, 1))")
    echo "  $name: $r req/s, p50 $l50, p99 $l99, gateway CPU $us us/request"
    rps[$name]="${rps[$name]:-} $r"
    cpr[$name]="${cpr[$name]:-} $us"
}

for size in 13 1024 65536; do
    echo "== response of $size bytes, 16 connections, ${secs}s x $rounds rounds"
    rps=(); cpr=()
    for i in $(seq "$rounds"); do
        measure minimal_gateway "http://127.0.0.1:$gw_port/x?size=$size" "$gw_pid"
        measure nginx "http://127.0.0.1:$ng_port/x?size=$size" $(ng_all)
    done
    python3 - "${rps[minimal_gateway]}" "${rps[nginx]}" "${cpr[minimal_gateway]}" "${cpr[nginx]}" <<'PY'
import statistics, sys
g, n, gc, nc = ([float(x) for x in a.split()] for a in sys.argv[1:5])
print(f"  median: minimal_gateway {statistics.median(g):.0f} req/s, nginx {statistics.median(n):.0f} req/s, "
      f"ratio {statistics.median(g) / statistics.median(n):.2f}; CPU/request ratio "
      f"{statistics.median(gc) / statistics.median(nc):.2f}")
PY
done
