#include "util.h"

#include <stdlib.h>

#if defined(__linux__) && defined(__has_include)
#if __has_include(<sys/random.h>)
#include <sys/random.h>
#define FCGIC_HAVE_GETRANDOM 1
#endif
#endif

static void *libc_malloc(size_t n, void *ud)
{
    FCGIC__UNUSED(ud);
    return malloc(n);
}
static void *libc_realloc(void *p, size_t n, void *ud)
{
    FCGIC__UNUSED(ud);
    return realloc(p, n);
}
static void libc_free(void *p, void *ud)
{
    FCGIC__UNUSED(ud);
    free(p);
}

void fcgic__alloc_init(struct fcgic__alloc *a, const struct fcgic_mem *mem)
{
    if (mem == NULL || mem->malloc == NULL || mem->free == NULL) {
        a->m.malloc = libc_malloc;
        a->m.realloc = libc_realloc;
        a->m.free = libc_free;
        a->m.ud = NULL;
        a->has_realloc = true;
        return;
    }
    a->m = *mem;
    a->has_realloc = mem->realloc != NULL;
}

void *fcgic__object_new(const struct fcgic_mem *mem, size_t size)
{
    struct fcgic__alloc a;
    fcgic__alloc_init(&a, mem);
    struct fcgic__alloc *obj = fcgic__calloc(&a, 1, size);
    if (obj)
        *obj = a;
    return obj;
}

void *fcgic__malloc(const struct fcgic__alloc *a, size_t n)
{
    return a->m.malloc(n ? n : 1, a->m.ud);
}

void *fcgic__calloc(const struct fcgic__alloc *a, size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size)
        return NULL;
    void *p = fcgic__malloc(a, n * size);
    if (p)
        memset(p, 0, (n * size) != 0 ? n * size : 1);
    return p;
}

void *fcgic__realloc(const struct fcgic__alloc *a, void *p, size_t old_n, size_t n)
{
    if (n == 0)
        n = 1;
    if (a->has_realloc)
        return a->m.realloc(p, n, a->m.ud);
    void *q = a->m.malloc(n, a->m.ud);
    if (q == NULL)
        return NULL;
    if (p) {
        memcpy(q, p, old_n < n ? old_n : n);
        a->m.free(p, a->m.ud);
    }
    return q;
}

void fcgic__free(const struct fcgic__alloc *a, void *p)
{
    if (p)
        a->m.free(p, a->m.ud);
}

char *fcgic__memdup(const struct fcgic__alloc *a, const void *p, size_t n)
{
    size_t total;
    if (!fcgic__add_ok(n, 1, &total))
        return NULL;
    char *q = fcgic__malloc(a, total);
    if (q == NULL)
        return NULL;
    if (n)
        memcpy(q, p, n);
    q[n] = '\0';
    return q;
}

int fcgic__array_reserve(const struct fcgic__alloc *a, void *array, size_t *cap, size_t need, size_t size,
                         size_t first)
{
    if (need <= *cap)
        return 0;
    size_t nc = *cap ? *cap : (first ? first : 1);
    while (nc < need) {
        if (nc > SIZE_MAX / 2)
            return FCGIC_E_NOMEM;
        nc *= 2;
    }
    if (size != 0 && nc > SIZE_MAX / size)
        return FCGIC_E_NOMEM;
    void *old;
    memcpy(&old, array, sizeof old);
    void *n = fcgic__realloc(a, old, *cap * size, nc * size);
    if (n == NULL)
        return FCGIC_E_NOMEM;
    memcpy(array, &n, sizeof n);
    *cap = nc;
    return 0;
}

int fcgic__buf_reserve(struct fcgic__buf *b, const struct fcgic__alloc *a, size_t extra)
{
    size_t need;
    if (!fcgic__add_ok(b->len, extra, &need))
        return FCGIC_E_NOMEM;
    if (need <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) {
            cap = need;
            break;
        }
        cap *= 2;
    }
    char *d = fcgic__realloc(a, b->data, b->cap, cap);
    if (d == NULL)
        return FCGIC_E_NOMEM;
    b->data = d;
    b->cap = cap;
    return 0;
}

int fcgic__buf_append(struct fcgic__buf *b, const struct fcgic__alloc *a, const void *p, size_t n)
{
    int rc = fcgic__buf_reserve(b, a, n);
    if (rc)
        return rc;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    return 0;
}

void fcgic__buf_free(struct fcgic__buf *b, const struct fcgic__alloc *a)
{
    fcgic__free(a, b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

bool fcgic__ascii_ieq(const char *a, size_t an, const char *b, size_t bn)
{
    if (an != bn)
        return false;
    for (size_t i = 0; i < an; i++)
        if (fcgic__ascii_lower(a[i]) != fcgic__ascii_lower(b[i]))
            return false;
    return true;
}

/* splitmix64's finaliser: spreads the few bits of an address that change. */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

void fcgic__hash_key_init(struct fcgic__hash_key *key, const void *obj)
{
    uint64_t k[2] = {0, 0};
#ifdef FCGIC_HAVE_GETRANDOM
    ssize_t got = getrandom(k, sizeof k, GRND_NONBLOCK);
    FCGIC__UNUSED(got); /* early at boot or without the call: addresses only */
#endif
    key->k0 = k[0] ^ mix64((uint64_t)(uintptr_t)obj);
    key->k1 = k[1] ^ mix64((uint64_t)(uintptr_t)&k ^ 0x9e3779b97f4a7c15ull);
}

/* The 128-bit product of a and b, its halves xored (wyhash's "mum"). */
static inline uint64_t mum(uint64_t a, uint64_t b)
{
#ifdef __SIZEOF_INT128__
    __extension__ typedef unsigned __int128 u128;
    u128 r = (u128)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
#else
    uint64_t ha = a >> 32, la = (uint32_t)a, hb = b >> 32, lb = (uint32_t)b;
    uint64_t hl = ha * lb, lh = la * hb, ll = la * lb;
    uint64_t mid = (ll >> 32) + (uint32_t)hl + (uint32_t)lh;
    uint64_t lo = (mid << 32) | (uint32_t)ll;
    uint64_t hi = ha * hb + (hl >> 32) + (lh >> 32) + (mid >> 32);
    return lo ^ hi;
#endif
}

/* Eight bytes with 'A'..'Z' turned into 'a'..'z', all at once: a byte gets
 * 0x20 when its low seven bits are in 'A'..'Z' and its top bit is clear. */
static inline uint64_t fold8(uint64_t w)
{
    const uint64_t ones = 0x0101010101010101ull;
    uint64_t low = w & (0x7f * ones);
    uint64_t ge_a = low + (0x80 - 'A') * ones;
    uint64_t gt_z = low + (0x80 - 'Z' - 1) * ones;
    uint64_t upper = (ge_a ^ gt_z) & ~w & (0x80 * ones);
    return w | (upper >> 2);
}

/* Host byte order: the hash need not be the same on every machine, only
 * within a process. Fixed sizes compile to single loads. */
static inline uint64_t load8(const char *s)
{
    uint64_t w;
    memcpy(&w, s, 8);
    return w;
}

static inline uint64_t load4(const char *s)
{
    uint32_t w;
    memcpy(&w, s, 4);
    return w;
}

/* The last 1..16 bytes as two words, without byte-wise stores (those stall
 * the following load): overlapping loads, which cover every byte; the
 * length is mixed in separately. */
static inline void load_tail(const char *s, size_t r, uint64_t *a, uint64_t *b)
{
    if (r > 8) {
        *a = load8(s);
        *b = load8(s + r - 8);
    } else if (r >= 4) {
        *a = load4(s) << 32 | load4(s + r - 4);
        *b = 0;
    } else {
        *a = r ? (uint64_t)(uint8_t)s[0] << 16 | (uint64_t)(uint8_t)s[r / 2] << 8 | (uint8_t)s[r - 1] : 0;
        *b = 0;
    }
}

uint64_t fcgic__hash_ci(const struct fcgic__hash_key *key, const char *s, size_t n)
{
    const uint64_t p0 = 0xa0761d6478bd642full, p1 = 0xe7037ed1a0b428dbull, p2 = 0x8ebc6af09c88c6e3ull;
    uint64_t h = key->k0 ^ p0, a, b;
    size_t i = 0;
    for (; n - i > 16; i += 16)
        h = mum(fold8(load8(s + i)) ^ key->k1 ^ p1, fold8(load8(s + i + 8)) ^ h);
    load_tail(s + i, n - i, &a, &b);
    h = mum(fold8(a) ^ key->k1 ^ p1, fold8(b) ^ h ^ p2);
    return mum(h ^ p0, (uint64_t)n ^ key->k0 ^ p2);
}
