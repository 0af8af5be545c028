/* Fuzz target: minimal_gateway's configuration parser over a buffer (no
 * Include: it reads no file), then a walk over the tree it built. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static size_t walk(const struct gw_server *s)
{
    size_t n = s->n_listen + s->n_workers;
    for (size_t i = 0; i < s->n_proxy_mappings; i++)
        n += s->proxy_mappings[i]->map != NULL;
    for (size_t i = 0; i < s->n_locations; i++) {
        const struct gw_section *sec = s->locations[i];
        n += sec->n_mappings + sec->conf.n_setenv;
        if (sec->regex != NULL)
            n += (size_t)gw_regex_match(sec->regex, "/index.php/x", 12);
    }
    for (size_t i = 0; i < s->n_files; i++)
        n += (size_t)gw_regex_match(s->files[i]->regex, "index.php", 9);
    for (size_t i = 0; i < s->n_balancers; i++)
        n += s->balancers[i]->n_members;
    for (size_t i = 0; i < s->logs.n_custom; i++)
        n += strlen(s->logs.custom[i].format);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct gw_config *cfg = NULL;
    struct gw_config_error err;
    unsigned flags = getenv("FCGIC_UNDER_VALGRIND") ? GW_CONFIG_NO_JIT : 0u;
    int rc = gw_config_parse_buffer("fuzz.conf", (const char *)data, size, NULL, flags, &cfg, &err);
    if (rc == 0) {
        volatile size_t n = walk(gw_config_server(cfg));
        (void)n;
        struct gw_config *held = gw_config_ref(cfg);
        gw_config_unref(cfg);
        gw_config_unref(held);
    } else if (cfg != NULL || memchr(err.message, '\0', sizeof(err.message)) == NULL) {
        abort(); /* a failed parse hands out nothing, and its message ends */
    }
    return 0;
}
