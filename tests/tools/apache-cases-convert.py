#!/usr/bin/env python3
"""Turn recorded Apache mod_proxy_fcgi cases (JSON) into the replay vectors of
tests/test-apache-replay.c.

Run by hand when the recordings change:

    python3 tests/tools/apache-cases-convert.py DIR_WITH_JSON_CASES [OUT_DIR]

OUT_DIR defaults to tests/apache-cases beside this script's tests directory.
Every NAME.json becomes OUT_DIR/NAME.case; the vectors are committed, the
tests never read the JSON. The converter checks what it can while converting
(a reconstructed request must have the recorded length and sha256, a body
given only by its sha256 must be derivable from the request or the backend
script) and fails loudly otherwise.

Vector format: one item a line, `KEY ARG...`. Lines starting with `#` are
comments. ARGs are separated by one space; the last ARG of a key that takes a
value (a param value, a header value, a request) is the rest of the line
(absent, without the space before it, when empty).
Every ARG is escaped: `\\\\`, `\\r`, `\\n`, `\\t`, `\\xHH` for a byte outside
0x21..0x7e (a space inside the rest-of-line value stays a space, except a
trailing one), and `\\@N,L,UNIT` for the L bytes of UNIT (escaped, without
`\\@`) repeated N times, so a 200 KB body stays one short line. Strings are
bytes: the recordings decode bytes as latin-1, so they are lossless.

Placeholders left for the replayer: @B1@ @B2@ (backend TCP ports), @S1@ (the
unix socket path), @DOWN_PORT@ (a port nobody listens on), @DOCROOT@ (the
document root it builds), @LISTEN@ (never in a vector: the gateway's port).
Backend ports recorded in values (127.0.0.1:18101) become 127.0.0.1:@B1@.

Case level:
    case NAME / group GROUP / about TEXT
    backend b1 tcp|unix              the applications the group needs
    down-port                        the snippet needs @DOWN_PORT@
    config LINE                      the snippet, one line each
    config-test EXIT LINE REASON     only config-error cases: `minimal_gateway
                                     -t` must exit non-zero naming the file,
                                     the snippet line (1-based) and a reason;
                                     REASON is Apache's wording
    volatile NAME                    params compared for presence only
Per exchange (`exchange` starts one, in order):
    request RAW                      the exact bytes sent on a new connection
    script-delay MS / script-stdout TEXT (split in 65535-byte STDOUT records)
    script-chunk TEXT (one STDOUT record) / script-no-end (close instead of
    the empty STDOUT and END_REQUEST) / script-no-terminator
    fcgi BACKEND CONN INDEX FLAGS ID one FastCGI request the backend got; CONN
                                     is Apache's connection ordinal (compared
                                     as a pattern: same / new connection)
    param NAME VALUE                 its params, in order
    stdin LEN FNV1A64 REC,REC,...|-  body length, checksum, STDIN record sizes
    status-line TEXT / header NAME VALUE (wire order) / body TEXT
    client-close 0|1                 the client connection ends after it
    interim N                        an interim response Apache sent
Known, deliberate differences of minimal_gateway, each asserted instead of
Apache's value (field by field; `why` gives the reason, one line):
    diff status-line TEXT            the gateway's status line
    diff header NAME VALUE           the gateway sends NAME: VALUE (replaces
                                     Apache's NAME, or adds it)
    diff no-header NAME              the gateway does not send NAME
    diff body TEXT | diff body-any   the gateway's body / any body (its own
                                     error page)
    diff no-fcgi                     the backend gets no request
    diff param NAME VALUE            the gateway sends NAME=VALUE (replaces
                                     Apache's value in place, or appends)
    diff no-param NAME               the gateway does not send NAME
    diff param-renamed OLD NEW       the gateway sends NEW where Apache sent OLD
    diff param-insert NEXT:NAME VALUE  the gateway sends NAME=VALUE before NEXT
    diff stdin-records any           STDIN record sizes are not compared
    diff fcgi-id ID|rotate           the gateway's request id (rotate: the
                                     request's ordinal on its connection)
    diff client-close 0|1            the gateway keeps / closes the connection
    diff interim N | diff no-interim
    why TEXT
A `diff` line belongs to the exchange it appears in.
Known gateway bugs (the gateway is wrong, Apache right) that need more than
a small fix: `bug` lines, with the same kinds as `diff`, assert what the
gateway does today so the test stays meaningful, and the replayer prints
each one; fixing the bug makes the case fail until the line is removed.
"""

import hashlib
import json
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(os.path.dirname(HERE), "apache-cases")


def b(s):
    return s.encode("latin-1")


# ---- escaping ----

def _esc_byte(c, space_ok):
    if c == 0x5C:
        return "\\\\"
    if c == 0x0D:
        return "\\r"
    if c == 0x0A:
        return "\\n"
    if c == 0x09:
        return "\\t"
    if c == 0x20 and space_ok:
        return " "
    if 0x21 <= c <= 0x7E:
        return chr(c)
    return "\\x%02x" % c


def _esc_plain(data, space_ok):
    return "".join(_esc_byte(c, space_ok) for c in data)


def esc(data, space_ok=True):
    """Escape bytes; long runs of a repeated unit become \\@N,L,UNIT."""
    out = []
    i, n = 0, len(data)
    lit = bytearray()
    while i < n:
        best = None
        if n - i >= 64:
            for L in range(1, 17):
                unit = data[i:i + L]
                if len(unit) < L:
                    break
                k = 1
                while data[i + k * L:i + (k + 1) * L] == unit:
                    k += 1
                if k >= 4 and k * L >= 64 and (best is None or k * L > best[0] * best[1]):
                    best = (k, L)
        if best:
            if lit:
                out.append(_esc_plain(bytes(lit), space_ok))
                lit = bytearray()
            k, L = best
            out.append("\\@%d,%d,%s" % (k, L, _esc_plain(data[i:i + L], False)))
            i += k * L
        else:
            lit.append(data[i])
            i += 1
    if lit:
        out.append(_esc_plain(bytes(lit), space_ok))
    s = "".join(out)
    if s.endswith(" "):
        s = s[:-1] + "\\x20"
    return s


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for c in data:
        h ^= c
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


# ---- request reconstruction ----

def spec_bytes(v):
    if isinstance(v, str):
        return b(v)
    return b(v.get("prefix", "")) + b(v["repeat"]) * v["times"] + b(v.get("suffix", ""))


def request_bytes(req):
    if "raw" in req:
        return b(req["raw"])
    ver = req.get("version", "HTTP/1.1")
    out = b("%s %s %s\r\n" % (req["method"], req["target"], ver))
    out += b"Host: 127.0.0.1:18080\r\n"
    for name, value in req["headers"]:
        out += b(name) + b": " + spec_bytes(value) + b"\r\n"
    body = spec_bytes(req["body"]) if "body" in req else None
    if req.get("chunked"):
        out += b"Transfer-Encoding: chunked\r\n\r\n"
        pos = 0
        for size in req["chunked"]:
            out += b("%x\r\n" % size) + body[pos:pos + size] + b"\r\n"
            pos += size
        out += b"0\r\n\r\n"
    elif body is not None:
        out += b("Content-Length: %d\r\n\r\n" % len(body)) + body
    else:
        out += b"\r\n"
    if len(out) != req["raw_length"] or hashlib.sha256(out).hexdigest() != req["raw_sha256"]:
        raise SystemExit("cannot rebuild the request %s %s" % (req["method"], req["target"]))
    return out


def request_body(req):
    return spec_bytes(req["body"]) if "body" in req else b""


# ---- the recorded backend's answer ----

DEFAULT_STDOUT = b"Content-Type: text/plain\r\n\r\nok"


def script_lines(script):
    lines = []
    if script is None:
        script = {}
    if script.get("delay_ms"):
        lines.append("script-delay %d" % script["delay_ms"])
    if "stdout_chunks" in script:
        for ch in script["stdout_chunks"]:
            lines.append("script-chunk " + esc(spec_bytes(ch)))
        stdout = b"".join(spec_bytes(c) for c in script["stdout_chunks"])
    else:
        stdout = spec_bytes(script["stdout"]) if "stdout" in script else DEFAULT_STDOUT
        if stdout:
            lines.append("script-stdout " + esc(stdout))
    if script.get("end_request") is False:
        lines.append("script-no-end")
    if script.get("empty_stdout_terminator") is False:
        lines.append("script-no-terminator")
    known = {"delay_ms", "stdout", "stdout_chunks", "end_request", "empty_stdout_terminator"}
    if set(script) - known:
        raise SystemExit("unknown backend_script keys %s" % (set(script) - known))
    return lines, stdout


def response_body(resp, stdout):
    if resp.get("body") is not None:
        return b(resp["body"])
    # Only the sha256 was kept: the body must be what the script wrote after
    # its header block.
    cut = stdout.find(b"\r\n\r\n")
    cand = stdout[cut + 4:] if cut >= 0 else stdout
    if hashlib.sha256(cand).hexdigest() != resp["body_sha256"]:
        raise SystemExit("cannot derive a response body")
    return cand


def stdin_body(fr, req):
    st = fr["stdin"]
    if st.get("body") is not None and len(b(st["body"])) == st["total_bytes"]:
        data = b(st["body"])
    else:
        data = request_body(req)
    if hashlib.sha256(data).hexdigest() != st["sha256"]:
        raise SystemExit("cannot derive a STDIN body")
    return data


# ---- placeholders ----

def ports_to_placeholders(text, backends):
    for key, addr in backends.items():
        if addr.startswith("tcp:"):
            text = text.replace(addr[4:], "127.0.0.1:@%s@" % key.upper())
        else:
            text = text.replace(addr[5:], "@S%s@" % key[1:])
    return text.replace("127.0.0.1:18199", "127.0.0.1:@DOWN_PORT@")


# ---- deliberate differences of minimal_gateway ----
#
# Each rule looks at one exchange and returns (diff-line, why) pairs. A rule
# describes the gateway's intended behaviour; a gateway bug is fixed in the
# gateway, never added here.

def header_value(resp, name):
    for k, v in resp["headers"]:
        if k.lower() == name.lower():
            return v
    return None


REASONS = {400: "Bad Request", 404: "Not Found", 500: "Internal Server Error", 502: "Bad Gateway",
           503: "Service Unavailable", 504: "Gateway Timeout"}


def gateway_error(status, why, chunked=False):
    """The gateway's own error response: a one-line text/plain page (chunked:
    Apache's answer was chunked)."""
    body = "%d %s\n" % (status, REASONS[status])
    te = [("diff no-header Transfer-Encoding", "the gateway's error page has a length")] if chunked else []
    return te + [("diff status-line HTTP/1.1 %d %s" % (status, REASONS[status]), why),
            ("diff header Content-Type text/plain; charset=utf-8", "the gateway's error page is one line of text"),
            ("diff header Content-Length %d" % len(body), "the gateway's error page is one line of text"),
            ("diff body " + esc(b(body)), "the gateway's error page is one line of text")]


def all_params(ex):
    return [name for fr in ex["received_by_backend"] for name, _ in fr["params"]]


def r_path(case, ex):
    if "PATH" in all_params(ex):
        return [("diff no-param PATH", "the gateway does not hand its own environment's PATH to applications")]
    return []


def r_nokeepalive(case, ex):
    if "proxy-nokeepalive" in all_params(ex):
        return [("diff no-param proxy-nokeepalive", "an internal Apache variable, not sent")]
    return []


KEEPS_AFTER_ERROR = "the gateway keeps the client connection after an error it answers itself (Apache closes)"


def keeps_connection(resp):
    if header_value(resp, "Connection") == "close":
        return [("diff no-header Connection", KEEPS_AFTER_ERROR), ("diff client-close 0", KEEPS_AFTER_ERROR)]
    return []


def r_error_page(case, ex):
    resp = ex["response_to_client"]
    ctype = header_value(resp, "Content-Type") or ""
    if resp["status"] in REASONS and ctype.startswith("text/html; charset=iso-8859-1") \
            and case["name"] not in CASE_DIFFS:
        return gateway_error(resp["status"], "the same status as Apache") + keeps_connection(resp)
    return []


def r_balancer_vars(case, ex):
    names = [n for n in ("BALANCER_NAME", "BALANCER_WORKER_NAME", "BALANCER_WORKER_ROUTE") if n in all_params(ex)]
    return [("diff no-param " + n, "an internal Apache balancer variable, not sent") for n in names]


def r_request_id(case, ex):
    for fr in ex["received_by_backend"]:
        if fr["keep_conn"]:
            return [("diff fcgi-id rotate", "request ids rotate on a kept connection (the nth request has id n), so "
                     "a late record of an earlier request is recognised; Apache always uses 1")]
    return []


def r_dropped_vars(case, ex):
    """Apache drops a variable whose pair does not fit in 16384 bytes."""
    out = []
    why = ("the gateway sends variables of any size; Apache drops a pair that does not fit in 16384 bytes "
           "(AH02536)")
    for fr in ex["received_by_backend"]:
        names = [n for n, _ in fr["params"]]
        target = ex["request"]["target"]
        query = target.split("?", 1)[1] if "?" in target else ""
        if "SCRIPT_NAME" in names and "QUERY_STRING" not in names:
            out.append(("diff param-insert SCRIPT_NAME:QUERY_STRING " + esc(b(query)), why))
        if "SCRIPT_NAME" in names and "REQUEST_URI" not in names:
            out.append(("diff param-insert SCRIPT_NAME:REQUEST_URI " + esc(b(target)), why))
    return out


def r_stdin_records(case, ex):
    for fr in ex["received_by_backend"]:
        recs = fr["stdin"]["record_lengths"]
        if len(recs) > 1:
            return [("diff stdin-records any", "the gateway forwards the body as it reads it, in records of up "
                                               "to 65535 bytes; Apache cuts 8192-byte records")]
    return []


RULES = [r_path, r_dropped_vars, r_nokeepalive, r_balancer_vars, r_error_page, r_stdin_records, r_request_id]

# Differences of single cases: (diff-line, why) pairs by case name, or by
# (case name, exchange index).
STRICT_CGI = "strict CGI response parsing: a malformed header block is an invalid response (502)"
BODY_FROM_CHUNKED = ("the gateway holds a chunked body whole and always sends CONTENT_LENGTH; Apache sends "
                     "HTTP_TRANSFER_ENCODING from 16384 bytes on")
EXPECT_KEEP = ("the body came with the request, so the gateway keeps the connection and streams the answer "
               "chunked; Apache closes it and delimits the answer by the close")
STREAMED_HEAD = ("the gateway sends the head when the CGI header block ends and streams the body chunked; "
                 "Apache had the whole (empty) answer first")
PARSER_CLOSE = "a request the HTTP parser refuses ends the connection"
CASE_DIFFS = {
    "body_expect_100": [
        ("diff interim 100", "the gateway answers Expect: 100-continue with 100 Continue before reading the body"),
        ("diff no-header Connection", EXPECT_KEEP),
        ("diff header Transfer-Encoding chunked", EXPECT_KEEP),
        ("diff client-close 0", EXPECT_KEEP),
    ],
    "body_post_chunked_16385": [
        ("diff param-renamed HTTP_TRANSFER_ENCODING CONTENT_LENGTH", BODY_FROM_CHUNKED),
        ("diff param CONTENT_LENGTH 16385", BODY_FROM_CHUNKED),
    ],
    "hdr_hop_by_hop": [
        ("diff no-header Keep-Alive", "HTTP/1.1 connections persist by default: the gateway sends no Keep-Alive"),
        ("diff no-header Connection", "HTTP/1.1 connections persist by default: the gateway sends no Connection"),
    ],
    "pp_newline_encoded": gateway_error(400, "a CR or LF decoded into SCRIPT_NAME is refused (header injection); "
                                        "Apache passes it", chunked=True) + [
        ("diff no-fcgi", "refused before the application is asked")],
    "pp_raw_highbit_path": gateway_error(400, "request-target bytes outside visible ASCII are refused (RFC 9112); "
                                         "Apache passes them", chunked=True) + [
        ("diff no-fcgi", "refused before the application is asked"),
        ("diff header Connection close", PARSER_CLOSE), ("diff client-close 1", PARSER_CLOSE)],
    "resp_close_immediately": gateway_error(502, "an application that closes without answering sent an invalid "
                                            "response (502); Apache answers 503") + [
        ("diff no-header Connection", KEEPS_AFTER_ERROR), ("diff client-close 0", KEEPS_AFTER_ERROR)],
    "resp_invalid_header_line": gateway_error(502, STRICT_CGI) + [
        ("diff no-header Connection", KEEPS_AFTER_ERROR), ("diff client-close 0", KEEPS_AFTER_ERROR)],
    "resp_no_headers_at_all": gateway_error(502, STRICT_CGI + "; Apache sends the whole output as the body"),

    "resp_location_local_static": [
        ("diff status-line HTTP/1.1 302 Found", "a local Location without Status is not followed internally: "
                                                "the client gets a 302; Apache sends 200"),
        ("diff no-header Content-Length", STREAMED_HEAD),
        ("diff header Transfer-Encoding chunked", STREAMED_HEAD),
    ],
    "resp_backend_timeout": gateway_error(504, "worker sharing: timeout=2 on the second ProxyPass of one backend "
                                          "applies to the shared worker; Apache ignores it (AH01146)", chunked=True),
}


def b_balancer_filename(case, idx, ex):
    """SCRIPT_FILENAME names the balancer's first member, not the member chosen."""
    out = []
    for fr in ex["received_by_backend"]:
        if fr["backend"] != "b1" and "BALANCER_NAME" in [n for n, _ in fr["params"]]:
            for name, value in fr["params"]:
                if name == "SCRIPT_FILENAME":
                    value = ports_to_placeholders(value, case["backends"]).replace(
                        "@%s@" % fr["backend"].upper(), "@B1@")
                    out.append(("bug param SCRIPT_FILENAME " + esc(b(value)),
                                "SCRIPT_FILENAME names the balancer's first member, not the member chosen; "
                                "the params are built before the balancer picks a member"))
    return out


KNOWN_BUGS = [b_balancer_filename]


def diffs_for(case, idx, ex):
    out = []
    for bug in KNOWN_BUGS:
        out += bug(case, idx, ex)
    for rule in RULES:
        out += rule(case, ex)
    out += CASE_DIFFS.get(case["name"], [])
    out += CASE_DIFFS.get((case["name"], idx), [])
    return out


# ---- writing one case ----

def convert(case):
    name = case["name"]
    backends = case.get("backends") or {}
    snippet = case["apache_config_snippet"]
    lines = ["# %s: Apache 2.4 mod_proxy_fcgi recording, converted by "
             "tests/tools/apache-cases-convert.py; do not edit" % name,
             "case " + name, "group " + case["group"],
             "about " + esc(b(case["description"]))]
    for key in sorted(backends):
        lines.append("backend %s %s" % (key, backends[key].split(":")[0]))
    if "@DOWN_PORT@" in snippet:
        lines.append("down-port")
    for line in snippet.rstrip("\n").split("\n"):
        lines.append("config " + esc(b(line)))
    for vname in sorted(case.get("volatile_params", {})):
        lines.append("volatile " + vname)
    ct = case.get("config_test")
    if ct:
        m = re.match(r"AH00526: Syntax error on line (\d+) of ", ct["output"][0])
        line = int(m.group(1)) - case["apache_config_snippet_first_line"] + 1
        lines.append("config-test %d %d %s" % (ct["exit_code"], line, esc(b(ct["output"][1]))))
    for idx, ex in enumerate(case.get("exchanges") or []):
        lines += exchange_lines(case, idx, ex, backends)
    return "\n".join(lines) + "\n"


def exchange_lines(case, idx, ex, backends):
    req = ex["request"]
    lines = ["exchange", "request " + esc(request_bytes(req))]
    slines, stdout = script_lines(ex.get("backend_script"))
    lines += slines
    for fr in ex["received_by_backend"]:
        lines.append("fcgi %s %d %d %d %d" % (fr["backend"], fr["conn_id"], fr["index_in_conn"],
                                               fr["flags"], fr["requestId"]))
        for pname, pval in fr["params"]:
            pval = ports_to_placeholders(pval, backends)
            lines.append(("param %s %s" % (esc(b(pname), False), esc(b(pval)))).rstrip(" "))
        data = stdin_body(fr, req)
        recs = fr["stdin"]["record_lengths"]
        if not fr["stdin"]["closed_by_empty_record"]:
            raise SystemExit("%s: STDIN not closed" % case["name"])
        lines.append("stdin %d %s %s" % (len(data), fnv1a64(data),
                                         ",".join(str(r) for r in recs) or "-"))
    resp = ex["response_to_client"]
    if resp.get("client_error"):
        raise SystemExit("%s: client error %s" % (case["name"], resp["client_error"]))
    for st in resp.get("interim_responses") or []:
        lines.append("interim %s" % st)
    lines.append("status-line " + esc(b(resp["status_line"])))
    for k, v in resp["headers"]:
        lines.append(("header %s %s" % (esc(b(k), False), esc(b(v)))).rstrip(" "))
    lines.append(("body " + esc(response_body(resp, stdout))).rstrip(" "))
    closes = resp.get("body_delimited_by_close") or (header_value(resp, "Connection") or "").lower() == "close"
    lines.append("client-close %d" % (1 if closes else 0))
    for diff, why in diffs_for(case, idx, ex):
        lines.append(diff)
        lines.append("why " + why)
    return lines


def main():
    if len(sys.argv) < 2:
        raise SystemExit("usage: apache-cases-convert.py JSON_DIR [OUT_DIR]")
    src = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else DEFAULT_OUT
    os.makedirs(out, exist_ok=True)
    names = sorted(f for f in os.listdir(src) if f.endswith(".json"))
    for old in os.listdir(out):
        if old.endswith(".case"):
            os.unlink(os.path.join(out, old))
    for f in names:
        with open(os.path.join(src, f), encoding="utf-8") as fh:
            case = json.load(fh)
        with open(os.path.join(out, case["name"] + ".case"), "w", encoding="ascii", newline="\n") as fh:
            fh.write(convert(case))
    print("%d cases written to %s" % (len(names), out))


if __name__ == "__main__":
    main()
