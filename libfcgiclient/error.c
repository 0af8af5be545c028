#include "fcgiclient/error.h"
#include "fcgiclient/version.h"

const char *fcgic_strerror(int err)
{
    switch (err) {
    case 0:
        return "success";
#define FCGIC_X_MSG(name, num, msg) \
    case num:                       \
        return msg;
        FCGIC_ERROR_TABLE(FCGIC_X_MSG)
#undef FCGIC_X_MSG
    default:
        return "unknown error";
    }
}

const char *fcgic_strerror_name(int err)
{
    switch (err) {
    case 0:
        return "FCGIC_OK";
#define FCGIC_X_NAME(name, num, msg) \
    case num:                        \
        return "FCGIC_E_" #name;
        FCGIC_ERROR_TABLE(FCGIC_X_NAME)
#undef FCGIC_X_NAME
    default:
        return "FCGIC_E_UNKNOWN";
    }
}

int fcgic_version(const char **str)
{
    if (str)
        *str = FCGIC_VERSION_STRING;
    return FCGIC_VERSION_NUMBER;
}
