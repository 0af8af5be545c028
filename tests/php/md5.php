<?php
// Reports the request body's byte count and MD5 (read from php://input in
// 64 KiB pieces), CONTENT_LENGTH, the method, and the parsed form fields
// ($_POST, for application/x-www-form-urlencoded) and query ($_GET) as
// POST:name=value and GET:name=value lines, sorted by name.
header('Content-Type: text/plain');
$in = fopen('php://input', 'rb');
$ctx = hash_init('md5');
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
echo 'METHOD=', $_SERVER['REQUEST_METHOD'], "\n";
echo 'CONTENT_LENGTH=', isset($_SERVER['CONTENT_LENGTH']) ? $_SERVER['CONTENT_LENGTH'] : '', "\n";
echo 'STDIN-BYTES=', $n, "\n";
echo 'STDIN-MD5=', hash_final($ctx), "\n";
ksort($_POST);
foreach ($_POST as $k => $v) {
    echo 'POST:', $k, '=', is_array($v) ? 'array' : $v, "\n";
}
ksort($_GET);
foreach ($_GET as $k => $v) {
    echo 'GET:', $k, '=', is_array($v) ? 'array' : $v, "\n";
}
