/* A struct fcgic_transport on libuv: what a server built on libuv writes so
 * that libfcgiclient's pools and balancers run on its loop. TCP (numeric
 * addresses) and unix sockets; uv_tcp_t / uv_pipe_t streams, one uv_timer_t
 * per connection for the engine's deadline; output written straight from the
 * engine's iovecs (uv_try_write, then uv_write for the rest: the bytes stay
 * where they are until fcgic_conn_out_done()). Also linked by
 * bench/bench-embed.c. */
#ifndef EMBED_UV_TRANSPORT_H
#define EMBED_UV_TRANSPORT_H

#include <fcgiclient/fcgiclient.h>
#include <stddef.h>
#include <uv.h>

/** The transport of one loop: every connection it opens. Opaque. */
struct uvt;

/** Create a transport on loop. @return 0 or FCGIC_E_NOMEM. */
int uvt_new(struct uvt **out, uv_loop_t *loop);

/** Fill *out with the operations (its ud is t). */
void uvt_transport(struct uvt *t, struct fcgic_transport *out);

/** Connections whose sockets are not yet closed (closing ones included). */
size_t uvt_count(const struct uvt *t);

/** Close what is still open and free t once libuv has closed the handles:
 *  call after every pool using t was freed, then run the loop until it has
 *  no more work (uv_run(loop, UV_RUN_DEFAULT)). */
void uvt_free(struct uvt *t);

#endif
