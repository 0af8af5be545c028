#!/bin/sh
# Install a built libfcgiclient into a temporary DESTDIR, then configure,
# build and run the CMake consumer against that copy with pkg-config only.
# usage: run.sh BUILD_DIR SOURCE_DIR
set -eu
build=$(cd "$1" && pwd)
srcdir=$(cd "$2" && pwd)
for tool in cmake pkg-config meson; do
    command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool not installed"; exit 77; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
meson install -C "$build" --destdir "$tmp/root" --no-rebuild --quiet >/dev/null
pc=$(find "$tmp/root" -name fcgiclient.pc | head -n 1)
[ -n "$pc" ] || { echo "FAIL: no fcgiclient.pc installed"; exit 1; }
# fcgiclient.pc names the build's prefix, under which its libdir and
# includedir lie: pkg-config is told where that prefix is now.
prefix=$(sed -n 's/^prefix=//p' "$pc")
export PKG_CONFIG_PATH="$(dirname "$pc")"
cmake -S "$srcdir/tests/consumers/cmake" -B "$tmp/build" \
    "-DPKG_CONFIG_ARGN=--define-variable=prefix=$tmp/root$prefix" >"$tmp/cmake.log" 2>&1 ||
    { cat "$tmp/cmake.log"; echo "FAIL: cmake configure"; exit 1; }
cmake --build "$tmp/build" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; echo "FAIL: cmake build"; exit 1; }
# CMake's build tree run path points at the installed copy: no LD_LIBRARY_PATH
ldd "$tmp/build/consumer" | grep -q "libfcgiclient.so.0 => $tmp/root/" ||
    { ldd "$tmp/build/consumer"; echo "FAIL: the consumer does not load the installed copy"; exit 1; }
env -u LD_LIBRARY_PATH "$tmp/build/consumer"
echo "CMake consumer: pkg_check_modules(IMPORTED_TARGET) against prefix $prefix installed in a DESTDIR"
