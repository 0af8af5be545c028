#include "failalloc.h"

#include <stdlib.h>

static void *fa_malloc(size_t n, void *ud)
{
    struct failalloc *fa = ud;
    fa->count++;
    if (fa->fail_at && fa->count == fa->fail_at) {
        fa->failed = 1;
        return NULL;
    }
    void *p = malloc(n);
    if (p)
        fa->live++;
    return p;
}

static void *fa_realloc(void *p, size_t n, void *ud)
{
    struct failalloc *fa = ud;
    fa->count++;
    if (fa->fail_at && fa->count == fa->fail_at) {
        fa->failed = 1;
        return NULL;
    }
    void *q = realloc(p, n);
    if (q && p == NULL)
        fa->live++;
    return q;
}

static void fa_free(void *p, void *ud)
{
    struct failalloc *fa = ud;
    if (p) {
        fa->live--;
        free(p);
    }
}

void failalloc_init(struct failalloc *fa, long fail_at)
{
    fa->mem.malloc = fa_malloc;
    fa->mem.realloc = fa_realloc;
    fa->mem.free = fa_free;
    fa->mem.ud = fa;
    fa->fail_at = fail_at;
    fa->count = 0;
    fa->live = 0;
    fa->failed = 0;
}
