#!/bin/sh
# Compare the ABI of the built libfcgiclient.so with the recorded baseline of
# the last release (abi/libfcgiclient.so.MAJOR.abi, written by abidw from
# that release's library). Compatible changes (added functions, variables,
# enumerators) pass with a note; any other change (removed or changed
# functions or variables, a changed layout of a type they use) passes only
# when the soname changed with it, i.e. the major version in meson.build was
# raised.
#
# usage: check-abi.sh LIBFCGICLIENT.so SOURCE_DIR [BASELINE.abi]
#        check-abi.sh --dump LIBFCGICLIENT.so SOURCE_DIR OUT.abi   (record a baseline)
# Exit status: 0 ok, 1 unannounced incompatible change or failure, 77 skipped.
set -eu
dump_only=
if [ "${1:-}" = --dump ]; then
    dump_only=1
    shift
fi
lib=$1
srcdir=$2
# The same abidw flags for the baseline and the build under test: public
# types only (private ones become opaque), no build paths, stable ids.
dump() {
    abidw --headers-dir "$srcdir/include/fcgiclient" --drop-private-types --no-corpus-path \
        --no-comp-dir-path --no-elf-needed --short-locs --type-id-style hash --out-file "$2" "$1"
}
for tool in abidw abidiff readelf; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "SKIP: $tool not installed (Debian: apt-get install abigail-tools binutils)"
        exit 77
    }
done
[ -f "$lib" ] || { echo "FAIL: $lib not found"; exit 1; }
readelf -S "$lib" | grep -q '\.debug_info' || {
    echo "SKIP: $lib has no debug information (build with -g, e.g. buildtype debugoptimized)"
    exit 77
}
if [ -n "$dump_only" ]; then
    dump "$lib" "$3"
    echo "baseline written to $3"
    exit 0
fi
soname=$(readelf -d "$lib" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
baseline=${3:-$srcdir/abi/$soname.abi}
if [ ! -f "$baseline" ]; then
    # A new soname without a baseline: the major version was raised.
    latest=$(ls "$srcdir"/abi/*.abi 2>/dev/null | tail -n 1)
    [ -n "$latest" ] || { echo "FAIL: no ABI baseline under $srcdir/abi"; exit 1; }
    echo "soname $soname has no baseline yet (last: $(basename "$latest")): incompatible changes are announced;"
    echo "record one at release: tests/check-abi.sh --dump $lib $srcdir abi/$soname.abi"
    exit 0
fi
arch=$(sed -n "1s/.*architecture='\([^']*\)'.*/\1/p" "$baseline")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dump "$lib" "$tmp/current.abi"
cur_arch=$(sed -n "1s/.*architecture='\([^']*\)'.*/\1/p" "$tmp/current.abi")
if [ "$arch" != "$cur_arch" ]; then
    echo "SKIP: baseline $baseline is for $arch, this build is $cur_arch"
    exit 77
fi
rc=0
abidiff "$baseline" "$tmp/current.abi" >"$tmp/report" 2>&1 || rc=$?
if [ $((rc & 3)) -ne 0 ]; then
    cat "$tmp/report"
    echo "FAIL: abidiff could not compare (exit status $rc)"
    exit 1
fi
# abidiff sets bit 8 only for removed symbols; a changed layout of a type
# the API passes around is bit 4 like an addition. So everything but added
# functions, variables and harmless (filtered) changes counts as incompatible.
broken=$(sed -n 's/.*changes summary: \([0-9]*\) Removed\(, \([0-9]*\) Changed\)\{0,1\}.*/\1 \3/p' "$tmp/report" |
    awk '{n += $1 + $2} END {print n + 0}')
if [ $((rc & 8)) -ne 0 ] || [ "$broken" -ne 0 ]; then
    cat "$tmp/report"
    echo "FAIL: incompatible ABI change against $(basename "$baseline"), but the soname is still $soname:"
    echo "      keep the old ABI, or raise the major version in meson.build (the soname follows it)"
    exit 1
fi
if [ $((rc & 4)) -ne 0 ]; then
    cat "$tmp/report"
    echo "compatible ABI changes against $(basename "$baseline") (raise the minor version at release)"
    exit 0
fi
echo "ABI of $soname unchanged against $(basename "$baseline")"
