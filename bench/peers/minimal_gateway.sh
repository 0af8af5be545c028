# minimal_gateway: one thread, a pool of up to 64 connections (as many as the application has threads or children)
# (GW_EXTRA: more configuration lines).
start_minimal_gateway() {
    local app=$1 root=$2
    cat > "$run/gw.conf" <<CONF
Listen 127.0.0.1:$PEER_PORT
Threads 1
MaxKeepAliveRequests 0
ProxyPass "/" "fcgi://127.0.0.1:$app$root/" enablereuse=on max=64
${GW_EXTRA:-}
CONF
    $PIN_GW "$top/$build/examples/minimal_gateway/minimal_gateway" -f "$run/gw.conf" 2>"$run/gw.err" &
    PEER_PID=$!
}
