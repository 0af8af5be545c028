/* Helpers for tests that run minimal_gateway as a process (gwtest.h). */
#include "gwtest.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "app-common.h"

bool gwt_under_valgrind(void)
{
    const char *v = getenv("FCGIC_UNDER_VALGRIND");
    return v != NULL && v[0] != '\0' && strcmp(v, "0") != 0;
}

int64_t gwt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int gwt_free_port(void)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t l = sizeof a;
    int rc = bind(s, (struct sockaddr *)&a, sizeof a) == 0 && getsockname(s, (struct sockaddr *)&a, &l) == 0
                 ? ntohs(a.sin_port)
                 : -errno;
    close(s);
    return rc;
}

int gwt_connect(int port, int timeout_s, int rcvbuf)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    if (rcvbuf > 0)
        setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    struct timeval tv = {timeout_s, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
        int err = errno;
        close(s);
        return -err;
    }
    return s;
}

int gwt_send(int fd, const void *p, size_t n)
{
    const char *b = p;
    while (n > 0) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? -errno : -EIO;
        b += w;
        n -= (size_t)w;
    }
    return 0;
}

int gwt_sends(int fd, const char *s)
{
    return gwt_send(fd, s, strlen(s));
}

/* ---- the gateway process ---- */

bool gwt_have_gateway(void)
{
    if (getenv(GWT_EXE_ENV) != NULL)
        return true;
    fprintf(stderr, "%s is not set\n", GWT_EXE_ENV);
    return false;
}

static int exit_status(int st)
{
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int write_conf(const char *path, int port, const char *conf)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -errno;
    fprintf(f, "Listen 127.0.0.1:%d\n%s", port, conf);
    return fclose(f) == 0 ? 0 : -EIO;
}

int gwt_gateway_write_conf(const struct gwt_gateway *g, const char *conf)
{
    char tmp[160];
    snprintf(tmp, sizeof tmp, "%s.new", g->conf_path);
    int rc = write_conf(tmp, g->port, conf);
    if (rc == 0 && rename(tmp, g->conf_path) != 0) /* a reload never reads half a file */
        rc = -errno;
    return rc;
}

/* The gateway's stderr, as g asks (gwtest.h). */
static void redirect_stderr(const struct gwt_gateway *g)
{
    char path[128];
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC;
    if (g->stderr_path) {
        snprintf(path, sizeof path, "%s", g->stderr_path);
        flags |= O_TRUNC;
    } else if (getenv("GW_TEST_VERBOSE")) {
        return;
    } else if (g->dir[0]) {
        snprintf(path, sizeof path, "%s/stderr.log", g->dir);
        flags |= O_APPEND;
    } else {
        snprintf(path, sizeof path, "/dev/null");
    }
    int fd = open(path, flags, 0644);
    if (fd >= 0)
        dup2(fd, 2);
}

static void exec_gateway(const struct gwt_gateway *g)
{
    redirect_stderr(g);
    if (g->dir[0] && chdir(g->dir) != 0)
        _exit(127);
    prctl(PR_SET_PDEATHSIG, SIGTERM); /* gone with the test, whatever happens to it */
    if (g->preload) {
        setenv("LD_PRELOAD", g->preload, 1);
        setenv("ASAN_OPTIONS", "verify_asan_link_order=0", 1);
    }
    const char *exe = getenv(GWT_EXE_ENV);
    if (!g->native && gwt_under_valgrind()) {
        setenv("GW_NO_JIT", "1", 1);
        execlp("valgrind", "valgrind", "--error-exitcode=99", "--leak-check=full",
               "--errors-for-leak-kinds=definite,indirect", "--quiet", exe, "-f", g->conf_path, (char *)NULL);
    }
    execl(exe, exe, "-f", g->conf_path, (char *)NULL);
    _exit(127);
}

int gwt_gateway_init(struct gwt_gateway *g)
{
    memset(g, 0, sizeof *g);
    g->pid = -1;
    if (getenv(GWT_EXE_ENV) == NULL)
        return -ENOENT;
    snprintf(g->dir, sizeof g->dir, "/tmp/gwt-XXXXXX");
    if (mkdtemp(g->dir) == NULL) {
        g->dir[0] = '\0';
        return -errno;
    }
    snprintf(g->conf_path, sizeof g->conf_path, "%s/gw.conf", g->dir);
    g->port = gwt_free_port();
    return g->port < 0 ? g->port : 0;
}

int gwt_gateway_run(struct gwt_gateway *g)
{
    if (getenv(GWT_EXE_ENV) == NULL)
        return -ENOENT;
    g->pid = fork();
    if (g->pid < 0)
        return -errno;
    if (g->pid == 0)
        exec_gateway(g);
    int64_t deadline = gwt_now_ms() + (!g->native && gwt_under_valgrind() ? 120000 : 20000);
    while (gwt_now_ms() < deadline) {
        int s = gwt_connect(g->port, 5, 0);
        if (s >= 0) {
            close(s);
            return 0;
        }
        if (waitpid(g->pid, NULL, WNOHANG) == g->pid) {
            g->pid = -1;
            return -ECHILD;
        }
        sleep_ms(20);
    }
    return -ETIMEDOUT;
}

int gwt_gateway_start(struct gwt_gateway *g, const char *conf)
{
    int rc = gwt_gateway_init(g);
    if (rc == 0)
        rc = write_conf(g->conf_path, g->port, conf);
    return rc != 0 ? rc : gwt_gateway_run(g);
}

int gwt_gateway_stop(struct gwt_gateway *g)
{
    int rc = 0;
    if (g->pid > 0) {
        kill(g->pid, SIGTERM);
        int st;
        if (waitpid(g->pid, &st, 0) != g->pid)
            rc = -errno;
        else
            rc = exit_status(st);
        g->pid = -1;
    }
    if (g->dir[0] && !getenv("GW_TEST_KEEP")) {
        char cmd[128];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", g->dir);
        if (system(cmd) != 0 && rc == 0)
            rc = -EIO;
        g->dir[0] = '\0';
    }
    return rc;
}

int gwt_gateway_cmd(const char *const *args, char **out)
{
    *out = NULL;
    const char *exe = getenv(GWT_EXE_ENV);
    if (exe == NULL)
        return -ENOENT;
    size_t n = 0;
    while (args[n])
        n++;
    const char **argv = calloc(n + 2, sizeof *argv);
    if (argv == NULL)
        return -ENOMEM;
    int p[2];
    if (pipe2(p, O_CLOEXEC) != 0) {
        int err = errno;
        free(argv);
        return -err;
    }
    argv[0] = exe;
    memcpy(argv + 1, args, n * sizeof *argv);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(p[1], 1);
        dup2(p[1], 2);
        close(p[0]);
        execv(exe, (char *const *)argv);
        _exit(127);
    }
    int err = pid < 0 ? errno : 0;
    free(argv);
    close(p[1]);
    *out = pid < 0 ? NULL : gwt_read_all(p[0], NULL);
    close(p[0]);
    if (pid < 0)
        return -err;
    int st;
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR)
            return -errno;
    }
    return exit_status(st);
}

int gwt_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -errno;
    int rc = fwrite(data, 1, len, f) == len ? 0 : -EIO;
    if (fclose(f) != 0 && rc == 0)
        rc = -EIO;
    return rc;
}

char *gwt_slurp(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return NULL;
    char *b = gwt_read_all(fd, len);
    close(fd);
    return b;
}

/* ---- responses ---- */

void gwt_conn_init(struct gwt_conn *c, int fd)
{
    memset(c, 0, sizeof *c);
    c->fd = fd;
}

void gwt_conn_close(struct gwt_conn *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    free(c->buf);
    c->buf = NULL;
    c->len = c->off = c->cap = 0;
}

/* More bytes into the buffer: 1, 0 at EOF, -1 on error. */
static int fill(struct gwt_conn *c)
{
    if (c->off > 0 && c->off == c->len)
        c->off = c->len = 0;
    if (c->len == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 65536;
        char *b = realloc(c->buf, cap);
        if (b == NULL)
            return -1;
        c->buf = b;
        c->cap = cap;
    }
    ssize_t n;
    do {
        n = recv(c->fd, c->buf + c->len, c->cap - c->len, 0);
    } while (n < 0 && errno == EINTR);
    if (n > 0)
        c->len += (size_t)n;
    return n > 0 ? 1 : n == 0 ? 0 : -1;
}

/* The next line (up to and including "\n") into line; 0, or a GWT_ value. */
static int next_line(struct gwt_conn *c, char *line, size_t cap, struct gwt_resp *r)
{
    for (;;) {
        char *nl = c->buf ? memchr(c->buf + c->off, '\n', c->len - c->off) : NULL;
        if (nl) {
            size_t n = (size_t)(nl - (c->buf + c->off)) + 1;
            if (n >= cap)
                return GWT_MALFORMED;
            memcpy(line, c->buf + c->off, n);
            line[n] = '\0';
            c->off += n;
            r->bytes_seen += n;
            return 0;
        }
        if (c->len - c->off >= cap)
            return GWT_MALFORMED;
        if (c->off > 0) {
            memmove(c->buf, c->buf + c->off, c->len - c->off);
            c->len -= c->off;
            c->off = 0;
        }
        int f = fill(c);
        if (f <= 0)
            return r->bytes_seen == 0 && c->len == c->off ? GWT_EOF : GWT_BROKEN;
    }
}

static int append_body(struct gwt_resp *r, const char *p, size_t n)
{
    if (r->body_len + n + 1 > r->body_cap) { /* geometric: no quadratic copying */
        size_t cap = r->body_cap ? r->body_cap : 4096;
        while (cap < r->body_len + n + 1)
            cap *= 2;
        char *b = realloc(r->body, cap);
        if (b == NULL)
            return GWT_BROKEN;
        r->body = b;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, p, n);
    r->body_len += n;
    r->body[r->body_len] = '\0';
    r->bytes_seen += n;
    return 0;
}

/* n body bytes, or all until EOF when n is SIZE_MAX. */
static int read_body(struct gwt_conn *c, struct gwt_resp *r, size_t n)
{
    while (n > 0) {
        if (c->len == c->off) {
            int f = fill(c);
            if (f <= 0)
                return n == SIZE_MAX && f == 0 ? 0 : GWT_BROKEN;
        }
        size_t take = c->len - c->off < n ? c->len - c->off : n;
        if (append_body(r, c->buf + c->off, take) != 0)
            return GWT_BROKEN;
        c->off += take;
        if (n != SIZE_MAX)
            n -= take;
    }
    return 0;
}

static int read_chunked(struct gwt_conn *c, struct gwt_resp *r)
{
    char line[256];
    for (;;) {
        int rc = next_line(c, line, sizeof line, r);
        if (rc != 0)
            return rc == GWT_EOF ? GWT_BROKEN : rc;
        char *end;
        unsigned long long sz = strtoull(line, &end, 16);
        if (end == line || (*end != '\r' && *end != ';'))
            return GWT_MALFORMED;
        if (sz == 0)
            break;
        if ((rc = read_body(c, r, (size_t)sz)) != 0)
            return rc;
        if ((rc = next_line(c, line, sizeof line, r)) != 0)
            return rc == GWT_EOF ? GWT_BROKEN : rc;
        if (strcmp(line, "\r\n") != 0)
            return GWT_MALFORMED;
    }
    for (;;) { /* trailers */
        int rc = next_line(c, line, sizeof line, r);
        if (rc != 0)
            return rc == GWT_EOF ? GWT_BROKEN : rc;
        if (strcmp(line, "\r\n") == 0)
            return 0;
    }
}

int gwt_read_response(struct gwt_conn *c, struct gwt_resp *r, bool head_req)
{
    memset(r, 0, sizeof *r);
    r->body = calloc(1, 1);
    r->body_cap = 1;
    size_t hn = 0;
    char line[8192];
    for (;;) {
        int rc = next_line(c, line, sizeof line, r);
        if (rc != 0)
            return rc;
        size_t l = strlen(line);
        if (hn + l >= sizeof r->head)
            return GWT_MALFORMED;
        memcpy(r->head + hn, line, l + 1);
        hn += l;
        if (strcmp(line, "\r\n") == 0)
            break;
    }
    if (sscanf(r->head, "HTTP/1.1 %3d ", &r->status) != 1)
        return GWT_MALFORMED;
    if (head_req || r->status / 100 == 1 || r->status == 204 || r->status == 304)
        return 0;
    char v[64];
    if (gwt_header(r, "Content-Length", v, sizeof v)[0])
        return read_body(c, r, (size_t)strtoull(v, NULL, 10));
    if (strcasecmp(gwt_header(r, "Transfer-Encoding", v, sizeof v), "chunked") == 0)
        return read_chunked(c, r);
    return read_body(c, r, SIZE_MAX);
}

void gwt_resp_free(struct gwt_resp *r)
{
    free(r->body);
    r->body = NULL;
}

const char *gwt_header(const struct gwt_resp *r, const char *name, char *out, size_t cap)
{
    char key[96];
    snprintf(key, sizeof key, "\r\n%s:", name);
    const char *p = strcasestr(r->head, key);
    out[0] = '\0';
    if (p) {
        p += strlen(key);
        p += strspn(p, " \t");
        size_t n = strcspn(p, "\r");
        snprintf(out, cap, "%.*s", (int)(n < cap ? n : cap - 1), p);
    }
    return out;
}

char *gwt_read_all(int fd, size_t *len)
{
    size_t cap = 65536, n = 0;
    char *buf = malloc(cap + 1);
    for (;;) {
        if (n == cap)
            buf = realloc(buf, (cap *= 2) + 1);
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

/* Undo the chunked framing of r->body in place. 0, or GWT_MALFORMED when
 * it is cut short. */
static int dechunk(struct gwt_resp *r)
{
    char *out = malloc(r->body_len + 1);
    size_t o = 0, i = 0;
    int rc = 0;
    if (out == NULL)
        return -ENOMEM;
    while (i < r->body_len) {
        size_t n = strtoul(r->body + i, NULL, 16);
        const char *eol = strstr(r->body + i, "\r\n");
        if (eol == NULL) {
            rc = GWT_MALFORMED;
            break;
        }
        i = (size_t)(eol - r->body) + 2;
        if (n == 0)
            break;
        if (i + n + 2 > r->body_len) {
            rc = GWT_MALFORMED;
            break;
        }
        memcpy(out + o, r->body + i, n);
        o += n;
        i += n + 2;
    }
    if (rc != 0) {
        free(out);
        return rc;
    }
    out[o] = '\0';
    free(r->body);
    r->body = out;
    r->body_len = o;
    r->body_cap = o + 1;
    return 0;
}

/* Split buf (n bytes, NUL-terminated) into r's head and body; takes buf. */
static int split_response(char *buf, size_t n, struct gwt_resp *r)
{
    r->bytes_seen = n;
    char *end = strstr(buf, "\r\n\r\n");
    size_t hl = end ? (size_t)(end - buf) : 0;
    if (end == NULL || hl >= sizeof r->head) {
        r->body = buf; /* for the caller's message */
        r->body_len = n;
        r->body_cap = n + 1;
        return GWT_MALFORMED;
    }
    memcpy(r->head, buf, hl);
    r->status = hl >= 9 ? atoi(buf + 9) : 0;
    r->body_len = n - hl - 4;
    memmove(buf, end + 4, r->body_len + 1);
    r->body = buf;
    r->body_cap = n + 1;
    return 0;
}

int gwt_exchange(int port, const char *req, size_t len, bool dechunk_it, struct gwt_resp *r)
{
    memset(r, 0, sizeof *r);
    r->body = calloc(1, 1);
    int s = gwt_connect(port, 20, 0);
    int rc = s < 0 ? s : gwt_send(s, req, len);
    if (rc != 0) {
        if (s >= 0)
            close(s);
        return rc;
    }
    size_t n;
    char *buf = gwt_read_all(s, &n);
    close(s);
    free(r->body);
    rc = split_response(buf, n, r);
    if (rc == 0 && dechunk_it && strstr(r->head, "\r\nTransfer-Encoding: chunked"))
        rc = dechunk(r);
    return rc;
}

int gwt_get(int port, const char *target, const char *headers, bool dechunk_it, struct gwt_resp *r)
{
    static const char fmt[] = "GET %s HTTP/1.1\r\nHost: localhost\r\n%sConnection: close\r\n\r\n";
    size_t cap = sizeof fmt + strlen(target) + strlen(headers);
    char *req = malloc(cap);
    if (req == NULL) {
        memset(r, 0, sizeof *r);
        r->body = calloc(1, 1);
        return -ENOMEM;
    }
    int n = snprintf(req, cap, fmt, target, headers);
    int rc = gwt_exchange(port, req, (size_t)n, dechunk_it, r);
    free(req);
    return rc;
}

bool gwt_pattern_ok(const char *body, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)body[i] != app_pattern_byte(i))
            return false;
    }
    return true;
}

/* ---- /proc ---- */

int gwt_fd_count(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/fd", (long)pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return -errno;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.')
            n++;
    }
    closedir(d);
    return n;
}

int gwt_wait_fds(pid_t pid, int want, int ms)
{
    int64_t deadline = gwt_now_ms() + ms;
    int n;
    while ((n = gwt_fd_count(pid)) > want && gwt_now_ms() < deadline)
        sleep_ms(20);
    return n;
}

long gwt_rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -errno;
    long kb = -ENOENT;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "VmRSS:", 6) == 0) {
            kb = strtol(line + 6, NULL, 10);
            break;
        }
    }
    fclose(f);
    return kb;
}

int gwt_child_count(pid_t pid)
{
    DIR *d = opendir("/proc");
    if (d == NULL)
        return -errno;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (f == NULL)
            continue;
        size_t k = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[k] = '\0';
        const char *rp = strrchr(buf, ')'); /* "pid (comm) state ppid ..." */
        char state;
        long ppid;
        if (rp && sscanf(rp + 1, " %c %ld", &state, &ppid) == 2 && ppid == (long)pid && state != 'Z')
            n++;
    }
    closedir(d);
    return n;
}

void gwt_fd_dump(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%ld/fd", (long)pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return;
    struct dirent *e;
    char inodes[256][24];
    int ni = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char p[320], target[256];
        snprintf(p, sizeof p, "%s/%s", path, e->d_name);
        ssize_t n = readlink(p, target, sizeof target - 1);
        target[n > 0 ? n : 0] = '\0';
        fprintf(stderr, "  fd %s -> %s\n", e->d_name, target);
        if (strncmp(target, "socket:[", 8) == 0 && ni < 256)
            snprintf(inodes[ni++], sizeof inodes[0], "%.*s", (int)strcspn(target + 8, "]"), target + 8);
    }
    closedir(d);
    static const char *const tables[] = {"/proc/net/tcp", "/proc/net/unix"};
    for (int t = 0; t < 2; t++) {
        FILE *f = fopen(tables[t], "r");
        char line[512];
        while (f && fgets(line, sizeof line, f)) {
            for (int i = 0; i < ni; i++) {
                char key[40];
                snprintf(key, sizeof key, " %.24s ", inodes[i]);
                if (strstr(line, key) || (t == 1 && strstr(line, key + 1)))
                    fprintf(stderr, "  %s", line);
            }
        }
        if (f)
            fclose(f);
    }
}
