# Shared by bench/gateway-peers.sh and the peer scripts beside this file.
# Each peer script defines start_<name> BACKEND_PORT DOCROOT, which starts
# the peer on $PEER_PORT (127.0.0.1, one worker pinned with $PIN_GW, FastCGI
# keep-alive on where the peer has it) and sets PEER_PID (the process whose
# tree is measured), or returns nonzero with a reason on standard error.

# Install Debian packages that are missing (nothing when all are there).
need_pkgs() {
    local missing=()
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "installing ${missing[*]}" >&2
    apt-get update -qq >/dev/null 2>&1 || true
    local ok=0
    for pkg in "${missing[@]}"; do
        if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$pkg" >/dev/null 2>&1; then
            echo "could not install $pkg" >&2
            ok=1
        fi
    done
    return $ok
}

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Wait until URL answers 200 (5 s at most).
wait_http() {
    for _ in $(seq 100); do
        [ "$(curl -s -o /dev/null -w '%{http_code}' "$1" 2>/dev/null)" = 200 ] && return 0
        sleep 0.05
    done
    return 1
}

# The process and all its descendants.
tree_pids() {
    local p=$1
    echo "$p"
    for c in $(pgrep -P "$p" 2>/dev/null); do tree_pids "$c"; done
}

# CPU clock ticks (user + system) of every thread of the given processes.
cpu_ticks() {
    local files=()
    for p in "$@"; do files+=(/proc/"$p"/task/*/stat); done
    cat "${files[@]}" 2>/dev/null | awk '{ sub(/.*\) /, ""); t += $12 + $13 } END { print t + 0 }'
}

# A scratch directory in $run (mode 755: peers that drop privileges read
# their configuration there), removed on exit after every PID in all_pids
# is stopped. $1 names it.
bench_scratch() {
    run=$(mktemp -d "/tmp/$1-XXXXXX")
    chmod 755 "$run"
    all_pids=()
    trap bench_cleanup EXIT
}
bench_cleanup() {
    for p in "${all_pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$run"
}

# Stop one process: SIGTERM, up to $2 tenths of a second (50) to exit,
# then SIGKILL.
stop_pid() {
    kill "$1" 2>/dev/null || true
    for _ in $(seq "${2:-50}"); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}
