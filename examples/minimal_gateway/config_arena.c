/* The tree's memory: one arena of blocks, destructors for the library
 * objects it holds, and the reference count. */
#include <stdlib.h>
#include <string.h>

#include "config_int.h"

#define GW_BLOCK_MIN 16384u

struct gw_arena_block {
    struct gw_arena_block *next;
    size_t used, size;
    max_align_t data[];
};

struct gw_cleanup {
    struct gw_cleanup *next;
    void (*fn)(void *);
    void *obj;
};

bool gw_streq_ci(const char *a, const char *b)
{
    for (; *a && gw_tolower((unsigned char)*a) == gw_tolower((unsigned char)*b); a++, b++)
        ;
    return *a == '\0' && *b == '\0';
}

bool gw_prefix_ci(const char *s, const char *prefix)
{
    for (; *prefix; s++, prefix++)
        if (gw_tolower((unsigned char)*s) != gw_tolower((unsigned char)*prefix))
            return false;
    return true;
}

static struct gw_arena_block *block_new(size_t need)
{
    size_t size = need > GW_BLOCK_MIN ? need : GW_BLOCK_MIN;
    if (size > SIZE_MAX - sizeof(struct gw_arena_block))
        return NULL;
    struct gw_arena_block *b = malloc(sizeof(*b) + size);
    if (b == NULL)
        return NULL;
    b->next = NULL;
    b->used = 0;
    b->size = size;
    return b;
}

void *gw_alloc(struct gw_config *c, size_t n)
{
    const size_t align = sizeof(max_align_t);
    if (n > SIZE_MAX - align)
        return NULL;
    n = (n + align - 1) / align * align;
    if (n == 0)
        n = align;
    struct gw_arena_block *b = c->blocks;
    if (b == NULL || b->size - b->used < n) {
        b = block_new(n);
        if (b == NULL)
            return NULL;
        b->next = c->blocks;
        c->blocks = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += n;
    memset(p, 0, n);
    return p;
}

char *gw_strndup(struct gw_config *c, const char *s, size_t n)
{
    char *d = gw_alloc(c, n + 1);
    if (d != NULL && n > 0)
        memcpy(d, s, n);
    return d;
}

char *gw_strdup(struct gw_config *c, const char *s)
{
    return gw_strndup(c, s, strlen(s));
}

int gw_on_free(struct gw_config *c, void (*fn)(void *), void *obj)
{
    struct gw_cleanup *k = gw_alloc(c, sizeof(*k));
    if (k == NULL) {
        fn(obj);
        return FCGIC_E_NOMEM;
    }
    k->fn = fn;
    k->obj = obj;
    k->next = c->cleanups;
    c->cleanups = k;
    return 0;
}

void *gw_vec_push(struct gw_config *c, struct gw_vec *v, size_t size)
{
    if (v->n == v->cap) {
        size_t cap = v->cap ? v->cap * 2 : 8;
        if (cap > SIZE_MAX / size)
            return NULL;
        void *items = gw_alloc(c, cap * size);
        if (items == NULL)
            return NULL;
        if (v->n > 0)
            memcpy(items, v->items, v->n * size);
        v->items = items;
        v->cap = cap;
    }
    void *slot = (char *)v->items + v->n * size;
    v->n++;
    memset(slot, 0, size);
    return slot;
}

int gw_vec_push_ptr(struct gw_config *c, struct gw_vec *v, const void *ptr)
{
    const void **slot = gw_vec_push(c, v, sizeof(void *));
    if (slot == NULL)
        return FCGIC_E_NOMEM;
    *slot = ptr;
    return 0;
}

struct gw_config *gw_config_new_empty(void)
{
    struct gw_config *c = calloc(1, sizeof(*c));
    if (c != NULL)
        atomic_init(&c->refs, 1);
    return c;
}

void gw_config_destroy(struct gw_config *c)
{
    if (c == NULL)
        return;
    /* Library objects first: their memory is theirs, not the arena's. */
    for (struct gw_cleanup *k = c->cleanups; k != NULL; k = k->next)
        k->fn(k->obj);
    struct gw_arena_block *b = c->blocks;
    while (b != NULL) {
        struct gw_arena_block *next = b->next;
        free(b);
        b = next;
    }
    free(c);
}

struct gw_config *gw_config_ref(struct gw_config *cfg)
{
    if (cfg != NULL)
        atomic_fetch_add_explicit(&cfg->refs, 1, memory_order_relaxed);
    return cfg;
}

void gw_config_unref(struct gw_config *cfg)
{
    if (cfg == NULL)
        return;
    if (atomic_fetch_sub_explicit(&cfg->refs, 1, memory_order_acq_rel) == 1)
        gw_config_destroy(cfg);
}

const struct gw_server *gw_config_server(const struct gw_config *cfg)
{
    return cfg != NULL ? &cfg->server : NULL;
}
