/* CGI parser internals shared with the connection engine. */
#ifndef FCGIC_CGI_INT_H
#define FCGIC_CGI_INT_H

#include <stdbool.h>

#include "fcgiclient/cgi.h"

/* Switch AUTHORIZER handling (Variable-* split) for the next response. */
void fcgic__cgi_parser_set_authorizer(struct fcgic_cgi_parser *p, bool on);

#endif
