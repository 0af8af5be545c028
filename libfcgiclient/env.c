/* The ordered param list: an array of pairs in send order, a side array of
 * (origin, rule, hash), an open-addressing index on a keyed hash of the
 * case-folded name and an arena of blocks that is kept across
 * fcgic_env_clear() so that a list reused for request after request stops
 * allocating. */
#include "env_int.h"

struct fcgic__env_blk {
    struct fcgic__env_blk *next;
    size_t cap, used;
    char data[];
};

#define BLK_MIN 4096u
#define MAX_CAP 0x7fffffffu

static const char *const origin_names[] = {
    "raw", "setenv", "header", "request", "server", "mapping", "pathinfo", "profile", "override",
};

const char *fcgic_env_origin_name(enum fcgic_env_origin origin)
{
    size_t i = (size_t)origin;
    if (i >= sizeof(origin_names) / sizeof(origin_names[0]))
        return "unknown";
    return origin_names[i];
}

/* Case-insensitive hash of the whole name, keyed per list: header names
 * come from the client, who must not be able to make them collide (that
 * turns every insertion into a walk of one long probe chain). */
static uint32_t name_hash(const struct fcgic_env *env, const char *s, size_t n)
{
    uint64_t h = fcgic__hash_ci(&env->hash_key, s, n);
    return (uint32_t)(h >> 32) ^ (uint32_t)h;
}

int fcgic_env_new(struct fcgic_env **out, const struct fcgic_mem *mem)
{
    if (out == NULL)
        return FCGIC_E_INVAL;
    struct fcgic__alloc a;
    fcgic__alloc_init(&a, mem);
    struct fcgic_env *env = fcgic__calloc(&a, 1, sizeof(*env));
    if (env == NULL)
        return FCGIC_E_NOMEM;
    env->alloc = a;
    env->max_total = FCGIC_ENV_DEFAULT_MAX_SIZE;
    fcgic__hash_key_init(&env->hash_key, env);
    *out = env;
    return 0;
}

void fcgic_env_free(struct fcgic_env *env)
{
    if (env == NULL)
        return;
    const struct fcgic__alloc *a = &env->alloc;
    struct fcgic__env_blk *b = env->blocks;
    while (b) {
        struct fcgic__env_blk *n = b->next;
        fcgic__free(a, b);
        b = n;
    }
    fcgic__free(a, env->params);
    fcgic__free(a, env->meta);
    fcgic__free(a, env->slots);
    for (size_t i = 0; i < sizeof(env->scratch) / sizeof(env->scratch[0]); i++)
        fcgic__buf_free(&env->scratch[i], a);
#ifdef FCGIC_HAVE_PCRE2
    fcgic__regex_matcher_fini(&env->rx);
#endif
    struct fcgic__alloc copy = *a;
    fcgic__free(&copy, env);
}

void fcgic_env_clear(struct fcgic_env *env)
{
    if (env == NULL)
        return;
    env->count = 0;
    env->total = 0;
    if (env->nslots)
        memset(env->slots, 0, env->nslots * sizeof(*env->slots));
    for (struct fcgic__env_blk *b = env->blocks; b; b = b->next)
        b->used = 0;
    env->cur = env->blocks;
}

int fcgic_env_set_max_size(struct fcgic_env *env, size_t max_size)
{
    if (env == NULL || max_size == 0)
        return FCGIC_E_INVAL;
    env->max_total = max_size > MAX_CAP ? MAX_CAP : max_size;
    return 0;
}

size_t fcgic_env_size(const struct fcgic_env *env)
{
    return env ? env->total : 0;
}

size_t fcgic_env_count(const struct fcgic_env *env)
{
    return env ? env->count : 0;
}

const struct fcgic_param *fcgic_env_params(const struct fcgic_env *env)
{
    return (env && env->count) ? env->params : NULL;
}

char *fcgic__env_alloc(struct fcgic_env *env, size_t n)
{
    struct fcgic__env_blk *b = env->cur;
    /* Try the current block, then the kept ones after it. */
    while (b) {
        if (b->cap - b->used >= n) {
            char *p = b->data + b->used;
            b->used += n;
            env->cur = b;
            return p;
        }
        if (b->next == NULL)
            break;
        b = b->next;
    }
    size_t cap = n > BLK_MIN ? n : BLK_MIN;
    size_t sz;
    if (!fcgic__add_ok(cap, sizeof(struct fcgic__env_blk), &sz))
        return NULL;
    struct fcgic__env_blk *nb = fcgic__malloc(&env->alloc, sz);
    if (nb == NULL)
        return NULL;
    nb->cap = cap;
    nb->used = n;
    nb->next = NULL;
    if (b)
        b->next = nb;
    else
        env->blocks = nb;
    env->cur = nb;
    return nb->data;
}

void fcgic__env_unalloc(struct fcgic_env *env, size_t n)
{
    if (env->cur && env->cur->used >= n)
        env->cur->used -= n;
}

static int grow_slots(struct fcgic_env *env, size_t want_count)
{
    if (want_count * 2 <= env->nslots)
        return 0;
    size_t n = env->nslots ? env->nslots : 64;
    while (n < want_count * 2)
        n *= 2;
    uint32_t *s = fcgic__calloc(&env->alloc, n, sizeof(*s));
    if (s == NULL)
        return FCGIC_E_NOMEM;
    fcgic__free(&env->alloc, env->slots);
    env->slots = s;
    env->nslots = n;
    for (size_t i = 0; i < env->count; i++) {
        size_t j = env->meta[i].hash & (n - 1);
        while (s[j])
            j = (j + 1) & (n - 1);
        s[j] = (uint32_t)(i + 1);
    }
    return 0;
}

static size_t find_h(const struct fcgic_env *env, const char *name, size_t nlen, uint32_t h)
{
    if (env->nslots == 0)
        return SIZE_MAX;
    size_t mask = env->nslots - 1;
    for (size_t j = h & mask;; j = (j + 1) & mask) {
        uint32_t v = env->slots[j];
        if (v == 0)
            return SIZE_MAX;
        size_t i = v - 1;
        if (env->meta[i].hash == h &&
            fcgic__ascii_ieq(env->params[i].name, env->params[i].name_len, name, nlen))
            return i;
    }
}

size_t fcgic__env_find(const struct fcgic_env *env, const char *name, size_t nlen)
{
    return find_h(env, name, nlen, name_hash(env, name, nlen));
}

static int reserve_entries(struct fcgic_env *env)
{
    if (env->count < env->cap)
        return 0;
    size_t ncap = env->cap ? env->cap * 2 : 48;
    if (ncap > MAX_CAP)
        return FCGIC_E_NOMEM;
    struct fcgic_param *p = fcgic__realloc(&env->alloc, env->params,
                                           env->cap * sizeof(*p), ncap * sizeof(*p));
    if (p == NULL)
        return FCGIC_E_NOMEM;
    env->params = p;
    struct fcgic__env_meta *m = fcgic__realloc(&env->alloc, env->meta,
                                               env->cap * sizeof(*m), ncap * sizeof(*m));
    if (m == NULL)
        return FCGIC_E_NOMEM; /* params grew; cap stays: harmless */
    env->meta = m;
    env->cap = ncap;
    return 0;
}

int fcgic__env_put(struct fcgic_env *env, const char *name, size_t nlen, bool name_static,
                   const char *value, size_t vlen, enum fcgic_env_origin origin,
                   const char *rule, size_t *idx, bool header_merge)
{
    if (nlen > MAX_CAP || vlen > MAX_CAP)
        return FCGIC_E_ENV_TOO_BIG;
    uint32_t h = name_hash(env, name, nlen);
    size_t i = find_h(env, name, nlen, h);
    if (i != SIZE_MAX && header_merge &&
        env->meta[i].origin == FCGIC_ENV_ORIGIN_HEADER) {
        /* the caller merges repeated headers */
        if (idx)
            *idx = i;
        return 1;
    }
    size_t old = i == SIZE_MAX ? 0 : fcgic__env_pair_size(nlen, env->params[i].value_len);
    size_t add = fcgic__env_pair_size(nlen, vlen);
    if (env->total - old > env->max_total || add > env->max_total - (env->total - old))
        return FCGIC_E_ENV_TOO_BIG;
    if (i == SIZE_MAX) {
        int rc = reserve_entries(env);
        if (rc == 0)
            rc = grow_slots(env, env->count + 1);
        if (rc)
            return rc;
    }
    char *v = fcgic__env_alloc(env, vlen);
    if (v == NULL)
        return FCGIC_E_NOMEM;
    if (vlen)
        memcpy(v, value, vlen);
    if (i == SIZE_MAX) {
        const char *nm = name;
        if (!name_static) {
            char *c = fcgic__env_alloc(env, nlen);
            if (c == NULL)
                return FCGIC_E_NOMEM; /* value bytes stay in the arena until clear */
            memcpy(c, name, nlen);
            nm = c;
        }
        i = env->count++;
        env->params[i].name = nm;
        env->params[i].name_len = nlen;
        env->meta[i].hash = h;
        size_t mask = env->nslots - 1, j = h & mask;
        while (env->slots[j])
            j = (j + 1) & mask;
        env->slots[j] = (uint32_t)(i + 1);
    }
    env->params[i].value = v;
    env->params[i].value_len = vlen;
    env->meta[i].value_cap = (uint32_t)vlen;
    env->meta[i].origin = (uint8_t)origin;
    env->meta[i].rule = rule ? rule : "";
    env->total = env->total - old + add;
    if (idx)
        *idx = i;
    return 0;
}

int fcgic__env_append(struct fcgic_env *env, size_t idx, const char *sep, size_t seplen,
                      const char *value, size_t vlen)
{
    struct fcgic_param *p = &env->params[idx];
    size_t nv;
    if (!fcgic__add_ok(p->value_len, seplen, &nv) || !fcgic__add_ok(nv, vlen, &nv) ||
        nv > MAX_CAP)
        return FCGIC_E_ENV_TOO_BIG;
    size_t old = fcgic__env_pair_size(p->name_len, p->value_len);
    size_t add = fcgic__env_pair_size(p->name_len, nv);
    if (add - old > env->max_total - env->total)
        return FCGIC_E_ENV_TOO_BIG;
    struct fcgic__env_meta *m = &env->meta[idx];
    char *v;
    if (nv <= m->value_cap) {
        v = (char *)(uintptr_t)p->value; /* our own arena slot */
    } else {
        size_t cap = nv; /* at least twice the old slot: O(log n) moves */
        if (m->value_cap <= MAX_CAP / 2 && 2 * (size_t)m->value_cap > cap)
            cap = 2 * (size_t)m->value_cap;
        if ((v = fcgic__env_alloc(env, cap)) == NULL)
            return FCGIC_E_NOMEM;
        memcpy(v, p->value, p->value_len);
        m->value_cap = (uint32_t)cap;
    }
    memcpy(v + p->value_len, sep, seplen);
    if (vlen)
        memcpy(v + p->value_len + seplen, value, vlen);
    p->value = v;
    p->value_len = nv;
    env->total += add - old;
    return 0;
}

int fcgic_env_get(const struct fcgic_env *env, const char *name, size_t name_len,
                  struct fcgic_span *value)
{
    if (env == NULL || name == NULL)
        return FCGIC_E_NOT_FOUND;
    size_t i = fcgic__env_find(env, name, name_len);
    if (i == SIZE_MAX)
        return FCGIC_E_NOT_FOUND;
    if (value) {
        value->ptr = env->params[i].value;
        value->len = env->params[i].value_len;
    }
    return 0;
}

int fcgic_env_set(struct fcgic_env *env, const char *name, size_t name_len, const char *value,
                  size_t value_len, enum fcgic_env_origin origin, const char *rule)
{
    if (env == NULL || name == NULL || name_len == 0 || (value == NULL && value_len))
        return FCGIC_E_INVAL;
    const char *r = NULL;
    if (rule && *rule) {
        size_t rl = strlen(rule);
        char *c = fcgic__env_alloc(env, rl + 1);
        if (c == NULL)
            return FCGIC_E_NOMEM;
        memcpy(c, rule, rl + 1);
        r = c;
    }
    return fcgic__env_put(env, name, name_len, false, value, value_len, origin, r, NULL,
                          false);
}

int fcgic_env_unset(struct fcgic_env *env, const char *name, size_t name_len)
{
    if (env == NULL || name == NULL)
        return FCGIC_E_INVAL;
    size_t i = fcgic__env_find(env, name, name_len);
    if (i == SIZE_MAX)
        return 0;
    env->total -= fcgic__env_pair_size(env->params[i].name_len, env->params[i].value_len);
    memmove(&env->params[i], &env->params[i + 1], (env->count - i - 1) * sizeof(*env->params));
    memmove(&env->meta[i], &env->meta[i + 1], (env->count - i - 1) * sizeof(*env->meta));
    env->count--;
    /* Rebuild the index: every later entry moved. */
    size_t mask = env->nslots - 1;
    memset(env->slots, 0, env->nslots * sizeof(*env->slots));
    for (size_t k = 0; k < env->count; k++) {
        size_t j = env->meta[k].hash & mask;
        while (env->slots[j])
            j = (j + 1) & mask;
        env->slots[j] = (uint32_t)(k + 1);
    }
    return 0;
}

int fcgic_env_explain(const struct fcgic_env *env, size_t i, enum fcgic_env_origin *origin,
                      const char **rule)
{
    if (env == NULL)
        return FCGIC_E_INVAL;
    if (i >= env->count)
        return FCGIC_E_RANGE;
    if (origin)
        *origin = (enum fcgic_env_origin)env->meta[i].origin;
    if (rule)
        *rule = env->meta[i].rule;
    return 0;
}
