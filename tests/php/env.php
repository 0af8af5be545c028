<?php
// Prints $_SERVER as NAME=VALUE lines in PHP's own order, then the request
// body's length and FNV-1a 64 checksum (same format as the C test apps).
header('Content-Type: text/plain');
foreach ($_SERVER as $name => $value) {
    if (is_array($value)) {
        continue; // argv/argc
    }
    echo $name, '=', $value, "\n";
}
$in = fopen('php://input', 'rb');
$ctx = hash_init('fnv1a64');
$n = 0;
while (!feof($in)) {
    $chunk = fread($in, 65536);
    if ($chunk === false || $chunk === '') {
        break;
    }
    $n += strlen($chunk);
    hash_update($ctx, $chunk);
}
fclose($in);
echo 'STDIN-BYTES=', $n, "\n";
echo 'STDIN-FNV1A64=', hash_final($ctx), "\n";
