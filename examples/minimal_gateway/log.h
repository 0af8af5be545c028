/**
 * @file log.h
 * @brief ErrorLog and CustomLog of minimal_gateway (layer 7).
 *
 * One object per configuration generation, shared by its threads: every line
 * is formatted in the caller's buffer and written with one write(2) to a
 * file opened with O_APPEND, so lines of different threads never interleave.
 * gw_log_reopen() (SIGUSR1, after a log rotation) opens the files again and
 * puts them in place of the old descriptors with dup2(), which writers on
 * other threads never notice.
 */
#ifndef GW_LOG_H
#define GW_LOG_H

#include <stdint.h>

#include "config.h"
#include "http.h"

struct gw_log;

/** Open the logs of a configuration. @return 0, or -errno with err filled. */
int gw_log_open(struct gw_log **out, const struct gw_server *srv, char *err, size_t errsz);

/** Close the files and free. NULL is a no-op. */
void gw_log_close(struct gw_log *l);

/** Open every file again (after rotation). @return 0 or the first -errno. */
int gw_log_reopen(struct gw_log *l);

/**
 * An error log line, Apache's shape:
 * `[Wed Dec 02 05:53:27.123456 2026] [proxy_fcgi:error] [pid 7] [client 127.0.0.1:5555] message`.
 * @param level an enum gw_log_level; lines above LogLevel are dropped.
 * @param client NULL, or "ip:port" of the client.
 */
void gw_log_error(struct gw_log *l, int level, const char *module, const char *client, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/** What the access log says about one request. */
struct gw_access {
    const struct gw_http_request *req; /**< the request (its strings are valid during the call) */
    int status;                        /**< the status sent (0: none was sent) */
    uint64_t body_bytes;               /**< response body bytes given to the HTTP layer */
    uint64_t start_ns, end_ns;         /**< monotonic times of the request's start and end */
};

/** One line per CustomLog, in its LogFormat (the common and combined
 *  formats' directives: %h %l %u %t %r %>s %s %b %B %D %T %m %U %q %H %v
 *  %p %{Name}i %%; others are written as "-"). */
void gw_log_access(struct gw_log *l, const struct gw_access *a);

#endif /* GW_LOG_H */
