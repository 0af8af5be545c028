/**
 * @file fcgiclient.h
 * @brief Umbrella header: includes every public header of libfcgiclient.
 */
#ifndef FCGICLIENT_FCGICLIENT_H
#define FCGICLIENT_FCGICLIENT_H

#include "common.h"
#include "error.h"
#include "version.h"
/* record codec */
/* cgi response parser */
/* connection engine */
/* env builder */
/* expression engine */
/* pool and balancer */
/* posix transport */

#endif /* FCGICLIENT_FCGICLIENT_H */
