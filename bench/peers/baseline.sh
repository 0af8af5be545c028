# minimal_gateway from another build ($GW_BASE_BUILD, e.g. of the previous
# commit), configured like minimal_gateway.sh: PEERS="minimal_gateway baseline"
# gives before/after ratios.
start_baseline() {
    local app=$1 root=$2
    [ -x "${GW_BASE_BUILD:-}/examples/minimal_gateway/minimal_gateway" ] ||
        { echo "baseline: set GW_BASE_BUILD to a build directory with minimal_gateway" >&2; return 1; }
    cat > "$run/base.conf" <<CONF
Listen 127.0.0.1:$PEER_PORT
Threads 1
MaxKeepAliveRequests 0
ProxyPass "/" "fcgi://127.0.0.1:$app$root/" enablereuse=on max=64
CONF
    $PIN_GW "$GW_BASE_BUILD/examples/minimal_gateway/minimal_gateway" -f "$run/base.conf" 2>"$run/base.err" &
    PEER_PID=$!
}
