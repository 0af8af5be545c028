# nginx: one worker, upstream keepalive 64, fastcgi_keep_conn.
start_nginx() {
    local app=$1 root=$2
    need_pkgs nginx || return 1
    mkdir -p "$run/nginx"
    cat > "$run/nginx.conf" <<CONF
worker_processes 1;
pid $run/nginx.pid;
error_log $run/nginx/error.log;
daemon off;
events { worker_connections 20000; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path $run/nginx;
    fastcgi_temp_path $run/nginx;
    proxy_temp_path $run/nginx;
    upstream app { server 127.0.0.1:$app; keepalive 64; }
    server {
        listen 127.0.0.1:$PEER_PORT;
        location / {
            fastcgi_pass app;
            fastcgi_keep_conn on;
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME $root\$fastcgi_script_name;
        }
    }
}
CONF
    $PIN_GW nginx -c "$run/nginx.conf" -e "$run/nginx/error.log" &
    PEER_PID=$!
}
