#include "util.h"

#include <stdlib.h>

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
