#!/bin/bash
# Build the Debian packages from a clean copy of the tracked sources, lint
# them, unpack them into a scratch root (dpkg -x) and use them from there: a
# program built with pkg-config only (shared and static), fcgic, and
# minimal_gateway checking the shipped sample configuration.
# usage: check-debs.sh SOURCE_DIR
# FCGIC_DEB_LINTIAN=0 leaves lintian out; FCGIC_DEB_PREBUILT=DIR checks the
# packages (and .changes) in DIR instead of building them.
# Exit status 77: a tool is missing.
set -euo pipefail
srcdir=$(cd "$1" && pwd)
for tool in dpkg-buildpackage dh pkg-config cc; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "SKIP: $tool not installed (Debian: apt-get install dpkg-dev debhelper pkg-config gcc)"
        exit 77
    }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
step_start=$(date +%s)
step() { # print how long the previous step took
    local now
    now=$(date +%s)
    echo "  ($(( now - step_start )) s)"
    step_start=$now
}

debs=$tmp
if [ -n "${FCGIC_DEB_PREBUILT:-}" ]; then
    debs=$(cd "$FCGIC_DEB_PREBUILT" && pwd)
    echo "== packages from $debs"
else
echo "== dpkg-buildpackage -us -uc -b (nocheck: the suite already ran)"
mkdir "$tmp/src"
if git -C "$srcdir" rev-parse --git-dir >/dev/null 2>&1; then
    # what a clean clone has: tracked files plus new ones not ignored
    (cd "$srcdir" && git ls-files -z --cached --others --exclude-standard |
        tar -c --null -T - --ignore-failed-read 2>/dev/null) | tar -x -C "$tmp/src"
else
    (cd "$srcdir" && tar -c --exclude='./build*' --exclude='./obj-*' .) | tar -x -C "$tmp/src"
fi
(cd "$tmp/src" && DEB_BUILD_OPTIONS="nocheck noddebs parallel=$(nproc)" \
    dpkg-buildpackage -us -uc -b -Pnocheck >"$tmp/build.log" 2>&1) || {
    tail -n 60 "$tmp/build.log"
    echo "FAIL: dpkg-buildpackage"
    exit 1
}
if grep -E "dpkg-gensymbols: warning|dh_missing: warning" "$tmp/build.log"; then
    echo "FAIL: the symbols file or the .install files do not match what was built"
    exit 1
fi
ls "$tmp"/*.deb | sed 's|.*/|  |'
step
fi

if [ "${FCGIC_DEB_LINTIAN:-1}" != 0 ] && command -v lintian >/dev/null 2>&1; then
    echo "== lintian (errors fail; warnings and below are listed)"
    lint_rc=0
    lintian --fail-on error --display-info --pedantic --allow-root "$debs"/*.changes >"$tmp/lintian.log" 2>&1 || lint_rc=$?
    sed 's/^/  /' "$tmp/lintian.log"
    echo "  $(grep -c '^E:' "$tmp/lintian.log" || true) errors, $(grep -c '^W:' "$tmp/lintian.log" || true) warnings, $(grep -c '^[IPX]:' "$tmp/lintian.log" || true) info/pedantic/experimental"
    [ "$lint_rc" -eq 0 ] || { echo "FAIL: lintian reports errors"; exit 1; }
    step
elif [ "${FCGIC_DEB_LINTIAN:-1}" != 0 ]; then
    echo "== lintian not installed: packages not linted (apt-get install lintian)"
fi

echo "== contents"
root=$tmp/root
for deb in "$debs"/*.deb; do
    dpkg -x "$deb" "$root"
done
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
libdir=$root/usr/lib/$multiarch
expect() { # package path...
    local pkg=$1 f
    shift
    for f in "$@"; do
        grep -q " \./${f#/}\( ->.*\)\{0,1\}$" <<<"$(dpkg-deb -c "$debs/${pkg}"_*.deb)" ||
            { echo "FAIL: $pkg does not ship $f"; exit 1; }
    done
}
expect libfcgiclient0 "usr/lib/$multiarch/libfcgiclient.so.0" "usr/lib/$multiarch/libfcgiclient.so.0.1.0"
expect libfcgiclient-dev usr/include/fcgiclient/fcgiclient.h usr/include/fcgiclient/version.h \
    "usr/lib/$multiarch/libfcgiclient.so" "usr/lib/$multiarch/libfcgiclient.a" \
    "usr/lib/$multiarch/pkgconfig/fcgiclient.pc" usr/share/man/man3/libfcgiclient.3.gz
expect fcgic usr/bin/fcgic usr/share/man/man1/fcgic.1.gz
expect minimal-gateway usr/sbin/minimal_gateway usr/share/man/man8/minimal_gateway.8.gz \
    etc/minimal-gateway/minimal-gateway.conf lib/systemd/system/minimal-gateway.service
grep -qx /etc/minimal-gateway/minimal-gateway.conf <<<"$(dpkg-deb -I "$debs"/minimal-gateway_*.deb conffiles)" ||
    { echo "FAIL: the sample configuration is not a conffile"; exit 1; }
grep -q libc6 <<<"$(dpkg-deb -f "$debs"/libfcgiclient0_*.deb Depends)" || { echo "FAIL: no shlibs dependencies"; exit 1; }
grep -q 'libfcgiclient0 (>= 0.1.0)' <<<"$(dpkg-deb -f "$debs"/fcgic_*.deb Depends)" ||
    { echo "FAIL: fcgic does not depend on libfcgiclient0 through the symbols file"; exit 1; }
unit=$root/lib/systemd/system/minimal-gateway.service
for line in 'ExecStart=/usr/sbin/minimal_gateway -f /etc/minimal-gateway/minimal-gateway.conf' \
    'ExecReload=/bin/kill -HUP $MAINPID' ProtectSystem=strict NoNewPrivileges=yes PrivateTmp=yes; do
    grep -qxF "$line" "$unit" || { echo "FAIL: unit lacks $line"; exit 1; }
done
if command -v systemd-analyze >/dev/null 2>&1; then
    # the unit's programs as the package installs them
    sed "s|/usr/sbin/minimal_gateway|$root/usr/sbin/minimal_gateway|g" "$unit" >"$tmp/minimal-gateway.service"
    if ! out=$(LD_LIBRARY_PATH=$libdir SYSTEMD_LOG_LEVEL=warning systemd-analyze verify --man=no \
            "$tmp/minimal-gateway.service" 2>&1); then
        echo "$out"
        echo "FAIL: systemd-analyze verify"
        exit 1
    fi
else
    echo "  systemd-analyze not installed: the unit is not verified (apt-get install systemd)"
fi
echo "  files, conffile, dependencies and the systemd unit as expected"
step

echo "== using the packages from the scratch root"
# fcgiclient.pc names the system directories; the sysroot maps them into
# $root. PCRE2 and c-ares (Requires.private) come from the system.
export PKG_CONFIG_PATH=$libdir/pkgconfig PKG_CONFIG_SYSROOT_DIR=$root
cc -std=c99 -Wall -Werror "$srcdir/tests/install-smoke.c" -o "$tmp/smoke" $(pkg-config --cflags --libs fcgiclient)
LD_LIBRARY_PATH=$libdir "$tmp/smoke" | sed 's/^/  shared: /'
cc -std=c99 -Wall -Werror "$srcdir/tests/install-smoke.c" -o "$tmp/smoke-static" -static-libgcc \
    $(pkg-config --cflags fcgiclient) "$libdir/libfcgiclient.a" \
    $(pkg-config --libs-only-l --static fcgiclient | sed 's/-lfcgiclient//')
"$tmp/smoke-static" | sed 's/^/  static: /'
if grep -q "libfcgiclient.so.0 => $libdir/" <<<"$(LD_LIBRARY_PATH=$libdir ldd "$tmp/smoke")"; then
    echo "  the program loads libfcgiclient.so.0 from the package"
else
    echo "FAIL: the program does not load the packaged library"
    exit 1
fi
LD_LIBRARY_PATH=$libdir "$root/usr/bin/fcgic" --version | sed 's/^/  /'
out=$(LD_LIBRARY_PATH=$libdir "$root/usr/sbin/minimal_gateway" -t -f "$root/etc/minimal-gateway/minimal-gateway.conf" 2>&1) || {
    echo "$out"
    echo "FAIL: minimal_gateway -t -f with the sample configuration"
    exit 1
}
echo "  minimal_gateway -t -f /etc/minimal-gateway/minimal-gateway.conf: $out"
step
echo "Debian packages built, linted and usable"
