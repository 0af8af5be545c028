/* The environment list seen through the expression engine's env table. */
#include "fcgiclient/env.h"

static int op_get(void *ud, const char *name, size_t name_len, struct fcgic_span *value)
{
    return fcgic_env_get(ud, name, name_len, value);
}

static int op_set(void *ud, const char *name, size_t name_len, const char *value, size_t value_len,
                  const char *rule)
{
    return fcgic_env_set(ud, name, name_len, value, value_len, FCGIC_ENV_ORIGIN_OVERRIDE, rule);
}

static int op_unset(void *ud, const char *name, size_t name_len)
{
    return fcgic_env_unset(ud, name, name_len);
}

void fcgic_env_expr_env(struct fcgic_env *env, struct fcgic_expr_env *out)
{
    out->version = FCGIC_EXPR_ENV_VERSION;
    out->ud = env;
    out->get = op_get;
    out->set = op_set;
    out->unset = op_unset;
}
