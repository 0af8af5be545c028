/* Record codec internals shared with the connection engine. */
#ifndef FCGIC_RECORD_INT_H
#define FCGIC_RECORD_INT_H

#include "fcgiclient/record.h"

/* Total bytes ever queued on the encoder (never decreases): with
 * fcgic_encoder_pending() it tells whether bytes queued before a given point
 * have been written. */
uint64_t fcgic__encoder_queued_total(const struct fcgic_encoder *e);

/* Encoded size of n pairs; FCGIC_E_NV_TOO_LONG or FCGIC_E_INVAL on bad input. */
int fcgic__pairs_size(const struct fcgic_param *params, size_t n, size_t *out);

/* fcgic_encoder_pairs() for PARAMS whose encoded size `body` was computed
 * with fcgic__pairs_size() (arguments already checked). */
int fcgic__encoder_pairs_sized(struct fcgic_encoder *e, enum fcgic_type type, uint16_t request_id,
                               const struct fcgic_param *params, size_t n, size_t body);

/* Copy every queued byte that references caller memory into the encoder,
 * so the caller may release it now. Returns 0 or FCGIC_E_NOMEM. */
int fcgic__encoder_own(struct fcgic_encoder *e);

/* Give back the last n content bytes of the DATA event just returned, so
 * they are returned again by the next call (used when a consumer pauses). */
void fcgic__decoder_unread(struct fcgic_decoder *d, size_t n);

#endif
