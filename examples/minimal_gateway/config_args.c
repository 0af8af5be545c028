/* Argument checks shared by the directives: On/Off, numbers, durations. */
#include <string.h>

#include "config_int.h"

int gw_arg_flag(struct gw_parser *p, const struct gw_cmd *cmd, const char *arg, int *out)
{
    if (gw_streq_ci(arg, "on")) {
        *out = 1;
        return 0;
    }
    if (gw_streq_ci(arg, "off")) {
        *out = 0;
        return 0;
    }
    return gw_fail(p, &cmd->at, FCGIC_E_INVAL, "%s must be On or Off", cmd->d->name);
}

int gw_arg_uint(const char *s, uint64_t max, uint64_t *out)
{
    uint64_t v = 0;
    if (!gw_isdigit((unsigned char)*s))
        return FCGIC_E_INVAL;
    for (; gw_isdigit((unsigned char)*s); s++) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (max - d) / 10)
            return FCGIC_E_RANGE;
        v = v * 10 + d;
    }
    if (*s != '\0')
        return FCGIC_E_INVAL;
    *out = v;
    return 0;
}

int gw_arg_duration(const char *s, bool default_ms, uint64_t *ns)
{
    static const struct {
        const char *unit;
        uint64_t ns;
    } units[] = {
        {"ms", 1000000ull}, {"s", 1000000000ull}, {"mi", 60000000000ull}, {"min", 60000000000ull},
        {"h", 3600000000000ull}, {"hr", 3600000000000ull},
    };
    size_t digits = 0;
    while (gw_isdigit((unsigned char)s[digits]))
        digits++;
    if (digits == 0 || digits > 12)
        return digits == 0 ? FCGIC_E_INVAL : FCGIC_E_RANGE;
    char num[16];
    memcpy(num, s, digits);
    num[digits] = '\0';
    uint64_t v;
    if (gw_arg_uint(num, UINT64_MAX, &v) != 0)
        return FCGIC_E_INVAL;
    const char *unit = s + digits;
    uint64_t mult = default_ms ? 1000000ull : 1000000000ull;
    if (*unit != '\0') {
        mult = 0;
        for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++)
            if (gw_streq_ci(unit, units[i].unit))
                mult = units[i].ns;
        if (mult == 0)
            return FCGIC_E_INVAL;
    }
    /* 12 digits of hours still fit: 10^12 * 3.6e12 > 2^64, so check. */
    if (v > UINT64_MAX / mult)
        return FCGIC_E_RANGE;
    *ns = v * mult;
    return 0;
}
