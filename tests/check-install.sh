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
