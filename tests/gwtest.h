/* Helpers for the tests and the soak driver that run minimal_gateway as a
 * process in front of real applications (tests/test-gateway.c,
 * tests/test-gw-directives.c, tests/test-gw-status.c, tests/test-hostile.c,
 * tests/test-apache-replay.c, tests/test-gw-stress.c,
 * tests/test-gw-hostile-clients.c, tests/gw-soak.c): start and stop the
 * gateway with a configuration written to a temp dir, run it once with
 * arguments (-t), one-shot exchanges (send a request, read until the server
 * closes), HTTP/1.1 client connections that read responses one at a time
 * (pipelining, keep-alive), and what /proc says about a process (open fds,
 * RSS, children).
 *
 * Nothing here calls Check: functions return 0 / a negative errno value (or
 * the documented result) and the caller asserts. Blocking sockets, 127.0.0.1
 * only. Not thread-safe per object; distinct objects may be used from
 * distinct threads. */
#ifndef FCGIC_TEST_GWTEST_H
#define FCGIC_TEST_GWTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Environment variable naming the gateway executable (set by meson). */
#define GWT_EXE_ENV "GW_EXE"

/* Whether GW_EXE is set; says on stderr when it is not (for main). */
bool gwt_have_gateway(void);

/* A gateway process. pid is -1 when not running. */
struct gwt_gateway {
    pid_t pid;
    int port;             /* the Listen port on 127.0.0.1 */
    char dir[64];         /* temp dir: gw.conf, stderr.log, logs; removed by stop */
    char conf_path[128];  /* dir/gw.conf */
    /* How gwt_gateway_run starts it; zero for the defaults. */
    const char *stderr_path; /* stderr to this file, truncated, even with
                              * GW_TEST_VERBOSE (NULL: dir/stderr.log appended
                              * to, /dev/null without a dir, the test's own
                              * stderr with GW_TEST_VERBOSE); borrowed until
                              * gwt_gateway_run returns */
    const char *preload;     /* LD_PRELOAD of the gateway (NULL: none); borrowed
                              * until gwt_gateway_run returns */
    bool native;             /* never under valgrind, even when the test is */
};

/* True when the test itself runs under valgrind (meson's valgrind setup sets
 * FCGIC_UNDER_VALGRIND): scale sizes and counts down. The gateway is then
 * run under valgrind as well (unless native). */
bool gwt_under_valgrind(void);

/* A TCP port on 127.0.0.1 that was free a moment ago. */
int gwt_free_port(void);

/* Make the temp dir, choose the port and name dir/gw.conf; nothing runs yet.
 * The caller writes the configuration (gwt_gateway_write_conf, or a file of
 * its own with a Listen line for g->port) and calls gwt_gateway_run. Returns
 * 0 or -errno (-ENOENT when GW_EXE is not set). */
int gwt_gateway_init(struct gwt_gateway *g);

/* Start the gateway on g->conf_path, in g->dir when there is one (the
 * caller may fill in pid = -1, port and conf_path itself and leave dir
 * empty: a gateway in a directory the caller owns, which stop leaves
 * alone), and wait until it accepts on g->port (20 s, 120 s under
 * valgrind). Returns 0, -ECHILD when it exited first (pid is then -1: a
 * configuration it refused), -ETIMEDOUT or -errno. */
int gwt_gateway_run(struct gwt_gateway *g);

/* gwt_gateway_init, dir/gw.conf = "Listen 127.0.0.1:<port>\n" + conf,
 * gwt_gateway_run. Returns 0 or -errno. */
int gwt_gateway_start(struct gwt_gateway *g, const char *conf);

/* Write g->conf_path = "Listen 127.0.0.1:<port>\n" + conf, whole or not at
 * all (a reload never reads half a file). 0 or -errno. */
int gwt_gateway_write_conf(const struct gwt_gateway *g, const char *conf);

/* SIGTERM, wait, remove the temp dir. Returns the exit status (0 for a
 * graceful stop), 128 + signal when killed, -errno. No-op (0) when not
 * started. */
int gwt_gateway_stop(struct gwt_gateway *g);

/* Run the gateway once with args (NULL-terminated, argv[1] on; never under
 * valgrind), for -t and --help: its stdout and stderr together into *out,
 * malloc'ed and NUL-terminated (NULL on -errno). Returns its exit status,
 * 128 + signal when killed, -errno. */
int gwt_gateway_cmd(const char *const *args, char **out);

/* Write len bytes of data to path (created or truncated). 0 or -errno. */
int gwt_write_file(const char *path, const void *data, size_t len);

/* The contents of path, malloc'ed and NUL-terminated, their length in *len
 * (len may be NULL); NULL when the file cannot be opened. */
char *gwt_slurp(const char *path, size_t *len);

/* A blocking socket connected to 127.0.0.1:port with TCP_NODELAY and a
 * receive/send timeout of timeout_s seconds; rcvbuf > 0 sets SO_RCVBUF
 * before connecting. Returns the fd or -errno. */
int gwt_connect(int port, int timeout_s, int rcvbuf);

/* Send everything (MSG_NOSIGNAL). 0 or -errno. */
int gwt_send(int fd, const void *p, size_t n);
int gwt_sends(int fd, const char *s);

/* A client connection with its read buffer. */
struct gwt_conn {
    int fd;
    char *buf;
    size_t len, off, cap;
};

void gwt_conn_init(struct gwt_conn *c, int fd);
/* Close the fd and free the buffer. */
void gwt_conn_close(struct gwt_conn *c);

/* One parsed response. body is malloc'ed and NUL-terminated. */
struct gwt_resp {
    int status;
    char head[8192];
    char *body;
    size_t body_len;
    size_t bytes_seen; /* of this response, head included, before any error */
    size_t body_cap;   /* private */
};

enum {
    GWT_EOF = -1,       /* the connection ended before any byte of a response */
    GWT_BROKEN = -2,    /* a response started but did not complete (EOF, reset, timeout) */
    GWT_MALFORMED = -3, /* bytes that are not an HTTP/1.1 response */
};

/* Read the next response: head, then the body framed by Content-Length,
 * chunked or the connection's end (none for HEAD, 1xx, 204, 304; pass
 * head_req for a HEAD). Returns 0, GWT_EOF, GWT_BROKEN or GWT_MALFORMED;
 * r->body is set (maybe empty) in every case and must be freed. */
int gwt_read_response(struct gwt_conn *c, struct gwt_resp *r, bool head_req);
void gwt_resp_free(struct gwt_resp *r);

/* The value of header name (case-insensitive) in r->head into out ("" when
 * absent). Returns out. */
const char *gwt_header(const struct gwt_resp *r, const char *name, char *out, size_t cap);

/* Read until EOF (or error/timeout) from a socket, a pipe or a file;
 * returns a malloc'ed NUL-terminated buffer and its length in *len (len may
 * be NULL). */
char *gwt_read_all(int fd, size_t *len);

/* One exchange on a new connection to port (gwt_connect, 20 s timeouts):
 * send len bytes of req, read until the server closes, split the head from
 * the body. r->head is the head without the empty line that ends it,
 * r->status the number after "HTTP/1.1 ", r->body (malloc'ed, NUL-terminated)
 * all that follows, dechunked in place when dechunk is set and the head says
 * "Transfer-Encoding: chunked". Returns 0, -errno (connect, send),
 * GWT_MALFORMED when no head came (r->body then holds all that did) or the
 * chunked body is cut short. r->body is set in every case and must be freed. */
int gwt_exchange(int port, const char *req, size_t len, bool dechunk, struct gwt_resp *r);

/* gwt_exchange of "GET target HTTP/1.1", Host: localhost, the header lines
 * in headers ("" or each ending in CRLF) and Connection: close. */
int gwt_get(int port, const char *target, const char *headers, bool dechunk, struct gwt_resp *r);

/* Whether body is app_pattern_byte(0..n-1) (tests/apps/app-common.h). */
bool gwt_pattern_ok(const char *body, size_t n);

/* Open file descriptors of pid (entries of /proc/pid/fd), -errno. */
int gwt_fd_count(pid_t pid);
/* Poll until gwt_fd_count(pid) <= want, at most ms milliseconds; returns
 * the last count. */
int gwt_wait_fds(pid_t pid, int want, int ms);
/* Print pid's open fds and the TCP socket table to stderr (diagnostics). */
void gwt_fd_dump(pid_t pid);
/* VmRSS of pid in KiB, -errno. */
long gwt_rss_kb(pid_t pid);
/* Number of processes whose parent is pid. */
int gwt_child_count(pid_t pid);

/* Monotonic clock in milliseconds. */
int64_t gwt_now_ms(void);

#endif
