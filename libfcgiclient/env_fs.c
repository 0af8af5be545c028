/* The ready-made POSIX stat(2) callback for handler mappings, the `full`
 * PATH_INFO strategy and DirectoryIndex lookups. */
#include "env_int.h"

#include <sys/stat.h>

int fcgic_env_stat_posix(void *ud, const char *path, size_t len, enum fcgic_env_file_type *type)
{
    struct stat st;
    FCGIC__UNUSED(ud);
    FCGIC__UNUSED(len);
    if (type == NULL)
        return FCGIC_E_INVAL;
    *type = FCGIC_ENV_FILE_NONE;
    if (path == NULL || strlen(path) != len || stat(path, &st) != 0)
        return 0;
    if (S_ISREG(st.st_mode))
        *type = FCGIC_ENV_FILE_REGULAR;
    else if (S_ISDIR(st.st_mode))
        *type = FCGIC_ENV_FILE_DIRECTORY;
    else
        *type = FCGIC_ENV_FILE_OTHER;
    return 0;
}
