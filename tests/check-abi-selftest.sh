#!/bin/sh
# Show that tests/check-abi.sh catches an incompatible change the version does
# not announce: build the library from a scratch copy of the sources in which
# struct fcgic_span (passed to and from many functions) changed layout, and
# expect the check to fail; then raise the major version in that copy and
# expect it to pass.
# usage: check-abi-selftest.sh SOURCE_DIR
set -eu
srcdir=$(cd "$1" && pwd)
for tool in abidw abidiff meson ninja; do
    command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool not installed"; exit 77; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/src"
if [ -d "$srcdir/.git" ] || [ -f "$srcdir/.git" ]; then
    (cd "$srcdir" && git ls-files -z --cached --others --exclude-standard |
        tar -c --null -T - --ignore-failed-read 2>/dev/null) | tar -x -C "$tmp/src"
else
    (cd "$srcdir" && tar -c --exclude='./build*' .) | tar -x -C "$tmp/src"
fi
sed -i '/^struct fcgic_span {/,/^};/s/size_t len;/unsigned len;/' "$tmp/src/include/fcgiclient/common.h"
grep -q 'unsigned len;' "$tmp/src/include/fcgiclient/common.h" || { echo "FAIL: could not apply the scratch change"; exit 1; }
build() {
    reconf=
    [ ! -d "$tmp/b" ] || reconf=--reconfigure
    meson setup $reconf "$tmp/b" "$tmp/src" -Dtests=false -Dbench=false --buildtype=debugoptimized >"$tmp/log" 2>&1 &&
        version=$(meson introspect "$tmp/b" --projectinfo | python3 -c 'import json, sys; print(json.load(sys.stdin)["version"])') &&
        ninja -C "$tmp/b" "libfcgiclient/libfcgiclient.so.$version" >>"$tmp/log" 2>&1 || { cat "$tmp/log"; echo "FAIL: scratch build"; exit 1; }
}
build
rc=0
sh "$srcdir/tests/check-abi.sh" "$tmp/b/libfcgiclient/libfcgiclient.so" "$srcdir" >"$tmp/out" 2>&1 || rc=$?
if [ "$rc" -ne 1 ] || ! grep -q 'incompatible ABI change' "$tmp/out"; then
    cat "$tmp/out"
    echo "FAIL: check-abi.sh did not catch a changed struct fcgic_span (exit status $rc)"
    exit 1
fi
echo "check-abi.sh caught the unannounced incompatible change: $(grep -m1 -o "[0-9]* function[s]* with some indirect sub-type change" "$tmp/out" || echo "see its report")"
# The same change announced by a new major version (and so a new soname).
sed -i "0,/version : '[0-9]*\./s/version : '[0-9]*\./version : '99./" "$tmp/src/meson.build"
# the same build directory: ninja reconfigures and rebuilds what changed
build
sh "$srcdir/tests/check-abi.sh" "$tmp/b/libfcgiclient/libfcgiclient.so" "$srcdir" >"$tmp/out" 2>&1 || {
    cat "$tmp/out"
    echo "FAIL: check-abi.sh refused an incompatible change announced by a new soname"
    exit 1
}
echo "and accepts it once the major version (soname) is raised"
