/**
 * @file fcgiclient.h
 * @brief Umbrella header: includes every public header of libfcgiclient.
 */
#ifndef FCGICLIENT_FCGICLIENT_H
#define FCGICLIENT_FCGICLIENT_H

#include "common.h"
#include "error.h"
#include <fcgiclient/version.h>
#include "record.h"
#include "cgi.h"
#include "conn.h"
#include "transport.h"
/* env builder */
/* expression engine */
/* pool and balancer */
/* posix transport */

#endif /* FCGICLIENT_FCGICLIENT_H */
