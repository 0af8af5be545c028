# floor: bench/floor-gateway, the least work a gateway can do per request
# (the same system calls, nothing else). A reference row, not a rival: the
# summary leaves it out of "best peer" and prints, for responses up to
# 1 KiB (it holds a whole response before writing it), what it says about the
# targets (a CPU target below its CPU per request, or a requests/s target
# above what the rig gives it, cannot be met by any gateway here).
start_floor() {
    local app=$1 root=$2
    [ -x "$top/$build/bench/floor-gateway" ] || { echo "floor: $build/bench/floor-gateway missing" >&2; return 1; }
    $PIN_GW "$top/$build/bench/floor-gateway" "$PEER_PORT" "$app" "$root" 2>"$run/floor.err" &
    PEER_PID=$!
}
