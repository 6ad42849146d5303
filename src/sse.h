/*
 * sse.h -- decoding a complete text/event-stream body into one JSON object
 * as the Python library does (§10.1): data lines joined per event, objects
 * kept, Responses deltas/done text/latest response aggregated.
 */
#ifndef LGW_SSE_H
#define LGW_SSE_H

#include <stddef.h>

#include <cJSON.h>

#include "llmgateway.h"

/* *out owned by the caller. No JSON object found -> LGW_ERESPONSE with
 * "No JSON payload found in SSE response". */
int lgw__sse_decode(const char *body, size_t len, cJSON **out,
                    lgw_error_t *err);

#endif
