<?php
// Prints the worker's process id and its parent's (the php-fpm master, so a
// test can tell which php-fpm instance answered).
header('Content-Type: text/plain');
if (function_exists('posix_getppid')) {
    $ppid = posix_getppid();
} else {
    $stat = file_get_contents('/proc/self/stat');
    $rest = explode(' ', substr($stat, strrpos($stat, ')') + 2));
    $ppid = (int)$rest[1];
}
echo 'pid=', getmypid(), "\n";
echo 'ppid=', $ppid, "\n";
