#!/bin/sh
# The shared library and fcgiclient.pc name an optional dependency exactly
# when it was built in: PCRE2 with the expression engine (-Dexpr), c-ares with
# the resolver (-Dcares).
# usage: check-linkage.sh LIBFCGICLIENT.so fcgiclient.pc PCRE2(yes|no) CARES(yes|no)
set -eu
lib=$1 pc=$2 want_pcre2=$3 want_cares=$4
[ -f "$lib" ] || { echo "FAIL: $lib not found"; exit 1; }
[ -f "$pc" ] || { echo "FAIL: $pc not found"; exit 1; }
needed=$(readelf -d "$lib" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
requires=$(sed -n 's/^Requires.private://p' "$pc")
[ -n "$needed" ] || { echo "FAIL: readelf found no NEEDED entries in $lib"; exit 1; }
fail=0
check() { # name soname-prefix pc-module wanted
    case "$needed" in *"$2"*) in_lib=yes ;; *) in_lib=no ;; esac
    case "$requires" in *"$3"*) in_pc=yes ;; *) in_pc=no ;; esac
    if [ "$in_lib" != "$4" ] || [ "$in_pc" != "$4" ]; then
        echo "FAIL: $1 built in: $4, but NEEDED by the library: $in_lib, in Requires.private: $in_pc"
        fail=1
    else
        echo "$1 built in: $4 (NEEDED and Requires.private agree)"
    fi
}
check PCRE2 libpcre2-8.so libpcre2-8 "$want_pcre2"
check c-ares libcares.so libcares "$want_cares"
exit $fail
