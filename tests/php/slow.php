<?php
// Sleeps before answering. Query: ms=N (default 1000); first=1 sends and
// flushes "first\n" before sleeping (a response that stalls mid-body).
$ms = isset($_GET['ms']) ? (int)$_GET['ms'] : 1000;
header('Content-Type: text/plain');
if (!empty($_GET['first'])) {
    echo "first\n";
    flush();
}
usleep($ms * 1000);
echo "slept=$ms\n";
