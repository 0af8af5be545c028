# lighttpd: one process, mod_fastcgi (lighttpd 1.4 opens a FastCGI
# connection per request; it has no backend keep-alive).
start_lighttpd() {
    local app=$1 root=$2
    need_pkgs lighttpd || return 1
    cat > "$run/lighttpd.conf" <<CONF
server.document-root = "$root"
server.bind = "127.0.0.1"
server.port = $PEER_PORT
server.pid-file = "$run/lighttpd.pid"
server.errorlog = "$run/lighttpd.err"
server.max-connections = 9000
server.max-fds = 20000
server.max-keep-alive-requests = 1000000
server.max-keep-alive-idle = 60
server.modules = ("mod_fastcgi")
fastcgi.server = ( "/" => (( "host" => "127.0.0.1", "port" => $app, "check-local" => "disable" )) )
CONF
    $PIN_GW lighttpd -D -f "$run/lighttpd.conf" >/dev/null 2>&1 &
    PEER_PID=$!
}
