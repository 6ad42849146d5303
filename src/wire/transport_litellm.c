/*
 * transport_litellm.c -- a LiteLLM proxy (api_style "litellm"). The proxy
 * speaks the OpenAI Chat Completions wire format, so this reuses that
 * transport with LiteLLM's parameters: the model goes verbatim
 * ("provider/model"), max_tokens, no reasoning_effort, and string content
 * is the answer as-is (§10.6).
 */
#include "transport.h"

static int litellm_body(const lgw__call_t *c, char **out, size_t *len,
                        lgw_error_t *err) {
  return lgw__chat_body(c, "max_tokens", 0, out, len, err);
}

static int litellm_parse(const char *body, size_t len,
                         const char *content_type, lgw__reply_t *out,
                         lgw_error_t *err) {
  return lgw__chat_parse(body, len, content_type, 0, out, err);
}

const lgw__transport_t lgw__transport_litellm = {
  "litellm", lgw__chat_url, lgw__openai_headers, litellm_body, litellm_parse,
  lgw__chat_stream_event};
