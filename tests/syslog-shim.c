/* LD_PRELOAD shim for the gateway's ErrorLog syslog test: openlog() and
 * syslog() append what they were given to the file named by
 * GW_SYSLOG_SHIM_FILE ("openlog IDENT FACILITY" and "syslog PRIORITY
 * MESSAGE" lines, one write each) instead of talking to syslogd, which
 * the test machine may not run. */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

void openlog(const char *ident, int option, int facility);
void syslog(int priority, const char *format, ...);
void vsyslog(int priority, const char *format, va_list ap);
void __syslog_chk(int priority, int flag, const char *format, ...);
void __vsyslog_chk(int priority, int flag, const char *format, va_list ap);

static void out(const char *line, size_t n)
{
    const char *path = getenv("GW_SYSLOG_SHIM_FILE");
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
    out(line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
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
    out(line, len);
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
