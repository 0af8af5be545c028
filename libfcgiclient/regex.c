/* Compiling and running PCRE2 patterns with JIT and bounded matches; see
 * regex_int.h. */
#include "regex_int.h"

#define JIT_STACK_START (32u * 1024u)

/* PCRE2 allocator adapters; memory_data is a struct fcgic__alloc *. */
static void *pcre_malloc(PCRE2_SIZE n, void *ud)
{
    return fcgic__malloc(ud, n);
}

static void pcre_free(void *p, void *ud)
{
    fcgic__free(ud, p);
}

void fcgic__regex_limits_default(struct fcgic__regex_limits *lim)
{
    lim->match_limit = FCGIC__REGEX_MATCH_LIMIT;
    lim->depth_limit = FCGIC__REGEX_DEPTH_LIMIT;
    lim->heap_limit_kib = FCGIC__REGEX_HEAP_LIMIT_KIB;
    lim->no_jit = false;
}

static pcre2_general_context *general_context(const struct fcgic__alloc *a)
{
    /* PCRE2 keeps the pointer, never writes through it */
    return pcre2_general_context_create(pcre_malloc, pcre_free, (void *)(uintptr_t)a);
}

int fcgic__regex_compile(pcre2_code **out, const struct fcgic__alloc *a, const char *pat, size_t len,
                         uint32_t opts, bool no_jit, size_t *erroff)
{
    *out = NULL;
    pcre2_general_context *gc = general_context(a);
    if (gc == NULL)
        return FCGIC_E_NOMEM;
    pcre2_compile_context *cc = pcre2_compile_context_create(gc);
    if (cc == NULL) {
        pcre2_general_context_free(gc);
        return FCGIC_E_NOMEM;
    }
    int err = 0;
    PCRE2_SIZE off = 0;
    pcre2_code *code = pcre2_compile((PCRE2_SPTR)(len ? pat : ""), len, opts, &err, &off, cc);
    pcre2_compile_context_free(cc);
    pcre2_general_context_free(gc);
    if (code == NULL) {
        if (erroff)
            *erroff = off;
        return err == PCRE2_ERROR_HEAP_FAILED || err == PCRE2_ERROR_NOMEMORY ? FCGIC_E_NOMEM
                                                                              : FCGIC_E_INVAL;
    }
    if (!no_jit)
        (void)pcre2_jit_compile(code, PCRE2_JIT_COMPLETE); /* optional speed-up */
    *out = code;
    return 0;
}

void fcgic__regex_matcher_fini(struct fcgic__regex_matcher *m)
{
    pcre2_match_data_free(m->md);
    pcre2_jit_stack_free(m->jit_stack);
    pcre2_match_context_free(m->mc);
    pcre2_general_context_free(m->gc);
    m->md = NULL;
    m->jit_stack = NULL;
    m->mc = NULL;
    m->gc = NULL;
}

/* A JIT stack as large as the interpreter's heap limit, so that JIT and
 * interpreter fail on the same patterns (PCRE2's default is 32 KiB). */
static int assign_jit_stack(struct fcgic__regex_matcher *m, const struct fcgic__regex_limits *lim)
{
    uint32_t jit = 0;
    if (lim->no_jit || pcre2_config(PCRE2_CONFIG_JIT, &jit) < 0 || !jit)
        return 0;
    size_t max = (size_t)lim->heap_limit_kib * 1024u;
    if (max < JIT_STACK_START)
        max = JIT_STACK_START;
    m->jit_stack = pcre2_jit_stack_create(JIT_STACK_START, max, m->gc);
    if (m->jit_stack == NULL)
        return FCGIC_E_NOMEM;
    pcre2_jit_stack_assign(m->mc, NULL, m->jit_stack);
    return 0;
}

int fcgic__regex_matcher_init(struct fcgic__regex_matcher *m, const struct fcgic__alloc *a,
                              const struct fcgic__regex_limits *lim, uint32_t pairs)
{
    memset(m, 0, sizeof(*m));
    m->no_jit = lim->no_jit;
    if ((m->gc = general_context(a)) == NULL || (m->mc = pcre2_match_context_create(m->gc)) == NULL)
        goto nomem;
    pcre2_set_match_limit(m->mc, lim->match_limit);
    pcre2_set_depth_limit(m->mc, lim->depth_limit);
    pcre2_set_heap_limit(m->mc, lim->heap_limit_kib);
    if (assign_jit_stack(m, lim) != 0 || (m->md = pcre2_match_data_create(pairs, m->gc)) == NULL)
        goto nomem;
    return 0;
nomem:
    fcgic__regex_matcher_fini(m);
    return FCGIC_E_NOMEM;
}

int fcgic__regex_exec(struct fcgic__regex_matcher *m, const pcre2_code *code, const char *subj,
                      size_t len)
{
    int rc = pcre2_match(code, (PCRE2_SPTR)(len ? subj : ""), len, 0, m->no_jit ? PCRE2_NO_JIT : 0,
                         m->md, m->mc);
    if (rc == 0) /* more groups than pairs: every pair was filled */
        return (int)pcre2_get_ovector_count(m->md);
    if (rc > 0)
        return rc;
    switch (rc) {
    case PCRE2_ERROR_NOMATCH:
        return 0;
    case PCRE2_ERROR_MATCHLIMIT:
    case PCRE2_ERROR_DEPTHLIMIT:
    case PCRE2_ERROR_HEAPLIMIT:
    case PCRE2_ERROR_JIT_STACKLIMIT:
        return FCGIC_E_EXPR_MATCH_LIMIT;
    case PCRE2_ERROR_NOMEMORY:
        return FCGIC_E_NOMEM;
    default:
        return FCGIC_E_INTERNAL;
    }
}
