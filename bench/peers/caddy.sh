# Caddy (Debian's package; skipped when it cannot be installed): one
# GOMAXPROCS, reverse_proxy with the fastcgi transport.
start_caddy() {
    local app=$1 root=$2
    need_pkgs caddy || { echo "caddy: not installable here (needs Debian 12's caddy package and network): skipped" >&2; return 1; }
    mkdir -p "$run/caddy"
    cat > "$run/Caddyfile" <<CONF
{
    admin off
    auto_https off
}
http://127.0.0.1:$PEER_PORT {
    reverse_proxy 127.0.0.1:$app {
        transport fastcgi {
            root $root
            split .php
        }
    }
}
CONF
    XDG_DATA_HOME=$run/caddy XDG_CONFIG_HOME=$run/caddy HOME=$run/caddy GOMAXPROCS=1 \
        $PIN_GW caddy run --config "$run/Caddyfile" --adapter caddyfile >/dev/null 2>"$run/caddy.err" &
    PEER_PID=$!
}
