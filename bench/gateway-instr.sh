#!/bin/bash
# User-space instructions per proxied request: minimal_gateway and its peers
# (the same scripts in bench/peers/ as bench/gateway-peers.sh), each run
# under callgrind in front of the libfcgi test application. Callgrind counts
# instructions, not time, so the figures repeat from run to run whatever
# else the machine does; the kernel's share (TCP on loopback, waking the
# other processes, most of a small request's cost) is not in them.
#
#   bash bench/gateway-instr.sh [BUILD_DIR]
#
# Each peer serves N1 and then, in a fresh process, N2 requests (8 kept-alive
# client connections); (Ir(N2) - Ir(N1)) / (N2 - N1) leaves out start-up and
# shutdown. Environment: PEERS (default "minimal_gateway nginx haproxy h2o"),
# SIZE (response bytes, default 13), N1 (300), N2 (1300), BROWSER=1 (the
# requests carry the 13 header lines of a browser's page request, about 700
# bytes, instead of Host alone). Installs what is
# missing; a peer that cannot run under valgrind is skipped with a message.
# Loopback only; every process it starts is stopped by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
build=${1:-build}
peers=${PEERS:-minimal_gateway nginx haproxy h2o}
size=${SIZE:-13}
n1=${N1:-300}
n2=${N2:-1300}

. bench/peers/lib.sh
for p in $peers; do . "bench/peers/$p.sh"; done
need_pkgs valgrind spawn-fcgi curl
[ -x "$build/examples/minimal_gateway/minimal_gateway" ] || { meson setup "$build" --buildtype=release >/dev/null; ninja -C "$build" >/dev/null; }
[ -x "$build/tests/app-echo" ] || { echo "$build/tests/app-echo missing (build with -Dtests=true)" >&2; exit 1; }

bench_scratch gw-instr

# N requests over 8 kept-alive connections, each response read whole
# (Content-Length or chunked); exits nonzero on anything but 200.
cat > "$run/client.py" <<'PY'
import os, socket, sys
port, total, path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
# BROWSER=1: the header lines a browser sends with a page request (about 700 bytes)
extra = "".join(line + "\r\n" for line in [
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8",
    "Accept-Language: en-US,en;q=0.5", "Accept-Encoding: gzip, deflate, br, zstd",
    "Referer: https://example.test/some/page/index.html?from=home", "Connection: keep-alive",
    "Cookie: session=0123456789abcdef0123456789abcdef; theme=dark; prefs=a%3D1%26b%3D2; _ga=GA1.1.123456789.1700000000",
    "Upgrade-Insecure-Requests: 1", "Sec-Fetch-Dest: document", "Sec-Fetch-Mode: navigate",
    "Sec-Fetch-Site: same-origin", "Sec-Fetch-User: ?1", "Priority: u=0, i"]) if os.environ.get("BROWSER") == "1" else ""
conns = [socket.create_connection(("127.0.0.1", port)) for _ in range(8)]
bufs = [b""] * 8
def read_response(i):
    s = conns[i]
    while b"\r\n\r\n" not in bufs[i]:
        d = s.recv(65536)
        if not d:
            sys.exit("connection closed")
        bufs[i] += d
    head, rest = bufs[i].split(b"\r\n\r\n", 1)
    if not head.startswith(b"HTTP/1.1 200"):
        sys.exit("status: " + head.split(b"\r\n")[0].decode())
    h = head.lower()
    if b"content-length:" in h:
        n = int(h.split(b"content-length:")[1].split(b"\r\n")[0])
        while len(rest) < n:
            rest += s.recv(65536)
        bufs[i] = rest[n:]
        return
    while b"\r\n0\r\n\r\n" not in rest and not rest.startswith(b"0\r\n\r\n"):
        rest += s.recv(65536)
    end = rest.find(b"0\r\n\r\n") if rest.startswith(b"0\r\n\r\n") else rest.find(b"\r\n0\r\n\r\n") + 2
    bufs[i] = rest[end + 5:]
sent = 0
while sent < total:
    k = min(8, total - sent)
    for i in range(k):
        conns[i].sendall(f"GET {path} HTTP/1.1\r\nHost: localhost\r\n{extra}\r\n".encode())
    for i in range(k):
        read_response(i)
    sent += k
PY

app_port=$(free_port)
spawn-fcgi -n -a 127.0.0.1 -p "$app_port" -- "$top/$build/tests/app-echo" -t 64 >/dev/null &
all_pids+=("$!")
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$app_port") 2>/dev/null && break; sleep 0.05; done
path="/x?size=$size"

# Instructions of one run of peer $1 serving $2 requests (all processes it
# forks summed), or nothing when it did not run.
instr() {
    local name=$1 n=$2 out="$run/cg-$1-$2"
    mkdir -p "$out"
    chmod 777 "$out" # workers that drop privileges (nginx) write their own file
    PEER_PORT=$(free_port)
    PEER_PID=
    PIN_GW="valgrind --tool=callgrind --trace-children=yes --callgrind-out-file=$out/cg.%p"
    if ! "start_$name" "$app_port" /srv; then
        return 0
    fi
    all_pids+=("$PEER_PID")
    local ok=0
    for _ in $(seq 300); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PEER_PORT$path" 2>/dev/null)" = 200 ] && { ok=1; break; }
        sleep 0.1
    done
    if [ $ok = 1 ] && python3 "$run/client.py" "$PEER_PORT" "$n" "$path"; then
        stop_pid "$PEER_PID" 300 # callgrind writes its file on the way out
        cat "$out"/cg.* 2>/dev/null | awk '/^summary:/ { s += $2 } END { if (s) print s }'
    else
        echo "$name: no answer under valgrind (skipped)" >&2
        stop_pid "$PEER_PID" 300 # callgrind writes its file on the way out
    fi
}

echo "# $(date -u '+%F %T UTC'); user-space instructions per request (callgrind), $size-byte responses from app-echo, $n1 and $n2 requests${BROWSER:+, browser headers}"
printf '%-16s %14s %14s %14s\n' peer "Ir($n1)" "Ir($n2)" "Ir/request"
declare -A per
for name in $peers; do
    a=$(instr "$name" "$n1")
    b=$(instr "$name" "$n2")
    if [ -z "$a" ] || [ -z "$b" ]; then
        echo "$name: skipped" >&2
        continue
    fi
    per[$name]=$(((b - a) / (n2 - n1)))
    printf '%-16s %14s %14s %14s\n' "$name" "$a" "$b" "${per[$name]}"
done
if [ -n "${per[minimal_gateway]:-}" ]; then
    for name in "${!per[@]}"; do
        [ "$name" = minimal_gateway ] && continue
        awk -v g="${per[minimal_gateway]}" -v p="${per[$name]}" -v n="$name" \
            'BEGIN { if (p > 0) printf "minimal_gateway / %s: %.2f\n", n, g / p }'
    done
fi
