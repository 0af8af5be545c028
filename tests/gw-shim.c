/* LD_PRELOAD shim for minimal_gateway tests. It records, one line per
 * call, appended to a file an environment variable names:
 *  - openlog() and syslog() to GW_SYSLOG_SHIM_FILE ("openlog IDENT
 *    FACILITY" and "syslog PRIORITY MESSAGE"), instead of talking to
 *    syslogd, which the test machine may not run;
 *  - stat() of a path that starts with GW_STAT_SHIM_PREFIX to
 *    GW_STAT_SHIM_FILE ("stat PATH"), before the real stat() runs. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

void openlog(const char *ident, int option, int facility);
void syslog(int priority, const char *format, ...);
void vsyslog(int priority, const char *format, va_list ap);
void __syslog_chk(int priority, int flag, const char *format, ...);
void __vsyslog_chk(int priority, int flag, const char *format, va_list ap);

static void out(const char *env, const char *line, size_t n)
{
    const char *path = getenv(env);
    int fd = path ? open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644) : -1;
    if (fd < 0)
        return;
    if (write(fd, line, n) < 0) {
        /* nothing to do: the test sees the line missing */
    }
    close(fd);
}

void openlog(const char *ident, int option, int facility)
{
    (void)option;
    char line[256];
    int n = snprintf(line, sizeof line, "openlog %s %d\n", ident ? ident : "-", facility);
    out("GW_SYSLOG_SHIM_FILE", line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

void vsyslog(int priority, const char *format, va_list ap)
{
    char line[8192];
    int n = snprintf(line, sizeof line, "syslog %d ", priority);
    int k = vsnprintf(line + n, sizeof line - (size_t)n - 1, format, ap);
    size_t len = (size_t)n + (k < 0 ? 0 : (size_t)k);
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    out("GW_SYSLOG_SHIM_FILE", line, len);
}

void syslog(int priority, const char *format, ...)
{
    va_list ap;
    va_start(ap, format);
    vsyslog(priority, format, ap);
    va_end(ap);
}

void __vsyslog_chk(int priority, int flag, const char *format, va_list ap)
{
    (void)flag;
    vsyslog(priority, format, ap);
}

void __syslog_chk(int priority, int flag, const char *format, ...)
{
    (void)flag;
    va_list ap;
    va_start(ap, format);
    vsyslog(priority, format, ap);
    va_end(ap);
}

static void note_stat(const char *path)
{
    const char *prefix = getenv("GW_STAT_SHIM_PREFIX");
    if (prefix == NULL || path == NULL || strncmp(path, prefix, strlen(prefix)) != 0)
        return;
    char line[4200];
    int n = snprintf(line, sizeof line, "stat %s\n", path);
    out("GW_STAT_SHIM_FILE", line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}

int stat(const char *restrict path, struct stat *restrict st)
{
    static int (*real)(const char *restrict, struct stat *restrict);
    if (real == NULL)
        real = (int (*)(const char *restrict, struct stat *restrict))dlsym(RTLD_NEXT, "stat");
    note_stat(path);
    return real(path, st);
}
