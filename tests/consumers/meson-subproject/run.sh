#!/bin/sh
# Copy this consumer project to a temporary directory, point
# subprojects/fcgiclient at the libfcgiclient source tree, and build and run
# it with meson falling back to that subproject.
# usage: run.sh SOURCE_DIR
set -eu
srcdir=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
command -v meson >/dev/null 2>&1 || { echo "SKIP: meson not installed"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/consumer/subprojects"
cp "$here/meson.build" "$tmp/consumer/"
cp "$here/../consumer.c" "$tmp/"
ln -s "$srcdir" "$tmp/consumer/subprojects/fcgiclient"
# the fallback even on a machine where fcgiclient.pc is installed
meson setup "$tmp/build" "$tmp/consumer" --force-fallback-for=fcgiclient >"$tmp/setup.log" 2>&1 ||
    { cat "$tmp/setup.log"; echo "FAIL: meson setup of the consumer"; exit 1; }
grep -q "Executing subproject fcgiclient" "$tmp/setup.log" && grep -q "Dependency fcgiclient found: YES" "$tmp/setup.log" ||
    { cat "$tmp/setup.log"; echo "FAIL: fcgiclient did not come from the subproject"; exit 1; }
ninja -C "$tmp/build" >"$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; echo "FAIL: build"; exit 1; }
"$tmp/build/consumer"
echo "meson consumer: dependency('fcgiclient') fell back to the subproject"
