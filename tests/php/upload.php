<?php
// Reads php://input in 64 KiB pieces (streaming, not all in memory) and
// reports the byte count and FNV-1a 64 checksum, plus CONTENT_LENGTH.
header('Content-Type: text/plain');
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
echo 'CONTENT_LENGTH=', isset($_SERVER['CONTENT_LENGTH']) ? $_SERVER['CONTENT_LENGTH'] : '', "\n";
echo 'STDIN-BYTES=', $n, "\n";
echo 'STDIN-FNV1A64=', hash_final($ctx), "\n";
