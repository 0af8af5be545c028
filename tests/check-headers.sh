#!/bin/sh
# Every public header compiles on its own as C99 -pedantic and as C++.
# usage: check-headers.sh SOURCE_INCLUDE_DIR BUILD_INCLUDE_DIR
set -eu
src=$1
bld=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
for h in "$src"/fcgiclient/*.h "$bld"/fcgiclient/version.h; do
    [ -f "$h" ] || { echo "FAIL: missing $h"; exit 1; }
    name=$(basename "$h")
    printf '#include <fcgiclient/%s>\nint fcgic_header_check_%s;\n' "$name" "$(echo "$name" | tr -c 'a-z0-9\n' _)" > "$tmp/t.c"
    cc -std=c99 -pedantic -Wall -Wextra -Werror -I"$src" -I"$bld" -c "$tmp/t.c" -o "$tmp/t.o" ||
        { echo "FAIL: $name as C99"; exit 1; }
    cp "$tmp/t.c" "$tmp/t.cc"
    c++ -std=c++11 -pedantic -Wall -Wextra -Werror -I"$src" -I"$bld" -c "$tmp/t.cc" -o "$tmp/t.o" ||
        { echo "FAIL: $name as C++"; exit 1; }
    n=$((n + 1))
done
[ "$n" -ge 6 ] || { echo "FAIL: only $n headers"; exit 1; }
echo "$n headers compile alone as C99 and C++"
