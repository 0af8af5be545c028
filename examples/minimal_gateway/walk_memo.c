/* The stat(2) results of a request's directory walk, kept for the
 * environment builder's walk of the same file (access.h). In the
 * configuration library because the compiled environment maps name
 * gw_storage_stat() as their stat callback. */
#include <string.h>

#include "access.h"

static __thread const struct gw_storage *memo;

void gw_storage_in_use(const struct gw_storage *s)
{
    memo = s;
}

/* The type the walk found for filename[0..len), or -1 when it did not stat
 * that path: a component boundary past the root and no further than where
 * the walk stopped, or the DirectoryIndex file it found. */
static int memo_type(const struct gw_storage *s, const char *path, size_t len)
{
    if (s == NULL || len <= s->root || memcmp(path, s->filename, len < s->len ? len : s->len) != 0)
        return -1;
    if (len > s->walked)
        return len == s->len && s->type == FCGIC_ENV_FILE_REGULAR ? FCGIC_ENV_FILE_REGULAR : -1;
    if (len == s->walked) /* a directory when an index file was found in it */
        return s->len > s->walked ? FCGIC_ENV_FILE_DIRECTORY : (int)s->type;
    return s->filename[len] == '/' ? FCGIC_ENV_FILE_DIRECTORY : -1;
}

int gw_storage_stat(void *ud, const char *path, size_t len, enum fcgic_env_file_type *type)
{
    int t = memo_type(memo, path, len);
    if (t < 0)
        return fcgic_env_stat_posix(ud, path, len, type);
    *type = (enum fcgic_env_file_type)t;
    return 0;
}
