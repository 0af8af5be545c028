#!/bin/sh
# Install into a temporary prefix, then build and run a program against it
# using only pkg-config, shared and static.
# usage: check-install.sh BUILD_DIR SOURCE_DIR
set -eu
build=$1
srcdir=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
meson install -C "$build" --destdir "$tmp/root" --no-rebuild --quiet >/dev/null
pc=$(find "$tmp/root" -name fcgiclient.pc | head -n 1)
[ -n "$pc" ] || { echo "FAIL: no fcgiclient.pc installed"; exit 1; }
[ -f "$(dirname "$pc")/../../include/fcgiclient/fcgiclient.h" ] || [ -n "$(find "$tmp/root" -path '*include/fcgiclient/fcgiclient.h')" ] ||
    { echo "FAIL: headers not installed under include/fcgiclient/"; exit 1; }
export PKG_CONFIG_PATH="$(dirname "$pc")"
export PKG_CONFIG_SYSROOT_DIR="$tmp/root"
# the library sits next to the pkgconfig directory
libdir=$(dirname "$(dirname "$pc")")
cc -std=c99 -Wall -Werror "$srcdir/tests/install-smoke.c" -o "$tmp/smoke" $(pkg-config --cflags --libs fcgiclient)
LD_LIBRARY_PATH="$libdir" "$tmp/smoke"
cc -std=c99 -Wall -Werror "$srcdir/tests/install-smoke.c" -o "$tmp/smoke-static" \
    $(pkg-config --cflags fcgiclient) "$libdir/libfcgiclient.a" $(pkg-config --libs-only-l --static fcgiclient | sed 's/-lfcgiclient//')
"$tmp/smoke-static"
echo "installed library usable through pkg-config (shared and static)"

# Installed programs and the run path. Under the build's own prefix fcgic gets
# a run path only when that libdir is not a system one; under a private prefix
# (a second configuration of the same sources) it runs without
# LD_LIBRARY_PATH.
fcgic_inst=$(find "$tmp/root" -path '*/bin/fcgic' | head -n 1)
if [ -n "$fcgic_inst" ] && command -v readelf >/dev/null 2>&1; then
    prefix=$(meson introspect "$build" --buildoptions | python3 -c \
        'import json,sys; o={x["name"]: x["value"] for x in json.load(sys.stdin)}; print(o["prefix"].rstrip("/") + "/" + o["libdir"] if not o["libdir"].startswith("/") else o["libdir"])')
    runpath=$(readelf -d "$fcgic_inst" | sed -n 's/.*R\(UN\)\{0,1\}PATH.*\[\(.*\)\]/\2/p')
    case $prefix in
    /lib | /lib64 | /usr/lib | /usr/lib64 | /usr/local/lib | /usr/local/lib64 | /lib/*-*-* | /usr/lib/*-*-* | /usr/local/lib/*-*-*)
        [ -z "$runpath" ] || { echo "FAIL: fcgic installed for system libdir $prefix has run path $runpath"; exit 1; } ;;
    *)
        [ "$runpath" = "$prefix" ] || { echo "FAIL: fcgic installed for $prefix has run path '$runpath'"; exit 1; } ;;
    esac
fi
if [ -f "$srcdir/examples/fcgic/main.c" ]; then
    meson setup "$tmp/private-build" "$srcdir" --prefix="$tmp/private" -Dtests=false -Dbench=false -Dfuzz=false \
        >"$tmp/private.log" 2>&1 || { cat "$tmp/private.log"; echo "FAIL: configure with a private prefix"; exit 1; }
    meson install -C "$tmp/private-build" --quiet >>"$tmp/private.log" 2>&1 ||
        { cat "$tmp/private.log"; echo "FAIL: build and install into a private prefix"; exit 1; }
    out=$(env -u LD_LIBRARY_PATH "$tmp/private/bin/fcgic" --version) ||
        { echo "FAIL: fcgic installed under a private prefix does not run without LD_LIBRARY_PATH"; exit 1; }
    if command -v ldd >/dev/null 2>&1; then
        env -u LD_LIBRARY_PATH ldd "$tmp/private/bin/fcgic" | grep -q "libfcgiclient.*$tmp/private/" ||
            { echo "FAIL: fcgic under a private prefix does not load the library installed with it"; exit 1; }
    fi
    echo "private prefix: $out runs without LD_LIBRARY_PATH"
fi
