/*
 * route.h -- routing of one request on one provider (Python llmgateway
 * §4): tier, requested model, model_map, effort-suffix stripping,
 * reasoning effort, temperature (gpt-5 forced to 1.0), max_tokens and the
 * transport choice from api_style / provider_type / model. Pure.
 */
#ifndef LGW_ROUTE_H
#define LGW_ROUTE_H

#include "config.h"

typedef struct lgw__route {
  char *requested_model;   /* before normalisation (stripped) */
  char *model;             /* normalised: map applied, suffix stripped */
  char *reasoning_effort;  /* "" when none */
  double temperature;
  long max_tokens;
  lgw__style_t style;      /* transport to use (never NONE) */
} lgw__route_t;

/* Per-request overrides, as in lgw_request_t (NULL/"" = unset). */
typedef struct lgw__overrides {
  const char *model, *tier, *reasoning_effort;
  int has_temperature;
  double temperature;
  long max_tokens;
} lgw__overrides_t;

/* Route task on provider p. Errors: LGW_ENOMODEL with the message
 * "No model configured for task '<task>'." */
int lgw__route(const lgw_runtime_t *rt, const lgw__provider_t *p,
               const char *task, const lgw__overrides_t *ov,
               lgw__route_t *out, lgw_error_t *err);
void lgw__route_free(lgw__route_t *r);

/* Transport choice (§4.6). explicit_match is set to 1 when a rule other
 * than the Responses fallback matched (suffix stripping needs it). */
lgw__style_t lgw__route_style(const lgw__provider_t *p, const char *model,
                              int *explicit_match);
/* §4.3: collapse whitespace, apply model_map, strip the effort suffix when
 * the provider selects Chat or Responses explicitly. *effort gets the
 * inferred suffix ("" if none). Both outputs owned by the caller. */
int lgw__normalize_model(const lgw__provider_t *p, const char *model,
                         char **out_model, char **effort);

#endif
