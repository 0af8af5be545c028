# HAProxy: one thread, fcgi-app with keep-conn, http-reuse always.
start_haproxy() {
    local app=$1 root=$2
    need_pkgs haproxy || return 1
    cat > "$run/haproxy.cfg" <<CONF
global
    nbthread 1
    maxconn 9000
defaults
    mode http
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 60s
fcgi-app app
    docroot $root
    option keep-conn
frontend web
    bind 127.0.0.1:$PEER_PORT
    default_backend app
backend app
    http-reuse always
    use-fcgi-app app
    server s1 127.0.0.1:$app proto fcgi
CONF
    $PIN_GW haproxy -db -f "$run/haproxy.cfg" >/dev/null 2>"$run/haproxy.err" &
    PEER_PID=$!
}
