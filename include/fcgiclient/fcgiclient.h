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
#include "http.h"
#include "transport.h"
/* env builder */
#include "env.h"
/* expression engine */
#include "expr.h"
/* pool and balancer */
#include "stats.h"
#include "pool.h"
#include "balancer.h"
/* posix transport */
#include "posix.h"

#endif /* FCGICLIENT_FCGICLIENT_H */
