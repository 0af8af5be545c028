/* The ready-made POSIX file-test callback for the expression engine's
 * -d -e -f -s -L -h -x -F operators (struct fcgic_expr_vars.file_test).
 * Needs no PCRE2: built with or without the engine. */
#include "fcgiclient/expr.h"
#include "util.h"

#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int fcgic_expr_file_test_posix(void *ud, char op, const char *path, size_t path_len)
{
    char buf[PATH_MAX];
    struct stat st;
    FCGIC__UNUSED(ud);
    if (op == 'U' || op == 'A')
        return FCGIC_E_NOTSUP;
    if (path == NULL || path_len == 0 || path_len >= sizeof(buf) || memchr(path, '\0', path_len) != NULL)
        return 0;
    memcpy(buf, path, path_len);
    buf[path_len] = '\0';
    if (op == 'L' || op == 'h')
        return lstat(buf, &st) == 0 && S_ISLNK(st.st_mode);
    if (stat(buf, &st) != 0)
        return 0;
    switch (op) {
    case 'd':
        return S_ISDIR(st.st_mode);
    case 'e':
        return 1;
    case 'f':
    case 'F':
        return S_ISREG(st.st_mode);
    case 's':
        return S_ISREG(st.st_mode) && st.st_size > 0;
    case 'x':
        return (st.st_mode & S_IXUSR) != 0;
    default:
        return FCGIC_E_NOTSUP;
    }
}
