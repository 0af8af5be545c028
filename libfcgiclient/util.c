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

static inline uint64_t rotl64(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

struct sip {
    uint64_t v0, v1, v2, v3;
};

static inline void sipround(struct sip *s)
{
    s->v0 += s->v1;
    s->v1 = rotl64(s->v1, 13);
    s->v1 ^= s->v0;
    s->v0 = rotl64(s->v0, 32);
    s->v2 += s->v3;
    s->v3 = rotl64(s->v3, 16);
    s->v3 ^= s->v2;
    s->v0 += s->v3;
    s->v3 = rotl64(s->v3, 21);
    s->v3 ^= s->v0;
    s->v2 += s->v1;
    s->v1 = rotl64(s->v1, 17);
    s->v1 ^= s->v2;
    s->v2 = rotl64(s->v2, 32);
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

static inline uint64_t load8(const char *s, size_t n)
{
    uint64_t w = 0;
    for (size_t i = 0; i < n; i++)
        w |= (uint64_t)(uint8_t)s[i] << (8 * i);
    return w;
}

uint64_t fcgic__hash_ci(const struct fcgic__hash_key *key, const char *s, size_t n)
{
    struct sip v = {key->k0 ^ 0x736f6d6570736575ull, key->k1 ^ 0x646f72616e646f6dull,
                    key->k0 ^ 0x6c7967656e657261ull, key->k1 ^ 0x7465646279746573ull};
    size_t i = 0;
    for (; n - i >= 8; i += 8) {
        uint64_t m = fold8(load8(s + i, 8));
        v.v3 ^= m;
        sipround(&v);
        v.v0 ^= m;
    }
    uint64_t b = ((uint64_t)n << 56) | fold8(load8(s + i, n - i));
    v.v3 ^= b;
    sipround(&v);
    v.v0 ^= b;
    v.v2 ^= 0xff;
    sipround(&v);
    sipround(&v);
    sipround(&v);
    return v.v0 ^ v.v1 ^ v.v2 ^ v.v3;
}
