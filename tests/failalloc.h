/* Test helper: allocator hooks that count live allocations and can fail the
 * Nth allocation, to prove every allocation failure is handled without leaks. */
#ifndef FCGIC_TEST_FAILALLOC_H
#define FCGIC_TEST_FAILALLOC_H

#include <stddef.h>

#include "fcgiclient/common.h"

struct failalloc {
    struct fcgic_mem mem; /* hooks to pass to fcgic_*_new(); ud points back here */
    long fail_at;         /* 1-based index of the allocation to fail; 0 = never */
    long count;           /* allocations attempted so far (malloc and growing realloc) */
    long live;            /* blocks currently allocated */
    int failed;           /* set once an allocation was refused */
};

/* Reset counters and arm failure at allocation number fail_at (0 = never). */
void failalloc_init(struct failalloc *fa, long fail_at);

#endif
