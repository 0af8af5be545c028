# Apache 2.4, event MPM: one child of 64 threads, mod_proxy_fcgi with
# enablereuse=on (a connection pool per child).
start_apache() {
    local app=$1 root=$2
    need_pkgs apache2 || return 1
    local m=/usr/lib/apache2/modules
    mkdir -p "$run/apache"
    cat > "$run/apache.conf" <<CONF
ServerRoot $run/apache
ServerName localhost
Listen 127.0.0.1:$PEER_PORT
PidFile $run/apache/httpd.pid
ErrorLog $run/apache/error.log
LoadModule mpm_event_module $m/mod_mpm_event.so
LoadModule authz_core_module $m/mod_authz_core.so
LoadModule proxy_module $m/mod_proxy.so
LoadModule proxy_fcgi_module $m/mod_proxy_fcgi.so
StartServers 1
ServerLimit 1
ThreadLimit 64
ThreadsPerChild 64
MaxRequestWorkers 64
MinSpareThreads 1
MaxSpareThreads 64
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 60
ProxyPass "/" "fcgi://127.0.0.1:$app$root/" enablereuse=on
CONF
    $PIN_GW apache2 -f "$run/apache.conf" -DFOREGROUND 2>"$run/apache.err" &
    PEER_PID=$!
}
