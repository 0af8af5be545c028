/* Request outcomes and latency buckets (stats.h, stats_int.h). */
#include "fcgiclient/stats.h"

#include "fcgiclient/error.h"
#include "stats_int.h"

/* 1, 2.5, 5 per decade from 100 us, in nanoseconds. */
static const uint64_t bounds[FCGIC_LATENCY_BUCKETS] = {
    100000ull,     250000ull,     500000ull,     1000000ull,     2500000ull,     5000000ull,
    10000000ull,   25000000ull,   50000000ull,   100000000ull,   250000000ull,   500000000ull,
    1000000000ull, 2500000000ull, 5000000000ull, 10000000000ull, 25000000000ull, 50000000000ull,
};

uint64_t fcgic_latency_bucket_le(unsigned i)
{
    return i < FCGIC_LATENCY_BUCKETS ? bounds[i] : FCGIC_NO_DEADLINE;
}

static enum fcgic_end_kind kind_of_error(int err)
{
    switch (err) {
    case FCGIC_E_CONNECT:
    case FCGIC_E_TIMEOUT_CONNECT:
    case FCGIC_E_RESOLVE:
    case FCGIC_E_BAD_ADDRESS:
    case FCGIC_E_SOCKET:
    case FCGIC_E_BAL_ALL_DOWN: return FCGIC_END_CONNECT;
    case FCGIC_E_TIMEOUT_FIRST_BYTE:
    case FCGIC_E_TIMEOUT_IDLE:
    case FCGIC_E_TIMEOUT_TOTAL:
    case FCGIC_E_TIMEOUT:
    case FCGIC_E_POOL_TIMEOUT: return FCGIC_END_TIMEOUT;
    case FCGIC_E_ABORTED: return FCGIC_END_CANCEL;
    case FCGIC_E_PARAMS_TOO_BIG:
    case FCGIC_E_NV_TOO_LONG:
    case FCGIC_E_BAD_ROLE: return FCGIC_END_OTHER; /* our side's caps and requests */
    case FCGIC_E_PEER_CLOSED:
    case FCGIC_E_CONN_FAILED:
    case FCGIC_E_CLOSED:
    case FCGIC_E_IO: return FCGIC_END_PROTOCOL;
    default: break;
    }
    /* the record layer (-20 .. -49) and CGI responses (-50 .. -69) */
    return err <= -20 && err > -70 ? FCGIC_END_PROTOCOL : FCGIC_END_OTHER;
}

enum fcgic_end_kind fcgic_end_kind(const struct fcgic_result *res)
{
    if (!res)
        return FCGIC_END_OTHER;
    if (res->aborted)
        return FCGIC_END_CANCEL;
    if (res->error)
        return kind_of_error(res->error);
    return res->protocol_status == FCGIC_REQUEST_COMPLETE ? FCGIC_END_OK : FCGIC_END_REFUSED;
}

const char *fcgic_end_kind_name(enum fcgic_end_kind kind)
{
    static const char *const names[FCGIC_END_KINDS] = {"ok",      "connect", "timeout", "protocol",
                                                        "refused", "cancel",  "other"};
    return (unsigned)kind < FCGIC_END_KINDS ? names[kind] : "other";
}

void fcgic__ends_add(struct fcgic__ends *e, const struct fcgic_result *res, uint64_t latency_ns)
{
    e->kind[fcgic_end_kind(res)]++;
    e->sum_ns += latency_ns;
    for (unsigned i = 0; i < FCGIC_LATENCY_BUCKETS; i++)
        if (latency_ns <= bounds[i]) {
            e->bucket[i]++;
            return;
        }
}

uint64_t fcgic__ends_total(const struct fcgic__ends *e)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < FCGIC_END_KINDS; i++)
        n += e->kind[i];
    return n;
}

void fcgic__ends_cumulative(const struct fcgic__ends *e, uint64_t *le)
{
    uint64_t n = 0;
    for (unsigned i = 0; i < FCGIC_LATENCY_BUCKETS; i++) {
        n += e->bucket[i];
        le[i] = n;
    }
}
