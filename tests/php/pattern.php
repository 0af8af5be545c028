<?php
// A body of size=N bytes of the test applications' pattern
// (tests/apps/app-common.h, app_pattern_byte()): byte i is
// ALPHABET[(i + (i >> 6) + (i >> 12)) & 63], so each 64-byte block m is the
// alphabet rotated by (m + (m >> 6)) & 63.
$alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
$twice = $alphabet . $alphabet;
$n = isset($_GET['size']) ? max(0, (int)$_GET['size']) : 0;
header('Content-Type: application/octet-stream');
$out = '';
for ($m = 0; $m * 64 < $n; $m++) {
    $out .= substr($twice, ($m + ($m >> 6)) & 63, min(64, $n - $m * 64));
    if (strlen($out) >= 65536) {
        echo $out;
        $out = '';
    }
}
echo $out;
