#!/bin/bash
# minimal_gateway against the gateways an operator would pick instead
# (nginx, h2o, HAProxy, Apache 2.4 event, lighttpd, Caddy), each in front of
# the same FastCGI applications: the libfcgi test app (app-echo, 64 threads)
# and PHP-FPM (64 static children), with backend keep-alive on where the
# peer has it. Every peer gets an application instance of its own: a kept
# connection pins a libfcgi thread or a PHP-FPM child, and the peers' kept
# connections together would pin them all. Every gateway runs one worker pinned to CPU 0; the
# application and wrk share CPU 1. Rounds alternate between the gateways
# (the first one rotates); each cell prints requests/s, p50/p99 latency and
# the gateway's CPU time per request, and the summary gives the ratios of
# minimal_gateway to the best peer (medians over the rounds). The last row,
# "floor", is bench/floor-gateway: the same system calls per request and no
# other work. It is no rival; at 13 B and 1 KiB its ratios bound what any
# gateway can reach on this machine.
#
#   bash bench/gateway-peers.sh [quick|full] [BUILD_DIR]
#
# quick: 2 s per cell, 1 round; full: 5 s per cell, 3 rounds. The
# environment overrides: SECS, ROUNDS, PEERS ("minimal_gateway nginx ..."),
# BACKENDS ("echo php"), SIZES ("13 1024 65536 1048576"), CONNS ("16 64"),
# CPU_GW, CPU_REST (CPU numbers for taskset). Installs what is missing
# (wrk, spawn-fcgi, curl, PHP-FPM and each peer's Debian package); a peer
# that cannot be installed or started is skipped with a message.
# Loopback only; every process it starts is stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
mode=${1:-quick}
build=${2:-build}
case $mode in
quick) secs=${SECS:-2} rounds=${ROUNDS:-1} ;;
full) secs=${SECS:-5} rounds=${ROUNDS:-3} ;;
*) echo "usage: $0 [quick|full] [BUILD_DIR]" >&2; exit 2 ;;
esac
peers=${PEERS:-minimal_gateway nginx h2o haproxy apache lighttpd caddy floor}
backends=${BACKENDS:-echo php}
sizes=${SIZES:-13 1024 65536 1048576}
conns=${CONNS:-16 64}
PIN_GW="taskset -c ${CPU_GW:-0}"
PIN_REST="taskset -c ${CPU_REST:-1}"

. bench/peers/lib.sh
for p in $peers; do . "bench/peers/$p.sh"; done
need_pkgs wrk spawn-fcgi curl php8.2-fpm
[ -x "$build/examples/minimal_gateway/minimal_gateway" ] || { meson setup "$build" --buildtype=release >/dev/null; ninja -C "$build" >/dev/null; }
[ -x "$build/tests/app-echo" ] || { echo "$build/tests/app-echo missing (build with -Dtests=true)" >&2; exit 1; }
ulimit -n 65536 2>/dev/null || true

bench_scratch gw-bench

mkdir -p "$run/www"
cat > "$run/www/bench.php" <<'PHP'
<?php
header('Content-Type: text/plain');
echo str_repeat('x', (int)($_GET['size'] ?? 13));
PHP
cat > "$run/fpm.conf" <<CONF
[global]
pid = $run/fpm.pid
error_log = $run/fpm.err
daemonize = no
[bench]
listen = 127.0.0.1:@PORT@
pm = static
pm.max_children = 64
pm.max_requests = 0
CONF

start_backend() { # echo|php -> sets app_port, app_pid, root, path
    app_port=$(free_port)
    case $1 in
    echo)
        $PIN_REST spawn-fcgi -n -a 127.0.0.1 -p "$app_port" -- "$top/$build/tests/app-echo" -t 64 >/dev/null &
        app_pid=$! root=/srv path=/x ;;
    php)
        sed "s/@PORT@/$app_port/; s/fpm\.pid/fpm-$app_port.pid/" "$run/fpm.conf" > "$run/fpm-$app_port.conf"
        $PIN_REST php-fpm8.2 -n -R -F -y "$run/fpm-$app_port.conf" >/dev/null 2>&1 &
        app_pid=$! root=$run/www path=/bench.php ;;
    esac
    all_pids+=("$app_pid")
    for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$app_port") 2>/dev/null && break; sleep 0.05; done
}

# Busy share of the CPU that runs wrk and the application: near 100% the
# cell measures that CPU, not the gateway (req/s ratios then say little;
# CPU per request still does).
cpu_rest=${CPU_REST:-1}
cpu_busy() { awk -v c="cpu$cpu_rest" '$1 == c { print $2 + $3 + $4 + $7 + $8, $5 + $6 }' /proc/stat; }
results=$run/results.tsv
: > "$results"
declare -A pid_of port_of
measure() { # backend size conns peer
    local be=$1 size=$2 c=$3 name=$4
    local pids; pids=$(tree_pids "${pid_of[$name]}")
    local c0; c0=$(cpu_ticks $pids)
    local r0; r0=$(cpu_busy)
    local out
    out=$($PIN_REST wrk -t1 -c"$c" -d"${secs}s" --latency "http://127.0.0.1:${port_of[$name]}$path?size=$size" 2>&1) || true
    local c1; c1=$(cpu_ticks $pids)
    local r1; r1=$(cpu_busy)
    local rest; rest=$(awk -v a="$r0" -v b="$r1" 'BEGIN { split(a, x, " "); split(b, y, " "); busy = y[1] - x[1]; idle = y[2] - x[2]; printf "%.0f", ((busy + idle) > 0 ? 100 * busy / (busy + idle) : 0) }')
    if ! grep -q "requests in" <<<"$out"; then
        echo "  $name: wrk failed: $(head -c 200 <<<"$out")" >&2
        return 0
    fi
    local n r l50 l99 errs
    n=$(awk '/requests in/ {print $1}' <<<"$out")
    r=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
    l50=$(awk '$1 == "50%" {print $2}' <<<"$out")
    l99=$(awk '$1 == "99%" {print $2}' <<<"$out")
    errs=$(awk '/Non-2xx|Socket errors/ {printf "%s ", $0}' <<<"$out")
    local us; us=$(awk -v d=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" -v n="$n" 'BEGIN { printf "%.2f", d / hz / (n > 0 ? n : 1) * 1e6 }')
    printf '  %-16s %10s req/s  p50 %8s  p99 %8s  CPU %7s us/req  wrk+app CPU %3s%% %s\n' "$name" "$r" "$l50" "$l99" "$us" "$rest" "$errs"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$be" "$size" "$c" "$name" "$r" "$l50" "$l99" "$us" "$rest" >> "$results"
}

echo "# $(date -u '+%F %T UTC'); $(uptime | sed 's/.*load/load/'); mode $mode: ${secs}s x $rounds rounds; build $build"
for be in $backends; do
    live=()
    app_pids=()
    for name in $peers; do
        start_backend "$be"
        app_pids+=("$app_pid")
        PEER_PORT=$(free_port)
        PEER_PID=
        if ! "start_$name" "$app_port" "$root"; then
            echo "$name: skipped" >&2
            continue
        fi
        all_pids+=("$PEER_PID")
        if ! wait_http "http://127.0.0.1:$PEER_PORT$path?size=13"; then
            echo "$name: does not answer 200 on $path (skipped); its log:" >&2
            cat "$run"/*"$name"*.err "$run/$name"/*.log 2>/dev/null | tail -5 >&2 || true
            stop_pid "$PEER_PID"
            continue
        fi
        pid_of[$name]=$PEER_PID port_of[$name]=$PEER_PORT
        $PIN_REST wrk -t1 -c16 -d1s "http://127.0.0.1:$PEER_PORT$path?size=1024" >/dev/null 2>&1 || true # warm up
        live+=("$name")
    done
    for size in $sizes; do
        for c in $conns; do
            echo "== $be, $size-byte responses, $c connections"
            for i in $(seq "$rounds"); do
                n=${#live[@]}
                for j in $(seq 0 $((n - 1))); do
                    measure "$be" "$size" "$c" "${live[$(((j + i - 1) % n))]}"
                done
            done
        done
    done
    for name in "${live[@]}"; do stop_pid "${pid_of[$name]}"; done
    for p in "${app_pids[@]}"; do stop_pid "$p"; done
done

python3 - "$results" <<'PY'
import collections, statistics, sys
def ms(v):
    for suf, f in (("us", 1e-3), ("ms", 1.0), ("s", 1e3)):
        if v.endswith(suf):
            return float(v[: -len(suf)]) * f
    return float("nan")
cells = collections.defaultdict(lambda: collections.defaultdict(list))
for line in open(sys.argv[1]):
    be, size, c, name, r, l50, l99, us, rest = line.split("\t")
    if float(r) > 0:
        cells[(be, int(size), int(c))][name].append((float(r), ms(l50), ms(l99), float(us), float(rest)))
print("\n# medians; ratios are minimal_gateway / best peer (req/s: higher is better; p99 and CPU: lower is better);")
print("# wrk+app: busy share of the CPU wrk and the application share (near 100%: that CPU, not the gateway, bounds req/s)")
print("# spread: (highest - lowest) / median of the rounds' requests/s, '-' with one round")
print(f"{'backend':7} {'size':>7} {'conns':>5}  {'peer':16} {'req/s':>9} {'spread':>6} {'p50 ms':>8} {'p99 ms':>8} {'CPU us/req':>10} {'wrk+app':>7}")
for key in sorted(cells):
    med = {n: tuple(statistics.median(x[i] for x in v) for i in range(5)) for n, v in cells[key].items()}
    for n in sorted(med, key=lambda n: -med[n][0]):
        r, l50, l99, us, rest = med[n]
        rs = [x[0] for x in cells[key][n]]
        spread = f"{100 * (max(rs) - min(rs)) / r:5.0f}%" if len(rs) > 1 and r > 0 else "     -"
        print(f"{key[0]:7} {key[1]:>7} {key[2]:>5}  {n:16} {r:9.0f} {spread} {l50:8.2f} {l99:8.2f} {us:10.2f} {rest:6.0f}%")
    gw = med.get("minimal_gateway")
    floor = med.get("floor")
    others = {n: m for n, m in med.items() if n not in ("minimal_gateway", "floor")}
    if gw and others:
        # the targets: req/s against the best of nginx, h2o and HAProxy (1.5x
        # at 13 B and 1 KiB, 1.0x above); p99 and CPU per request against the
        # best of all peers (at most 1.0x and 2/3)
        rivals = {n: m for n, m in others.items() if n in ("nginx", "h2o", "haproxy")} or others
        br = max(rivals, key=lambda n: rivals[n][0])
        bp = min(others, key=lambda n: others[n][2])
        bc = min(others, key=lambda n: others[n][3])
        rr, pr, cr = gw[0] / rivals[br][0], gw[2] / others[bp][2], gw[3] / others[bc][3]
        want = 1.5 if key[1] <= 1024 else 1.0
        met = [f"req/s {'met' if rr >= want else 'not met'}", f"p99 {'met' if pr <= 1.0 else 'not met'}",
               f"CPU {'met' if cr <= 2 / 3 else 'not met'}"]
        print(f"{'':22} ratio: req/s {rr:.2f} (vs {br}), p99 {pr:.2f} (vs {bp}), CPU/req {cr:.2f} (vs {bc}); "
              f"targets ({want}x, 1.0x, 0.67x): {', '.join(met)}")
        if floor and key[1] <= 1024:
            # the floor gateway does only the system calls: no gateway here can
            # spend less CPU per request, nor go much faster than the rig lets
            # it (for small responses: it holds a whole response before writing)
            fr, fc = floor[0] / rivals[br][0], floor[3] / others[bc][3]
            print(f"{'':22} floor: req/s {fr:.2f}, CPU/req {fc:.2f} of the same best peers; "
                  f"minimal_gateway's CPU/req is {gw[3] / floor[3]:.2f}x the floor's")
PY
