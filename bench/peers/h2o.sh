# h2o: one thread, FastCGI connections kept for 60 s.
start_h2o() {
    local app=$1 root=$2
    need_pkgs h2o || return 1
    cat > "$run/h2o.conf" <<CONF
listen:
  host: 127.0.0.1
  port: $PEER_PORT
num-threads: 1
user: root
pid-file: $run/h2o.pid
error-log: $run/h2o.err
hosts:
  default:
    paths:
      /:
        fastcgi.connect:
          host: 127.0.0.1
          port: $app
          type: tcp
        fastcgi.timeout.keepalive: 60000
        fastcgi.document_root: $root
CONF
    $PIN_GW h2o -c "$run/h2o.conf" >/dev/null 2>&1 &
    PEER_PID=$!
}
