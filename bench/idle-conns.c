/* Memory a gateway spends on each idle keep-alive client connection.
 *
 *   idle-conns [-n N] [-w WARM] -p PID HOST PORT [PATH]
 *
 * Opens WARM connections (default 100), each sends one request and reads its
 * answer, then measures the server's RSS and PSS (/proc/PID/status and
 * smaps_rollup); opens N more (default 10000) the same way and measures
 * again. The growth divided by N is the memory one idle connection costs
 * (the warm-up keeps pools, kept backend connections and first-touch pages
 * out of it). Raises RLIMIT_NOFILE as needed; blocking sockets, loopback. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BATCH 100

struct mem {
    long rss_kb, pss_kb;
};

static long field_kb(const char *path, const char *name)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    char line[256];
    long v = -1;
    size_t n = strlen(name);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, name, n) == 0) {
            v = strtol(line + n, NULL, 10);
            break;
        }
    fclose(f);
    return v;
}

static struct mem measure(long pid)
{
    char p1[64], p2[64];
    snprintf(p1, sizeof p1, "/proc/%ld/status", pid);
    snprintf(p2, sizeof p2, "/proc/%ld/smaps_rollup", pid);
    return (struct mem){field_kb(p1, "VmRSS:"), field_kb(p2, "Pss:")};
}

static int connect_one(const struct sockaddr_in *sa)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (connect(fd, (const struct sockaddr *)sa, sizeof *sa) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

/* Read one response with a Content-Length (the gateway's answers here). */
static int read_response(int fd)
{
    char buf[4096];
    size_t have = 0;
    for (;;) {
        ssize_t n = recv(fd, buf + have, sizeof buf - 1 - have, 0);
        if (n <= 0)
            return -1;
        have += (size_t)n;
        buf[have] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (end == NULL) {
            if (have == sizeof buf - 1)
                return -1;
            continue;
        }
        const char *cl = strcasestr(buf, "\r\nContent-Length:");
        size_t body = cl ? strtoul(cl + 17, NULL, 10) : 0;
        size_t got = have - (size_t)(end + 4 - buf);
        while (got < body) {
            n = recv(fd, buf, sizeof buf, 0);
            if (n <= 0)
                return -1;
            got += (size_t)n;
        }
        return strncmp(buf, "HTTP/1.1 200", 12) == 0 || got >= body ? 0 : -1;
    }
}

/* Open n connections, one request each, in batches; fds go to out. */
static int open_idle(const struct sockaddr_in *sa, const char *req, int *out, int n)
{
    for (int i = 0; i < n; i += BATCH) {
        int k = n - i < BATCH ? n - i : BATCH;
        for (int j = 0; j < k; j++) {
            out[i + j] = connect_one(sa);
            if (out[i + j] < 0) {
                fprintf(stderr, "connect %d: %s\n", i + j, strerror(errno));
                return -1;
            }
            if (send(out[i + j], req, strlen(req), MSG_NOSIGNAL) != (ssize_t)strlen(req)) {
                fprintf(stderr, "send %d: %s\n", i + j, strerror(errno));
                return -1;
            }
        }
        for (int j = 0; j < k; j++)
            if (read_response(out[i + j]) != 0) {
                fprintf(stderr, "response %d: none or not 200\n", i + j);
                return -1;
            }
    }
    return 0;
}

int main(int argc, char **argv)
{
    int n = 10000, warm = 100, opt;
    long pid = 0;
    while ((opt = getopt(argc, argv, "n:w:p:")) != -1) {
        if (opt == 'n')
            n = atoi(optarg);
        else if (opt == 'w')
            warm = atoi(optarg);
        else if (opt == 'p')
            pid = atol(optarg);
        else
            goto usage;
    }
    if (argc - optind < 2 || pid <= 0 || n <= 0 || warm < 0)
        goto usage;
    const char *path = argc - optind > 2 ? argv[optind + 2] : "/x?size=13";

    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rlim_t need = (rlim_t)(n + warm + 64);
    if (rl.rlim_cur < need) {
        rl.rlim_cur = need;
        if (rl.rlim_max < need)
            rl.rlim_max = need;
        if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
            fprintf(stderr, "cannot raise RLIMIT_NOFILE to %lu: %s\n", (unsigned long)need, strerror(errno));
            return EXIT_FAILURE;
        }
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[optind + 1]))};
    if (inet_pton(AF_INET, argv[optind], &sa.sin_addr) != 1)
        goto usage;
    char req[512];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: bench\r\n\r\n", path);
    int *fds = calloc((size_t)(n + warm), sizeof *fds);
    if (fds == NULL)
        return EXIT_FAILURE;

    if (open_idle(&sa, req, fds, warm) != 0)
        return EXIT_FAILURE;
    usleep(300000);
    struct mem m0 = measure(pid);
    if (open_idle(&sa, req, fds + warm, n) != 0)
        return EXIT_FAILURE;
    usleep(300000);
    struct mem m1 = measure(pid);
    /* still all open? (a server that closed idle ones would look cheap) */
    int closed = 0;
    for (int i = 0; i < n + warm; i++) {
        char ch;
        ssize_t r = recv(fds[i], &ch, 1, MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
            closed++;
    }
    printf("idle connections: %d (after %d warm-up), closed by the server meanwhile: %d\n", n, warm, closed);
    printf("RSS %ld -> %ld KiB: %.0f bytes per connection\n", m0.rss_kb, m1.rss_kb,
           (double)(m1.rss_kb - m0.rss_kb) * 1024.0 / n);
    printf("PSS %ld -> %ld KiB: %.0f bytes per connection\n", m0.pss_kb, m1.pss_kb,
           (double)(m1.pss_kb - m0.pss_kb) * 1024.0 / n);
    for (int i = 0; i < n + warm; i++)
        close(fds[i]);
    free(fds);
    return closed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
usage:
    fprintf(stderr, "usage: %s [-n N] [-w WARM] -p PID HOST PORT [PATH]\n", argv[0]);
    return 2;
}
