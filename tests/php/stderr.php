<?php
// Writes to FCGI_STDERR with error_log() (php.ini has no error_log, so
// php-fpm forwards it as FastCGI STDERR) and sets the response status.
// Query: msg=TEXT (default "stderr from php"), status=NNN (default 500),
// worker=1 also writes "worker stderr: TEXT" to the worker's own stderr
// (php://stderr), which catch_workers_output copies to the php-fpm log.
$msg = isset($_GET['msg']) ? $_GET['msg'] : 'stderr from php';
$status = isset($_GET['status']) ? (int)$_GET['status'] : 500;
error_log($msg);
if (!empty($_GET['worker'])) {
    file_put_contents('php://stderr', "worker stderr: $msg\n");
}
http_response_code($status);
header('Content-Type: text/plain');
echo "status=$status\n";
