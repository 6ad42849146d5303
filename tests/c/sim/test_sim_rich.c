/*
 * test_sim_rich.c -- llmgateway-sim beyond plain text, over real loopback
 * HTTP (libcurl), with request bodies as the official SDKs send them
 * (openai-node 6.49.0, @anthropic-ai/sdk 1.12.0): tool calls (JSON and
 * streamed) and tool results, images and files in the echo, answers for
 * JSON schemas and forcing tool choices, embeddings, mid-stream faults on
 * tool-call streams, an end-to-end tool loop per format, and a simulator
 * binary that holds none of the library's code.
 */
#include <cJSON.h>
#include <curl/curl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim_support.h"
#include "test.h"

static sim_t g_sim;

typedef struct resp {
  CURLcode rc;
  long status;
  char *body;
  size_t len, cap;
} resp_t;

static size_t on_body(char *p, size_t size, size_t n, void *ud) {
  resp_t *r = ud;
  size_t add = size * n;
  if (r->len + add + 1 > r->cap) {
    size_t c = (r->len + add + 1) * 2;
    char *g = realloc(r->body, c);
    if (!g) return 0;
    r->body = g;
    r->cap = c;
  }
  memcpy(r->body + r->len, p, add);
  r->len += add;
  r->body[r->len] = '\0';
  return add;
}

/* POSTs body to the simulator's path with an optional x-sim header. */
static resp_t post(const char *path, const char *body, const char *xsim) {
  resp_t r;
  CURL *c = curl_easy_init();
  struct curl_slist *hdrs;
  char url[256], *h = NULL;
  memset(&r, 0, sizeof r);
  snprintf(url, sizeof url, "%s%s", g_sim.base, path);
  hdrs = curl_slist_append(NULL, "content-type: application/json");
  if (xsim) {
    size_t n = strlen(xsim) + 8;
    h = malloc(n);
    snprintf(h, n, "x-sim: %s", xsim);
    hdrs = curl_slist_append(hdrs, h);
  }
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &r);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  r.rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
  curl_easy_cleanup(c);
  curl_slist_free_all(hdrs);
  free(h);
  if (!r.body) r.body = calloc(1, 1);
  return r;
}

/* ---- request bodies captured from the official SDKs --------------------- */

/* openai-node-6.49.0_chat.completions.create_tools.http */
static const char fx_chat_tools[] =
    "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"system\",\"conten"
    "t\":\"You are a weather assistant.\"},{\"role\":\"user\",\"content\":"
    "\"What is the weather in Paris?\"}],\"tools\":[{\"type\":\"function\","
    "\"function\":{\"name\":\"get_weather\",\"description\":\"Get the curre"
    "nt weather for a city\",\"parameters\":{\"type\":\"object\",\"properti"
    "es\":{\"city\":{\"type\":\"string\"},\"unit\":{\"type\":\"string\",\"e"
    "num\":[\"c\",\"f\"]}},\"required\":[\"city\"]}}}],\"tool_choice\":\"au"
    "to\"}";

/* openai-node-6.49.0_chat.completions.create_tools_stream.http */
static const char fx_chat_tools_stream[] =
    "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"system\",\"conten"
    "t\":\"You are a weather assistant.\"},{\"role\":\"user\",\"content\":"
    "\"What is the weather in Paris?\"}],\"tools\":[{\"type\":\"function\","
    "\"function\":{\"name\":\"get_weather\",\"description\":\"Get the curre"
    "nt weather for a city\",\"parameters\":{\"type\":\"object\",\"properti"
    "es\":{\"city\":{\"type\":\"string\"},\"unit\":{\"type\":\"string\",\"e"
    "num\":[\"c\",\"f\"]}},\"required\":[\"city\"]}}}],\"tool_choice\":\"au"
    "to\",\"stream\":true}";

/* openai-node-6.49.0_chat.completions.create_tool_result.http */
static const char fx_chat_tool_result[] =
    "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content"
    "\":\"What is the weather in Paris?\"},{\"role\":\"assistant\",\"tool_c"
    "alls\":[{\"id\":\"call_1\",\"type\":\"function\",\"function\":{\"name"
    "\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},"
    "{\"role\":\"tool\",\"tool_call_id\":\"call_1\",\"content\":\"{\\\"temp"
    "\\\":21}\"}],\"tools\":[{\"type\":\"function\",\"function\":{\"name\":"
    "\"get_weather\",\"description\":\"Get the current weather for a city\""
    ",\"parameters\":{\"type\":\"object\",\"properties\":{\"city\":{\"type"
    "\":\"string\"},\"unit\":{\"type\":\"string\",\"enum\":[\"c\",\"f\"]}},"
    "\"required\":[\"city\"]}}}]}";

/* openai-node-6.49.0_chat.completions.create_image_url.http */
static const char fx_chat_image_url[] =
    "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content"
    "\":[{\"type\":\"text\",\"text\":\"What is in this image?\"},{\"type\":"
    "\"image_url\",\"image_url\":{\"url\":\"https://example.com/cat.png\"}}"
    "]}]}";

/* openai-node-6.49.0_chat.completions.create_image_base64.http */
static const char fx_chat_image_base64[] =
    "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content"
    "\":[{\"type\":\"text\",\"text\":\"What is in this image?\"},{\"type\":"
    "\"image_url\",\"image_url\":{\"url\":\"data:image/png;base64,iVBORw0KG"
    "goAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP4z8DwHwAFAAH/VscvDQA"
    "AAABJRU5ErkJggg==\"}}]}]}";

/* openai-node-6.49.0_chat.completions.create_json_schema.http */
static const char fx_chat_json_schema[] =
    "{\"model\":\"gpt-4o-mini\",\"messages\":[{\"role\":\"user\",\"content"
    "\":\"Assess the risk of this change: set the log level of the billing "
    "service to debug.\"}],\"response_format\":{\"type\":\"json_schema\",\""
    "json_schema\":{\"name\":\"verdict\",\"strict\":true,\"schema\":{\"type"
    "\":\"object\",\"properties\":{\"summary\":{\"type\":\"string\"},\"risk"
    "\":{\"type\":\"string\",\"enum\":[\"low\",\"medium\",\"high\"]}},\"req"
    "uired\":[\"summary\",\"risk\"],\"additionalProperties\":false}}}}";

/* openai-node-6.49.0_responses.create_tools.http */
static const char fx_resp_tools[] =
    "{\"model\":\"gpt-4o-mini\",\"instructions\":\"You are a weather assist"
    "ant.\",\"input\":\"What is the weather in Paris?\",\"tools\":[{\"type"
    "\":\"function\",\"name\":\"get_weather\",\"description\":\"Get the cur"
    "rent weather for a city\",\"parameters\":{\"type\":\"object\",\"proper"
    "ties\":{\"city\":{\"type\":\"string\"},\"unit\":{\"type\":\"string\","
    "\"enum\":[\"c\",\"f\"]}},\"required\":[\"city\"]},\"strict\":false}],"
    "\"tool_choice\":\"auto\"}";

/* openai-node-6.49.0_responses.create_tools_stream.http */
static const char fx_resp_tools_stream[] =
    "{\"model\":\"gpt-4o-mini\",\"instructions\":\"You are a weather assist"
    "ant.\",\"input\":\"What is the weather in Paris?\",\"tools\":[{\"type"
    "\":\"function\",\"name\":\"get_weather\",\"description\":\"Get the cur"
    "rent weather for a city\",\"parameters\":{\"type\":\"object\",\"proper"
    "ties\":{\"city\":{\"type\":\"string\"},\"unit\":{\"type\":\"string\","
    "\"enum\":[\"c\",\"f\"]}},\"required\":[\"city\"]},\"strict\":false}],"
    "\"tool_choice\":\"auto\",\"stream\":true}";

/* openai-node-6.49.0_responses.create_tool_result.http */
static const char fx_resp_tool_result[] =
    "{\"model\":\"gpt-4o-mini\",\"input\":[{\"role\":\"user\",\"content\":"
    "\"What is the weather in Paris?\"},{\"type\":\"function_call\",\"call_"
    "id\":\"call_1\",\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\""
    ":\\\"Paris\\\"}\"},{\"type\":\"function_call_output\",\"call_id\":\"ca"
    "ll_1\",\"output\":\"{\\\"temp\\\":21}\"}],\"tools\":[{\"type\":\"funct"
    "ion\",\"name\":\"get_weather\",\"description\":\"Get the current weath"
    "er for a city\",\"parameters\":{\"type\":\"object\",\"properties\":{\""
    "city\":{\"type\":\"string\"},\"unit\":{\"type\":\"string\",\"enum\":["
    "\"c\",\"f\"]}},\"required\":[\"city\"]},\"strict\":false}]}";

/* openai-node-6.49.0_responses.create_image_url.http */
static const char fx_resp_image_url[] =
    "{\"model\":\"gpt-4o-mini\",\"input\":[{\"role\":\"user\",\"content\":["
    "{\"type\":\"input_text\",\"text\":\"What is in this image?\"},{\"type"
    "\":\"input_image\",\"image_url\":\"https://example.com/cat.png\"}]}]}";

/* openai-node-6.49.0_responses.create_image_url_detail.http */
static const char fx_resp_image_url_detail[] =
    "{\"model\":\"gpt-4o-mini\",\"input\":[{\"role\":\"user\",\"content\":["
    "{\"type\":\"input_text\",\"text\":\"What is in this image?\"},{\"type"
    "\":\"input_image\",\"image_url\":\"https://example.com/cat.png\",\"det"
    "ail\":\"auto\"}]}]}";

/* openai-node-6.49.0_responses.create_image_base64.http */
static const char fx_resp_image_base64[] =
    "{\"model\":\"gpt-4o-mini\",\"input\":[{\"role\":\"user\",\"content\":["
    "{\"type\":\"input_text\",\"text\":\"What is in this image?\"},{\"type"
    "\":\"input_image\",\"image_url\":\"data:image/png;base64,iVBORw0KGgoAA"
    "AANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP4z8DwHwAFAAH/VscvDQAAAAB"
    "JRU5ErkJggg==\"}]}]}";

/* openai-node-6.49.0_responses.create_file_base64.http */
static const char fx_resp_file_base64[] =
    "{\"model\":\"gpt-4o-mini\",\"input\":[{\"role\":\"user\",\"content\":["
    "{\"type\":\"input_text\",\"text\":\"Summarize this document.\"},{\"typ"
    "e\":\"input_file\",\"filename\":\"hello.pdf\",\"file_data\":\"data:app"
    "lication/pdf;base64,JVBERi0xLjQKMSAwIG9iago8PCAvVHlwZSAvQ2F0YWxvZyAvUG"
    "FnZXMgMiAwIFIgPj4KZW5kb2JqCjIgMCBvYmoKPDwgL1R5cGUgL1BhZ2VzIC9LaWRzIFsz"
    "IDAgUl0gL0NvdW50IDEgPj4KZW5kb2JqCjMgMCBvYmoKPDwgL1R5cGUgL1BhZ2UgL1Bhcm"
    "VudCAyIDAgUiAvTWVkaWFCb3ggWzAgMCAyMDAgNTBdIC9Db250ZW50cyA0IDAgUiAvUmVz"
    "b3VyY2VzIDw8IC9Gb250IDw8IC9GMSA1IDAgUiA+PiA+PiA+PgplbmRvYmoKNCAwIG9iag"
    "o8PCAvTGVuZ3RoIDM1ID4+CnN0cmVhbQpCVCAvRjEgMTggVGYgMTAgMjAgVGQgKEhlbGxv"
    "KSBUaiBFVAplbmRzdHJlYW0KZW5kb2JqCjUgMCBvYmoKPDwgL1R5cGUgL0ZvbnQgL1N1Yn"
    "R5cGUgL1R5cGUxIC9CYXNlRm9udCAvSGVsdmV0aWNhID4+CmVuZG9iagp4cmVmCjAgNgow"
    "MDAwMDAwMDAwIDY1NTM1IGYgCjAwMDAwMDAwMDkgMDAwMDAgbiAKMDAwMDAwMDA1OCAwMD"
    "AwMCBuIAowMDAwMDAwMTE1IDAwMDAwIG4gCjAwMDAwMDAyNDAgMDAwMDAgbiAKMDAwMDAw"
    "MDMyNSAwMDAwMCBuIAp0cmFpbGVyCjw8IC9TaXplIDYgL1Jvb3QgMSAwIFIgPj4Kc3Rhcn"
    "R4cmVmCjM5NQolJUVPRgo=\"}]}]}";

/* openai-node-6.49.0_responses.create_json_schema.http */
static const char fx_resp_json_schema[] =
    "{\"model\":\"gpt-4o-mini\",\"input\":\"Assess the risk of this change:"
    " set the log level of the billing service to debug.\",\"text\":{\"form"
    "at\":{\"type\":\"json_schema\",\"name\":\"verdict\",\"strict\":true,\""
    "schema\":{\"type\":\"object\",\"properties\":{\"summary\":{\"type\":\""
    "string\"},\"risk\":{\"type\":\"string\",\"enum\":[\"low\",\"medium\","
    "\"high\"]}},\"required\":[\"summary\",\"risk\"],\"additionalProperties"
    "\":false}}}}";

/* anthropic-sdk-1.12.0_messages.create_tools.http */
static const char fx_anth_tools[] =
    "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":1024,\"system\":\"You "
    "are a weather assistant.\",\"messages\":[{\"role\":\"user\",\"content"
    "\":\"What is the weather in Paris?\"}],\"tools\":[{\"name\":\"get_weat"
    "her\",\"description\":\"Get the current weather for a city\",\"input_s"
    "chema\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"stri"
    "ng\"},\"unit\":{\"type\":\"string\",\"enum\":[\"c\",\"f\"]}},\"require"
    "d\":[\"city\"]}}],\"tool_choice\":{\"type\":\"auto\"}}";

/* anthropic-sdk-1.12.0_messages.create_tools_stream.http */
static const char fx_anth_tools_stream[] =
    "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":1024,\"system\":\"You "
    "are a weather assistant.\",\"messages\":[{\"role\":\"user\",\"content"
    "\":\"What is the weather in Paris?\"}],\"tools\":[{\"name\":\"get_weat"
    "her\",\"description\":\"Get the current weather for a city\",\"input_s"
    "chema\":{\"type\":\"object\",\"properties\":{\"city\":{\"type\":\"stri"
    "ng\"},\"unit\":{\"type\":\"string\",\"enum\":[\"c\",\"f\"]}},\"require"
    "d\":[\"city\"]}}],\"tool_choice\":{\"type\":\"auto\"},\"stream\":true}";

/* anthropic-sdk-1.12.0_messages.create_tool_result.http */
static const char fx_anth_tool_result[] =
    "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":1024,\"messages\":[{\""
    "role\":\"user\",\"content\":\"What is the weather in Paris?\"},{\"role"
    "\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\":\"toolu_1"
    "\",\"name\":\"get_weather\",\"input\":{\"city\":\"Paris\"}}]},{\"role"
    "\":\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":\"t"
    "oolu_1\",\"content\":\"{\\\"temp\\\":21}\"}]}],\"tools\":[{\"name\":\""
    "get_weather\",\"description\":\"Get the current weather for a city\","
    "\"input_schema\":{\"type\":\"object\",\"properties\":{\"city\":{\"type"
    "\":\"string\"},\"unit\":{\"type\":\"string\",\"enum\":[\"c\",\"f\"]}},"
    "\"required\":[\"city\"]}}]}";

/* anthropic-sdk-1.12.0_messages.create_image_base64.http */
static const char fx_anth_image_base64[] =
    "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":1024,\"messages\":[{\""
    "role\":\"user\",\"content\":[{\"type\":\"image\",\"source\":{\"type\":"
    "\"base64\",\"media_type\":\"image/png\",\"data\":\"iVBORw0KGgoAAAANSUh"
    "EUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP4z8DwHwAFAAH/VscvDQAAAABJRU5Er"
    "kJggg==\"}},{\"type\":\"text\",\"text\":\"What is in this image?\"}]}]"
    "}";

/* anthropic-sdk-1.12.0_messages.create_image_url.http */
static const char fx_anth_image_url[] =
    "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":1024,\"messages\":[{\""
    "role\":\"user\",\"content\":[{\"type\":\"image\",\"source\":{\"type\":"
    "\"url\",\"url\":\"https://example.com/cat.png\"}},{\"type\":\"text\","
    "\"text\":\"What is in this image?\"}]}]}";

/* anthropic-sdk-1.12.0_messages.create_document_base64.http */
static const char fx_anth_document_base64[] =
    "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":1024,\"messages\":[{\""
    "role\":\"user\",\"content\":[{\"type\":\"document\",\"source\":{\"type"
    "\":\"base64\",\"media_type\":\"application/pdf\",\"data\":\"JVBERi0xLj"
    "QKMSAwIG9iago8PCAvVHlwZSAvQ2F0YWxvZyAvUGFnZXMgMiAwIFIgPj4KZW5kb2JqCjIg"
    "MCBvYmoKPDwgL1R5cGUgL1BhZ2VzIC9LaWRzIFszIDAgUl0gL0NvdW50IDEgPj4KZW5kb2"
    "JqCjMgMCBvYmoKPDwgL1R5cGUgL1BhZ2UgL1BhcmVudCAyIDAgUiAvTWVkaWFCb3ggWzAg"
    "MCAyMDAgNTBdIC9Db250ZW50cyA0IDAgUiAvUmVzb3VyY2VzIDw8IC9Gb250IDw8IC9GMS"
    "A1IDAgUiA+PiA+PiA+PgplbmRvYmoKNCAwIG9iago8PCAvTGVuZ3RoIDM1ID4+CnN0cmVh"
    "bQpCVCAvRjEgMTggVGYgMTAgMjAgVGQgKEhlbGxvKSBUaiBFVAplbmRzdHJlYW0KZW5kb2"
    "JqCjUgMCBvYmoKPDwgL1R5cGUgL0ZvbnQgL1N1YnR5cGUgL1R5cGUxIC9CYXNlRm9udCAv"
    "SGVsdmV0aWNhID4+CmVuZG9iagp4cmVmCjAgNgowMDAwMDAwMDAwIDY1NTM1IGYgCjAwMD"
    "AwMDAwMDkgMDAwMDAgbiAKMDAwMDAwMDA1OCAwMDAwMCBuIAowMDAwMDAwMTE1IDAwMDAw"
    "IG4gCjAwMDAwMDAyNDAgMDAwMDAgbiAKMDAwMDAwMDMyNSAwMDAwMCBuIAp0cmFpbGVyCj"
    "w8IC9TaXplIDYgL1Jvb3QgMSAwIFIgPj4Kc3RhcnR4cmVmCjM5NQolJUVPRgo=\"}},{\""
    "type\":\"text\",\"text\":\"Summarize this document.\"}]}]}";

/* anthropic-sdk-1.12.0_messages.create_forced_tool.http */
static const char fx_anth_forced_tool[] =
    "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":1024,\"messages\":[{\""
    "role\":\"user\",\"content\":\"Assess the risk of this change: set the "
    "log level of the billing service to debug.\"}],\"tools\":[{\"name\":\""
    "verdict\",\"description\":\"Record the risk verdict for the change.\","
    "\"input_schema\":{\"type\":\"object\",\"properties\":{\"summary\":{\"t"
    "ype\":\"string\"},\"risk\":{\"type\":\"string\",\"enum\":[\"low\",\"me"
    "dium\",\"high\"]}},\"required\":[\"summary\",\"risk\"],\"additionalPro"
    "perties\":false}}],\"tool_choice\":{\"type\":\"tool\",\"name\":\"verdi"
    "ct\"}}";

/* anthropic-sdk-1.12.0_messages.create_output_config.http */
static const char fx_anth_output_config[] =
    "{\"model\":\"claude-sonnet-4-5\",\"max_tokens\":1024,\"messages\":[{\""
    "role\":\"user\",\"content\":\"Assess the risk of this change: set the "
    "log level of the billing service to debug.\"}],\"output_config\":{\"fo"
    "rmat\":{\"type\":\"json_schema\",\"schema\":{\"type\":\"object\",\"pro"
    "perties\":{\"summary\":{\"type\":\"string\"},\"risk\":{\"type\":\"stri"
    "ng\",\"enum\":[\"low\",\"medium\",\"high\"]}},\"required\":[\"summary"
    "\",\"risk\"],\"additionalProperties\":false}}}}";

/* openai-node-6.49.0_embeddings.create.http */
static const char fx_embeddings[] =
    "{\"model\":\"text-embedding-3-small\",\"input\":[\"hello\",\"world\"],"
    "\"dimensions\":256,\"encoding_format\":\"base64\"}";

/* ---- exact answers ------------------------------------------------------ */

#define CHAT "/v1/chat/completions"

typedef struct rcase {
  const char *name;
  const char *path;
  const char *body;
  const char *xsim;
  long status;
  const char *want;
} rcase_t;

static const rcase_t cases[] = {
    {"chat_tool_call",
     "/v1/chat/completions", fx_chat_tools,
     "tool=get_weather args={\"city\":\"Paris\",\"unit\":\"c\"}",
     200,
     "{\"id\":\"chatcmpl-sim\",\"object\":\"chat.completion\",\"created\":"
     "0,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"message\":{"
     "\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"ca"
     "ll_sim_1\",\"type\":\"function\",\"function\":{\"name\":\"get_weathe"
     "r\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\",\\\"unit\\\":\\\"c\\"
     "\"}\"}}]},\"finish_reason\":\"tool_calls\"}],\"usage\":{\"prompt_tok"
     "ens\":11,\"completion_tokens\":1,\"total_tokens\":12}}"},
    {"chat_tool_call_args_from_schema",
     "/v1/chat/completions", fx_chat_tools,
     "tool=get_weather",
     200,
     "{\"id\":\"chatcmpl-sim\",\"object\":\"chat.completion\",\"created\":"
     "0,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"message\":{"
     "\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"ca"
     "ll_sim_1\",\"type\":\"function\",\"function\":{\"name\":\"get_weathe"
     "r\",\"arguments\":\"{\\\"city\\\":\\\"x\\\"}\"}}]},\"finish_reason\""
     ":\"tool_calls\"}],\"usage\":{\"prompt_tokens\":11,\"completion_token"
     "s\":1,\"total_tokens\":12}}"},
    {"chat_tool_call_stream",
     "/v1/chat/completions", fx_chat_tools_stream,
     "tool=get_weather args={\"city\":\"Paris\",\"unit\":\"c\"}",
     200,
     "data: {\"id\":\"chatcmpl-sim\",\"object\":\"chat.completion.chunk\","
     "\"created\":0,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\""
     "delta\":{\"role\":\"assistant\",\"content\":null,\"tool_calls\":[{\""
     "index\":0,\"id\":\"call_sim_1\",\"type\":\"function\",\"function\":{"
     "\"name\":\"get_weather\",\"arguments\":\"\"}}]},\"finish_reason\":nu"
     "ll}]}\n\ndata: {\"id\":\"chatcmpl-sim\",\"object\":\"chat.completion"
     ".chunk\",\"created\":0,\"model\":\"gpt-4o-mini\",\"choices\":[{\"ind"
     "ex\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"argum"
     "ents\":\"{\"}}]},\"finish_reason\":null}]}\n\ndata: {\"id\":\"chatcm"
     "pl-sim\",\"object\":\"chat.completion.chunk\",\"created\":0,\"model"
     "\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls"
     "\":[{\"index\":0,\"function\":{\"arguments\":\"\\\"city\"}}]},\"fini"
     "sh_reason\":null}]}\n\ndata: {\"id\":\"chatcmpl-sim\",\"object\":\"c"
     "hat.completion.chunk\",\"created\":0,\"model\":\"gpt-4o-mini\",\"cho"
     "ices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"funct"
     "ion\":{\"arguments\":\"\\\":\"}}]},\"finish_reason\":null}]}\n\ndata"
     ": {\"id\":\"chatcmpl-sim\",\"object\":\"chat.completion.chunk\",\"cr"
     "eated\":0,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delt"
     "a\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\""
     "Paris\"}}]},\"finish_reason\":null}]}\n\ndata: {\"id\":\"chatcmpl-si"
     "m\",\"object\":\"chat.completion.chunk\",\"created\":0,\"model\":\"g"
     "pt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{"
     "\"index\":0,\"function\":{\"arguments\":\"\\\",\"}}]},\"finish_reaso"
     "n\":null}]}\n\ndata: {\"id\":\"chatcmpl-sim\",\"object\":\"chat.comp"
     "letion.chunk\",\"created\":0,\"model\":\"gpt-4o-mini\",\"choices\":["
     "{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{"
     "\"arguments\":\"\\\"unit\"}}]},\"finish_reason\":null}]}\n\ndata: {"
     "\"id\":\"chatcmpl-sim\",\"object\":\"chat.completion.chunk\",\"creat"
     "ed\":0,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\""
     ":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"\\\":\""
     "}}]},\"finish_reason\":null}]}\n\ndata: {\"id\":\"chatcmpl-sim\",\"o"
     "bject\":\"chat.completion.chunk\",\"created\":0,\"model\":\"gpt-4o-m"
     "ini\",\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index"
     "\":0,\"function\":{\"arguments\":\"\\\"c\"}}]},\"finish_reason\":nul"
     "l}]}\n\ndata: {\"id\":\"chatcmpl-sim\",\"object\":\"chat.completion."
     "chunk\",\"created\":0,\"model\":\"gpt-4o-mini\",\"choices\":[{\"inde"
     "x\":0,\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"argume"
     "nts\":\"\\\"}\"}}]},\"finish_reason\":null}]}\n\ndata: {\"id\":\"cha"
     "tcmpl-sim\",\"object\":\"chat.completion.chunk\",\"created\":0,\"mod"
     "el\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"delta\":{},\"finish"
     "_reason\":\"tool_calls\"}]}\n\ndata: {\"id\":\"chatcmpl-sim\",\"obje"
     "ct\":\"chat.completion.chunk\",\"created\":0,\"model\":\"gpt-4o-mini"
     "\",\"choices\":[],\"usage\":{\"prompt_tokens\":11,\"completion_token"
     "s\":1,\"total_tokens\":12}}\n\ndata: [DONE]\n\n"},
    {"chat_tool_result_gets_text",
     "/v1/chat/completions", fx_chat_tool_result,
     "tool=get_weather args={\"city\":\"Paris\",\"unit\":\"c\"}",
     200,
     "{\"id\":\"chatcmpl-sim\",\"object\":\"chat.completion\",\"created\":"
     "0,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"message\":{"
     "\"role\":\"assistant\",\"content\":\"tool result: {\\\"temp\\\":21}"
     "\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":7,\"co"
     "mpletion_tokens\":3,\"total_tokens\":10}}"},
    {"chat_image_url",
     "/v1/chat/completions", fx_chat_image_url, NULL,
     200,
     "{\"id\":\"chatcmpl-sim\",\"object\":\"chat.completion\",\"created\":"
     "0,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"message\":{"
     "\"role\":\"assistant\",\"content\":\"echo(gpt-4o-mini): What is in t"
     "his image? [1 attachment: image url]\"},\"finish_reason\":\"stop\"}]"
     ",\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":10,\"total_tok"
     "ens\":15}}"},
    {"chat_image_base64",
     "/v1/chat/completions", fx_chat_image_base64, NULL,
     200,
     "{\"id\":\"chatcmpl-sim\",\"object\":\"chat.completion\",\"created\":"
     "0,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"message\":{"
     "\"role\":\"assistant\",\"content\":\"echo(gpt-4o-mini): What is in t"
     "his image? [1 attachment: image image/png 70 bytes]\"},\"finish_reas"
     "on\":\"stop\"}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\""
     ":12,\"total_tokens\":17}}"},
    {"chat_json_schema",
     "/v1/chat/completions", fx_chat_json_schema, NULL,
     200,
     "{\"id\":\"chatcmpl-sim\",\"object\":\"chat.completion\",\"created\":"
     "0,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"message\":{"
     "\"role\":\"assistant\",\"content\":\"{\\\"summary\\\":\\\"x\\\",\\\""
     "risk\\\":\\\"low\\\"}\"},\"finish_reason\":\"stop\"}],\"usage\":{\"p"
     "rompt_tokens\":16,\"completion_tokens\":1,\"total_tokens\":17}}"},
    {"chat_json_schema_off",
     "/v1/chat/completions", fx_chat_json_schema,
     "schema_json=false",
     200,
     "{\"id\":\"chatcmpl-sim\",\"object\":\"chat.completion\",\"created\":"
     "0,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"message\":{"
     "\"role\":\"assistant\",\"content\":\"echo(gpt-4o-mini): Assess the r"
     "isk of this change: set the log level of the billing service to debu"
     "g.\"},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":16,"
     "\"completion_tokens\":17,\"total_tokens\":33}}"},
    {"chat_json_schema_reply",
     "/v1/chat/completions", fx_chat_json_schema,
     "reply={\"summary\":1}",
     200,
     "{\"id\":\"chatcmpl-sim\",\"object\":\"chat.completion\",\"created\":"
     "0,\"model\":\"gpt-4o-mini\",\"choices\":[{\"index\":0,\"message\":{"
     "\"role\":\"assistant\",\"content\":\"{\\\"summary\\\":1}\"},\"finish"
     "_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":16,\"completion_to"
     "kens\":1,\"total_tokens\":17}}"},
    {"resp_tool_call",
     "/v1/responses", fx_resp_tools,
     "tool=get_weather args={\"city\":\"Paris\",\"unit\":\"c\"}",
     200,
     "{\"id\":\"resp_sim\",\"object\":\"response\",\"status\":\"completed"
     "\",\"model\":\"gpt-4o-mini\",\"output\":[{\"type\":\"function_call\""
     ",\"id\":\"fc_sim_1\",\"call_id\":\"call_sim_1\",\"name\":\"get_weath"
     "er\",\"arguments\":\"{\\\"city\\\":\\\"Paris\\\",\\\"unit\\\":\\\"c"
     "\\\"}\",\"status\":\"completed\"}],\"usage\":{\"input_tokens\":11,\""
     "output_tokens\":1,\"total_tokens\":12}}"},
    {"resp_tool_call_stream",
     "/v1/responses", fx_resp_tools_stream,
     "tool=get_weather args={\"city\":\"Paris\",\"unit\":\"c\"}",
     200,
     "event: response.created\ndata: {\"type\":\"response.created\",\"resp"
     "onse\":{\"id\":\"resp_sim\",\"object\":\"response\",\"status\":\"in_"
     "progress\",\"model\":\"gpt-4o-mini\",\"output\":[],\"usage\":null}}"
     "\n\nevent: response.output_item.added\ndata: {\"type\":\"response.ou"
     "tput_item.added\",\"output_index\":0,\"item\":{\"type\":\"function_c"
     "all\",\"id\":\"fc_sim_1\",\"call_id\":\"call_sim_1\",\"name\":\"get_"
     "weather\",\"arguments\":\"\",\"status\":\"in_progress\"}}\n\nevent: "
     "response.function_call_arguments.delta\ndata: {\"type\":\"response.f"
     "unction_call_arguments.delta\",\"item_id\":\"fc_sim_1\",\"output_ind"
     "ex\":0,\"delta\":\"{\"}\n\nevent: response.function_call_arguments.d"
     "elta\ndata: {\"type\":\"response.function_call_arguments.delta\",\"i"
     "tem_id\":\"fc_sim_1\",\"output_index\":0,\"delta\":\"\\\"city\"}\n\n"
     "event: response.function_call_arguments.delta\ndata: {\"type\":\"res"
     "ponse.function_call_arguments.delta\",\"item_id\":\"fc_sim_1\",\"out"
     "put_index\":0,\"delta\":\"\\\":\"}\n\nevent: response.function_call_"
     "arguments.delta\ndata: {\"type\":\"response.function_call_arguments."
     "delta\",\"item_id\":\"fc_sim_1\",\"output_index\":0,\"delta\":\"\\\""
     "Paris\"}\n\nevent: response.function_call_arguments.delta\ndata: {\""
     "type\":\"response.function_call_arguments.delta\",\"item_id\":\"fc_s"
     "im_1\",\"output_index\":0,\"delta\":\"\\\",\"}\n\nevent: response.fu"
     "nction_call_arguments.delta\ndata: {\"type\":\"response.function_cal"
     "l_arguments.delta\",\"item_id\":\"fc_sim_1\",\"output_index\":0,\"de"
     "lta\":\"\\\"unit\"}\n\nevent: response.function_call_arguments.delta"
     "\ndata: {\"type\":\"response.function_call_arguments.delta\",\"item_"
     "id\":\"fc_sim_1\",\"output_index\":0,\"delta\":\"\\\":\"}\n\nevent: "
     "response.function_call_arguments.delta\ndata: {\"type\":\"response.f"
     "unction_call_arguments.delta\",\"item_id\":\"fc_sim_1\",\"output_ind"
     "ex\":0,\"delta\":\"\\\"c\"}\n\nevent: response.function_call_argumen"
     "ts.delta\ndata: {\"type\":\"response.function_call_arguments.delta\""
     ",\"item_id\":\"fc_sim_1\",\"output_index\":0,\"delta\":\"\\\"}\"}\n"
     "\nevent: response.function_call_arguments.done\ndata: {\"type\":\"re"
     "sponse.function_call_arguments.done\",\"item_id\":\"fc_sim_1\",\"out"
     "put_index\":0,\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\""
     ":\\\"Paris\\\",\\\"unit\\\":\\\"c\\\"}\"}\n\nevent: response.output_"
     "item.done\ndata: {\"type\":\"response.output_item.done\",\"output_in"
     "dex\":0,\"item\":{\"type\":\"function_call\",\"id\":\"fc_sim_1\",\"c"
     "all_id\":\"call_sim_1\",\"name\":\"get_weather\",\"arguments\":\"{\\"
     "\"city\\\":\\\"Paris\\\",\\\"unit\\\":\\\"c\\\"}\",\"status\":\"comp"
     "leted\"}}\n\nevent: response.completed\ndata: {\"type\":\"response.c"
     "ompleted\",\"response\":{\"id\":\"resp_sim\",\"object\":\"response\""
     ",\"status\":\"completed\",\"model\":\"gpt-4o-mini\",\"output\":[{\"t"
     "ype\":\"function_call\",\"id\":\"fc_sim_1\",\"call_id\":\"call_sim_1"
     "\",\"name\":\"get_weather\",\"arguments\":\"{\\\"city\\\":\\\"Paris"
     "\\\",\\\"unit\\\":\\\"c\\\"}\",\"status\":\"completed\"}],\"usage\":"
     "{\"input_tokens\":11,\"output_tokens\":1,\"total_tokens\":12}}}\n\n"},
    {"resp_tool_result_gets_text",
     "/v1/responses", fx_resp_tool_result,
     "tool=get_weather args={\"city\":\"Paris\",\"unit\":\"c\"}",
     200,
     "{\"id\":\"resp_sim\",\"object\":\"response\",\"status\":\"completed"
     "\",\"model\":\"gpt-4o-mini\",\"output\":[{\"type\":\"message\",\"id"
     "\":\"msg_sim\",\"status\":\"completed\",\"role\":\"assistant\",\"con"
     "tent\":[{\"type\":\"output_text\",\"text\":\"tool result: {\\\"temp"
     "\\\":21}\",\"annotations\":[]}]}],\"usage\":{\"input_tokens\":7,\"ou"
     "tput_tokens\":3,\"total_tokens\":10}}"},
    {"resp_image_url",
     "/v1/responses", fx_resp_image_url, NULL,
     200,
     "{\"id\":\"resp_sim\",\"object\":\"response\",\"status\":\"completed"
     "\",\"model\":\"gpt-4o-mini\",\"output\":[{\"type\":\"message\",\"id"
     "\":\"msg_sim\",\"status\":\"completed\",\"role\":\"assistant\",\"con"
     "tent\":[{\"type\":\"output_text\",\"text\":\"echo(gpt-4o-mini): What"
     " is in this image? [1 attachment: image url]\",\"annotations\":[]}]}"
     "],\"usage\":{\"input_tokens\":5,\"output_tokens\":10,\"total_tokens"
     "\":15}}"},
    {"resp_image_url_detail",
     "/v1/responses", fx_resp_image_url_detail, NULL,
     200,
     "{\"id\":\"resp_sim\",\"object\":\"response\",\"status\":\"completed"
     "\",\"model\":\"gpt-4o-mini\",\"output\":[{\"type\":\"message\",\"id"
     "\":\"msg_sim\",\"status\":\"completed\",\"role\":\"assistant\",\"con"
     "tent\":[{\"type\":\"output_text\",\"text\":\"echo(gpt-4o-mini): What"
     " is in this image? [1 attachment: image url]\",\"annotations\":[]}]}"
     "],\"usage\":{\"input_tokens\":5,\"output_tokens\":10,\"total_tokens"
     "\":15}}"},
    {"resp_image_base64",
     "/v1/responses", fx_resp_image_base64, NULL,
     200,
     "{\"id\":\"resp_sim\",\"object\":\"response\",\"status\":\"completed"
     "\",\"model\":\"gpt-4o-mini\",\"output\":[{\"type\":\"message\",\"id"
     "\":\"msg_sim\",\"status\":\"completed\",\"role\":\"assistant\",\"con"
     "tent\":[{\"type\":\"output_text\",\"text\":\"echo(gpt-4o-mini): What"
     " is in this image? [1 attachment: image image/png 70 bytes]\",\"anno"
     "tations\":[]}]}],\"usage\":{\"input_tokens\":5,\"output_tokens\":12,"
     "\"total_tokens\":17}}"},
    {"resp_file_base64",
     "/v1/responses", fx_resp_file_base64, NULL,
     200,
     "{\"id\":\"resp_sim\",\"object\":\"response\",\"status\":\"completed"
     "\",\"model\":\"gpt-4o-mini\",\"output\":[{\"type\":\"message\",\"id"
     "\":\"msg_sim\",\"status\":\"completed\",\"role\":\"assistant\",\"con"
     "tent\":[{\"type\":\"output_text\",\"text\":\"echo(gpt-4o-mini): Summ"
     "arize this document. [1 attachment: file application/pdf 578 bytes]"
     "\",\"annotations\":[]}]}],\"usage\":{\"input_tokens\":3,\"output_tok"
     "ens\":10,\"total_tokens\":13}}"},
    {"resp_json_schema",
     "/v1/responses", fx_resp_json_schema, NULL,
     200,
     "{\"id\":\"resp_sim\",\"object\":\"response\",\"status\":\"completed"
     "\",\"model\":\"gpt-4o-mini\",\"output\":[{\"type\":\"message\",\"id"
     "\":\"msg_sim\",\"status\":\"completed\",\"role\":\"assistant\",\"con"
     "tent\":[{\"type\":\"output_text\",\"text\":\"{\\\"summary\\\":\\\"x"
     "\\\",\\\"risk\\\":\\\"low\\\"}\",\"annotations\":[]}]}],\"usage\":{"
     "\"input_tokens\":16,\"output_tokens\":1,\"total_tokens\":17}}"},
    {"resp_json_schema_stream",
     "/v1/responses", fx_resp_json_schema,
     "fault=sse",
     200,
     "event: response.created\ndata: {\"type\":\"response.created\",\"resp"
     "onse\":{\"id\":\"resp_sim\",\"object\":\"response\",\"status\":\"in_"
     "progress\",\"model\":\"gpt-4o-mini\",\"output\":[],\"usage\":null}}"
     "\n\nevent: response.output_text.delta\ndata: {\"type\":\"response.ou"
     "tput_text.delta\",\"item_id\":\"msg_sim\",\"output_index\":0,\"conte"
     "nt_index\":0,\"delta\":\"{\\\"summary\\\":\\\"x\\\",\\\"risk\\\":\\"
     "\"low\\\"}\"}\n\nevent: response.output_text.done\ndata: {\"type\":"
     "\"response.output_text.done\",\"item_id\":\"msg_sim\",\"output_index"
     "\":0,\"content_index\":0,\"text\":\"{\\\"summary\\\":\\\"x\\\",\\\"r"
     "isk\\\":\\\"low\\\"}\"}\n\nevent: response.completed\ndata: {\"type"
     "\":\"response.completed\",\"response\":{\"id\":\"resp_sim\",\"object"
     "\":\"response\",\"status\":\"completed\",\"model\":\"gpt-4o-mini\","
     "\"output\":[{\"type\":\"message\",\"id\":\"msg_sim\",\"status\":\"co"
     "mpleted\",\"role\":\"assistant\",\"content\":[{\"type\":\"output_tex"
     "t\",\"text\":\"{\\\"summary\\\":\\\"x\\\",\\\"risk\\\":\\\"low\\\"}"
     "\",\"annotations\":[]}]}],\"usage\":{\"input_tokens\":16,\"output_to"
     "kens\":1,\"total_tokens\":17}}}\n\n"},
    {"anth_tool_call",
     "/v1/messages", fx_anth_tools,
     "tool=get_weather args={\"city\":\"Paris\",\"unit\":\"c\"}",
     200,
     "{\"id\":\"msg_sim\",\"type\":\"message\",\"role\":\"assistant\",\"mo"
     "del\":\"claude-sonnet-4-5\",\"content\":[{\"type\":\"tool_use\",\"id"
     "\":\"toolu_sim_1\",\"name\":\"get_weather\",\"input\":{\"city\":\"Pa"
     "ris\",\"unit\":\"c\"}}],\"stop_reason\":\"tool_use\",\"usage\":{\"in"
     "put_tokens\":11,\"output_tokens\":1}}"},
    {"anth_tool_call_stream",
     "/v1/messages", fx_anth_tools_stream,
     "tool=get_weather args={\"city\":\"Paris\",\"unit\":\"c\"}",
     200,
     "event: message_start\ndata: {\"type\":\"message_start\",\"message\":"
     "{\"id\":\"msg_sim\",\"type\":\"message\",\"role\":\"assistant\",\"mo"
     "del\":\"claude-sonnet-4-5\",\"content\":[],\"stop_reason\":null,\"us"
     "age\":{\"input_tokens\":11,\"output_tokens\":0}}}\n\nevent: content_"
     "block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"c"
     "ontent_block\":{\"type\":\"tool_use\",\"id\":\"toolu_sim_1\",\"name"
     "\":\"get_weather\",\"input\":{}}}\n\nevent: content_block_delta\ndat"
     "a: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\""
     ":\"input_json_delta\",\"partial_json\":\"\"}}\n\nevent: content_bloc"
     "k_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta"
     "\":{\"type\":\"input_json_delta\",\"partial_json\":\"{\"}}\n\nevent:"
     " content_block_delta\ndata: {\"type\":\"content_block_delta\",\"inde"
     "x\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\\"
     "\"city\"}}\n\nevent: content_block_delta\ndata: {\"type\":\"content_"
     "block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\","
     "\"partial_json\":\"\\\":\"}}\n\nevent: content_block_delta\ndata: {"
     "\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"i"
     "nput_json_delta\",\"partial_json\":\"\\\"Paris\"}}\n\nevent: content"
     "_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\""
     "delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\\\",\"}}"
     "\n\nevent: content_block_delta\ndata: {\"type\":\"content_block_delt"
     "a\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_j"
     "son\":\"\\\"unit\"}}\n\nevent: content_block_delta\ndata: {\"type\":"
     "\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json"
     "_delta\",\"partial_json\":\"\\\":\"}}\n\nevent: content_block_delta"
     "\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"t"
     "ype\":\"input_json_delta\",\"partial_json\":\"\\\"c\"}}\n\nevent: co"
     "ntent_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\""
     ":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\\\"}"
     "\"}}\n\nevent: content_block_stop\ndata: {\"type\":\"content_block_s"
     "top\",\"index\":0}\n\nevent: message_delta\ndata: {\"type\":\"messag"
     "e_delta\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":"
     "null},\"usage\":{\"output_tokens\":1}}\n\nevent: message_stop\ndata:"
     " {\"type\":\"message_stop\"}\n\n"},
    {"anth_tool_result_gets_text",
     "/v1/messages", fx_anth_tool_result,
     "tool=get_weather args={\"city\":\"Paris\",\"unit\":\"c\"}",
     200,
     "{\"id\":\"msg_sim\",\"type\":\"message\",\"role\":\"assistant\",\"mo"
     "del\":\"claude-sonnet-4-5\",\"content\":[{\"type\":\"text\",\"text\""
     ":\"tool result: {\\\"temp\\\":21}\"}],\"stop_reason\":\"end_turn\","
     "\"usage\":{\"input_tokens\":7,\"output_tokens\":3}}"},
    {"anth_image_base64",
     "/v1/messages", fx_anth_image_base64, NULL,
     200,
     "{\"id\":\"msg_sim\",\"type\":\"message\",\"role\":\"assistant\",\"mo"
     "del\":\"claude-sonnet-4-5\",\"content\":[{\"type\":\"text\",\"text\""
     ":\"echo(claude-sonnet-4-5): What is in this image? [1 attachment: im"
     "age image/png 70 bytes]\"}],\"stop_reason\":\"end_turn\",\"usage\":{"
     "\"input_tokens\":5,\"output_tokens\":12}}"},
    {"anth_image_url",
     "/v1/messages", fx_anth_image_url, NULL,
     200,
     "{\"id\":\"msg_sim\",\"type\":\"message\",\"role\":\"assistant\",\"mo"
     "del\":\"claude-sonnet-4-5\",\"content\":[{\"type\":\"text\",\"text\""
     ":\"echo(claude-sonnet-4-5): What is in this image? [1 attachment: im"
     "age url]\"}],\"stop_reason\":\"end_turn\",\"usage\":{\"input_tokens"
     "\":5,\"output_tokens\":10}}"},
    {"anth_document_base64",
     "/v1/messages", fx_anth_document_base64, NULL,
     200,
     "{\"id\":\"msg_sim\",\"type\":\"message\",\"role\":\"assistant\",\"mo"
     "del\":\"claude-sonnet-4-5\",\"content\":[{\"type\":\"text\",\"text\""
     ":\"echo(claude-sonnet-4-5): Summarize this document. [1 attachment: "
     "file application/pdf 578 bytes]\"}],\"stop_reason\":\"end_turn\",\"u"
     "sage\":{\"input_tokens\":3,\"output_tokens\":10}}"},
    {"anth_forced_tool",
     "/v1/messages", fx_anth_forced_tool, NULL,
     200,
     "{\"id\":\"msg_sim\",\"type\":\"message\",\"role\":\"assistant\",\"mo"
     "del\":\"claude-sonnet-4-5\",\"content\":[{\"type\":\"tool_use\",\"id"
     "\":\"toolu_sim_1\",\"name\":\"verdict\",\"input\":{\"summary\":\"x\""
     ",\"risk\":\"low\"}}],\"stop_reason\":\"tool_use\",\"usage\":{\"input"
     "_tokens\":16,\"output_tokens\":1}}"},
    {"anth_forced_tool_stream",
     "/v1/messages", fx_anth_forced_tool,
     "fault=sse",
     200,
     "event: message_start\ndata: {\"type\":\"message_start\",\"message\":"
     "{\"id\":\"msg_sim\",\"type\":\"message\",\"role\":\"assistant\",\"mo"
     "del\":\"claude-sonnet-4-5\",\"content\":[],\"stop_reason\":null,\"us"
     "age\":{\"input_tokens\":16,\"output_tokens\":0}}}\n\nevent: content_"
     "block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"c"
     "ontent_block\":{\"type\":\"tool_use\",\"id\":\"toolu_sim_1\",\"name"
     "\":\"verdict\",\"input\":{}}}\n\nevent: content_block_delta\ndata: {"
     "\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"i"
     "nput_json_delta\",\"partial_json\":\"\"}}\n\nevent: content_block_de"
     "lta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{"
     "\"type\":\"input_json_delta\",\"partial_json\":\"{\"}}\n\nevent: con"
     "tent_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":"
     "0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\\\"su"
     "mmary\"}}\n\nevent: content_block_delta\ndata: {\"type\":\"content_b"
     "lock_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\",\""
     "partial_json\":\"\\\":\"}}\n\nevent: content_block_delta\ndata: {\"t"
     "ype\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"inpu"
     "t_json_delta\",\"partial_json\":\"\\\"x\"}}\n\nevent: content_block_"
     "delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\""
     ":{\"type\":\"input_json_delta\",\"partial_json\":\"\\\",\"}}\n\neven"
     "t: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"in"
     "dex\":0,\"delta\":{\"type\":\"input_json_delta\",\"partial_json\":\""
     "\\\"risk\"}}\n\nevent: content_block_delta\ndata: {\"type\":\"conten"
     "t_block_delta\",\"index\":0,\"delta\":{\"type\":\"input_json_delta\""
     ",\"partial_json\":\"\\\":\"}}\n\nevent: content_block_delta\ndata: {"
     "\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"i"
     "nput_json_delta\",\"partial_json\":\"\\\"low\"}}\n\nevent: content_b"
     "lock_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"de"
     "lta\":{\"type\":\"input_json_delta\",\"partial_json\":\"\\\"}\"}}\n"
     "\nevent: content_block_stop\ndata: {\"type\":\"content_block_stop\","
     "\"index\":0}\n\nevent: message_delta\ndata: {\"type\":\"message_delt"
     "a\",\"delta\":{\"stop_reason\":\"tool_use\",\"stop_sequence\":null},"
     "\"usage\":{\"output_tokens\":1}}\n\nevent: message_stop\ndata: {\"ty"
     "pe\":\"message_stop\"}\n\n"},
    {"anth_output_config",
     "/v1/messages", fx_anth_output_config, NULL,
     200,
     "{\"id\":\"msg_sim\",\"type\":\"message\",\"role\":\"assistant\",\"mo"
     "del\":\"claude-sonnet-4-5\",\"content\":[{\"type\":\"text\",\"text\""
     ":\"{\\\"summary\\\":\\\"x\\\",\\\"risk\\\":\\\"low\\\"}\"}],\"stop_r"
     "eason\":\"end_turn\",\"usage\":{\"input_tokens\":16,\"output_tokens"
     "\":1}}"},
    {"anth_tool_error",
     "/v1/messages", 
     "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"go\""
     "},{\"role\":\"assistant\",\"content\":[{\"type\":\"tool_use\",\"id\""
     ":\"toolu_1\",\"name\":\"f\",\"input\":{}}]},{\"role\":\"user\",\"con"
     "tent\":[{\"type\":\"tool_result\",\"tool_use_id\":\"toolu_1\",\"cont"
     "ent\":[{\"type\":\"text\",\"text\":\"boom\"}],\"is_error\":true}]}]}",
     NULL,
     200,
     "{\"id\":\"msg_sim\",\"type\":\"message\",\"role\":\"assistant\",\"mo"
     "del\":\"m\",\"content\":[{\"type\":\"text\",\"text\":\"tool error: b"
     "oom\"}],\"stop_reason\":\"end_turn\",\"usage\":{\"input_tokens\":2,"
     "\"output_tokens\":3}}"},
    {"chat_parallel_calls_and_results",
     "/v1/chat/completions", 
     "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"go\\"
     "n@sim tool=a tool=b args={\\\"n\\\": 2}\"},{\"role\":\"assistant\","
     "\"tool_calls\":[]},{\"role\":\"tool\",\"tool_call_id\":\"call_sim_1"
     "\",\"content\":\"one\"},{\"role\":\"tool\",\"tool_call_id\":\"call_s"
     "im_2\",\"content\":[{\"type\":\"text\",\"text\":\"two\"}]}]}", NULL,
     200,
     "{\"id\":\"chatcmpl-sim\",\"object\":\"chat.completion\",\"created\":"
     "0,\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{\"role\":\""
     "assistant\",\"content\":\"tool result: one\\ntool result: two\"},\"f"
     "inish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":3,\"completio"
     "n_tokens\":6,\"total_tokens\":9}}"},
    {"chat_parallel_calls",
     "/v1/chat/completions", 
     "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"go\\"
     "n@sim tool=a tool=b args={\\\"n\\\": 2}\"}]}", NULL,
     200,
     "{\"id\":\"chatcmpl-sim\",\"object\":\"chat.completion\",\"created\":"
     "0,\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{\"role\":\""
     "assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_sim_1\","
     "\"type\":\"function\",\"function\":{\"name\":\"a\",\"arguments\":\"{"
     "}\"}},{\"id\":\"call_sim_2\",\"type\":\"function\",\"function\":{\"n"
     "ame\":\"b\",\"arguments\":\"{\\\"n\\\":2}\"}}]},\"finish_reason\":\""
     "tool_calls\"}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":"
     "2,\"total_tokens\":3}}"},
    {"chat_forced_tool",
     "/v1/chat/completions", 
     "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\""
     "}],\"tools\":[{\"type\":\"function\",\"function\":{\"name\":\"a\",\""
     "parameters\":{\"type\":\"object\",\"properties\":{}}}},{\"type\":\"f"
     "unction\",\"function\":{\"name\":\"b\",\"parameters\":{\"type\":\"ob"
     "ject\",\"properties\":{\"n\":{\"type\":\"integer\",\"minimum\":2.5}}"
     ",\"required\":[\"n\"]}}}],\"tool_choice\":{\"type\":\"function\",\"f"
     "unction\":{\"name\":\"b\"}}}", NULL,
     200,
     "{\"id\":\"chatcmpl-sim\",\"object\":\"chat.completion\",\"created\":"
     "0,\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{\"role\":\""
     "assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_sim_1\","
     "\"type\":\"function\",\"function\":{\"name\":\"b\",\"arguments\":\"{"
     "\\\"n\\\":3}\"}}]},\"finish_reason\":\"tool_calls\"}],\"usage\":{\"p"
     "rompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":2}}"},
    {"resp_required_tool",
     "/v1/responses", 
     "{\"model\":\"m\",\"input\":\"hi\",\"tools\":[{\"type\":\"function\","
     "\"name\":\"a\",\"parameters\":{\"type\":\"object\",\"properties\":{"
     "\"ok\":{\"type\":\"boolean\"}},\"required\":[\"ok\"]},\"strict\":tru"
     "e}],\"tool_choice\":\"required\"}", NULL,
     200,
     "{\"id\":\"resp_sim\",\"object\":\"response\",\"status\":\"completed"
     "\",\"model\":\"m\",\"output\":[{\"type\":\"function_call\",\"id\":\""
     "fc_sim_1\",\"call_id\":\"call_sim_1\",\"name\":\"a\",\"arguments\":"
     "\"{\\\"ok\\\":true}\",\"status\":\"completed\"}],\"usage\":{\"input_"
     "tokens\":1,\"output_tokens\":1,\"total_tokens\":2}}"},
    {"anth_any_tool",
     "/v1/messages", 
     "{\"model\":\"m\",\"max_tokens\":9,\"messages\":[{\"role\":\"user\","
     "\"content\":\"hi\"}],\"tools\":[{\"name\":\"a\",\"input_schema\":{\""
     "type\":\"object\",\"properties\":{\"q\":{\"type\":\"string\",\"minLe"
     "ngth\":3}},\"required\":[\"q\"]}}],\"tool_choice\":{\"type\":\"any\""
     "}}", NULL,
     200,
     "{\"id\":\"msg_sim\",\"type\":\"message\",\"role\":\"assistant\",\"mo"
     "del\":\"m\",\"content\":[{\"type\":\"tool_use\",\"id\":\"toolu_sim_1"
     "\",\"name\":\"a\",\"input\":{\"q\":\"xxx\"}}],\"stop_reason\":\"tool"
     "_use\",\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}"},
    {"forced_unknown_tool_is_400",
     "/v1/chat/completions", 
     "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\""
     "}],\"tool_choice\":{\"type\":\"function\",\"function\":{\"name\":\"n"
     "ope\"}}}", NULL,
     400,
     "{\"error\":{\"message\":\"tool_choice names tool 'nope', which is no"
     "t in tools\",\"type\":\"invalid_request_error\",\"code\":null}}"},
    {"chat_json_object",
     "/v1/chat/completions", 
     "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\""
     "}],\"response_format\":{\"type\":\"json_object\"}}", NULL,
     200,
     "{\"id\":\"chatcmpl-sim\",\"object\":\"chat.completion\",\"created\":"
     "0,\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{\"role\":\""
     "assistant\",\"content\":\"{}\"},\"finish_reason\":\"stop\"}],\"usage"
     "\":{\"prompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":2}}"},
    {"schema_instance_rules",
     "/v1/chat/completions", 
     "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\""
     "}],\"response_format\":{\"type\":\"json_schema\",\"json_schema\":{\""
     "name\":\"s\",\"schema\":{\"type\":\"object\",\"properties\":{\"s\":{"
     "\"type\":\"string\"},\"n\":{\"type\":\"number\"},\"i\":{\"type\":[\""
     "integer\",\"null\"],\"minimum\":1},\"b\":{\"type\":\"boolean\"},\"e"
     "\":{\"enum\":[3,\"x\"]},\"c\":{\"const\":\"k\"},\"a\":{\"type\":\"ar"
     "ray\",\"items\":{\"$ref\":\"#/$defs/item\"}},\"u\":{\"anyOf\":[{\"ty"
     "pe\":\"null\"},{\"type\":\"string\"}]},\"opt\":{\"type\":\"string\"}"
     "},\"required\":[\"s\",\"n\",\"i\",\"b\",\"e\",\"c\",\"a\",\"u\"],\"$"
     "defs\":{\"item\":{\"type\":\"object\",\"properties\":{\"id\":{\"type"
     "\":\"integer\"}},\"required\":[\"id\"]}}}}}}", NULL,
     200,
     "{\"id\":\"chatcmpl-sim\",\"object\":\"chat.completion\",\"created\":"
     "0,\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{\"role\":\""
     "assistant\",\"content\":\"{\\\"s\\\":\\\"x\\\",\\\"n\\\":0,\\\"i\\\""
     ":1,\\\"b\\\":true,\\\"e\\\":3,\\\"c\\\":\\\"k\\\",\\\"a\\\":[{\\\"id"
     "\\\":0}],\\\"u\\\":null}\"},\"finish_reason\":\"stop\"}],\"usage\":{"
     "\"prompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":2}}"},
    {"chat_file_part",
     "/v1/chat/completions", 
     "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":[{\"ty"
     "pe\":\"text\",\"text\":\"read\"},{\"type\":\"image_url\",\"image_url"
     "\":{\"url\":\"https://example.com/a.png\",\"detail\":\"low\"}},{\"ty"
     "pe\":\"file\",\"file\":{\"filename\":\"a.txt\",\"file_data\":\"data:"
     "text/plain;base64,aGVsbG8=\"}},{\"type\":\"file\",\"file\":{\"file_i"
     "d\":\"file-1\"}}]}]}", NULL,
     200,
     "{\"id\":\"chatcmpl-sim\",\"object\":\"chat.completion\",\"created\":"
     "0,\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{\"role\":\""
     "assistant\",\"content\":\"echo(m): read [3 attachments: image url, f"
     "ile text/plain 5 bytes, file file_id]\"},\"finish_reason\":\"stop\"}"
     "],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":12,\"total_to"
     "kens\":13}}"},
    {"bad_args_is_400",
     "/v1/chat/completions", 
     "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\""
     "}]}",
     "tool=f args={\"a\":",
     400,
     "{\"error\":{\"message\":\"bad @sim token 'args={\\\"a\\\":': args= n"
     "eeds a JSON object after a tool= token\",\"type\":\"invalid_request_"
     "error\",\"code\":null}}"},
    {"embeddings_float",
     "/v1/embeddings", 
     "{\"model\":\"e\",\"input\":\"hello\",\"dimensions\":4}", NULL,
     200,
     "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0"
     ",\"embedding\":[0.057,0.869,0.892,0.04]}],\"model\":\"e\",\"usage\":"
     "{\"prompt_tokens\":1,\"total_tokens\":1}}"},
    {"embeddings_default_dims",
     "/v1/embeddings", 
     "{\"input\":[\"a b\",\"@sim times=5\\nc\"]}", NULL,
     200,
     "{\"object\":\"list\",\"data\":[{\"object\":\"embedding\",\"index\":0"
     ",\"embedding\":[0.328,0.067,-0.468,0.527,-0.94,-0.877,0.953,-0.34]},"
     "{\"object\":\"embedding\",\"index\":1,\"embedding\":[0.948,-0.934,-0"
     ".807,-0.834,-0.266,0.776,-0.63,-0.79]}],\"model\":\"\",\"usage\":{\""
     "prompt_tokens\":3,\"total_tokens\":3}}"},
    {"embeddings_bad_input_is_400",
     "/v1/embeddings", 
     "{\"model\":\"e\",\"input\":[1,2]}", NULL,
     400,
     "{\"error\":{\"message\":\"input must be a string or a non-empty arra"
     "y of strings\",\"type\":\"invalid_request_error\",\"code\":null}}"},
    {"embeddings_status",
     "/v1/embeddings", 
     "{\"model\":\"e\",\"input\":\"x\"}",
     "status=503",
     503,
     "{\"error\":{\"message\":\"simulated 503 Service Unavailable\",\"type"
     "\":\"server_error\",\"code\":null}}"},
    {"chat_steps_first",
     "/v1/chat/completions", 
     "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"go\\"
     "n@sim tool=a args={\\\"x\\\":1} then=b\"}]}", NULL,
     200,
     "{\"id\":\"chatcmpl-sim\",\"object\":\"chat.completion\",\"created\":"
     "0,\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{\"role\":\""
     "assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_sim_1\","
     "\"type\":\"function\",\"function\":{\"name\":\"a\",\"arguments\":\"{"
     "\\\"x\\\":1}\"}}]},\"finish_reason\":\"tool_calls\"}],\"usage\":{\"p"
     "rompt_tokens\":1,\"completion_tokens\":1,\"total_tokens\":2}}"},
    {"chat_steps_second",
     "/v1/chat/completions", 
     "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"go\\"
     "n@sim tool=a args={\\\"x\\\":1} then=b\"},{\"role\":\"assistant\",\""
     "tool_calls\":[{\"id\":\"call_sim_1\",\"type\":\"function\",\"functio"
     "n\":{\"name\":\"a\",\"arguments\":\"{\\\"x\\\":1}\"}}]},{\"role\":\""
     "tool\",\"tool_call_id\":\"call_sim_1\",\"content\":\"ra\"}]}", NULL,
     200,
     "{\"id\":\"chatcmpl-sim\",\"object\":\"chat.completion\",\"created\":"
     "0,\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{\"role\":\""
     "assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_sim_2\","
     "\"type\":\"function\",\"function\":{\"name\":\"b\",\"arguments\":\"{"
     "}\"}}]},\"finish_reason\":\"tool_calls\"}],\"usage\":{\"prompt_token"
     "s\":2,\"completion_tokens\":1,\"total_tokens\":3}}"},
    {"chat_steps_done",
     "/v1/chat/completions", 
     "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"go\\"
     "n@sim tool=a args={\\\"x\\\":1} then=b\"},{\"role\":\"assistant\",\""
     "tool_calls\":[{\"id\":\"call_sim_1\",\"type\":\"function\",\"functio"
     "n\":{\"name\":\"a\",\"arguments\":\"{\\\"x\\\":1}\"}}]},{\"role\":\""
     "tool\",\"tool_call_id\":\"call_sim_1\",\"content\":\"ra\"},{\"role\""
     ":\"assistant\",\"tool_calls\":[{\"id\":\"call_sim_2\",\"type\":\"fun"
     "ction\",\"function\":{\"name\":\"b\",\"arguments\":\"{}\"}}]},{\"rol"
     "e\":\"tool\",\"tool_call_id\":\"call_sim_2\",\"content\":\"rb\"}]}", NULL,
     200,
     "{\"id\":\"chatcmpl-sim\",\"object\":\"chat.completion\",\"created\":"
     "0,\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{\"role\":\""
     "assistant\",\"content\":\"tool result: rb\"},\"finish_reason\":\"sto"
     "p\"}],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":3,\"total"
     "_tokens\":6}}"},
    {"chat_steps_repeat",
     "/v1/chat/completions", 
     "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":\"go\\"
     "n@sim tool=a args={\\\"x\\\":1} then=b repeat=true\"},{\"role\":\"as"
     "sistant\",\"tool_calls\":[{\"id\":\"call_sim_1\",\"type\":\"function"
     "\",\"function\":{\"name\":\"a\",\"arguments\":\"{\\\"x\\\":1}\"}}]},"
     "{\"role\":\"tool\",\"tool_call_id\":\"call_sim_1\",\"content\":\"ra"
     "\"},{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"call_sim_2\","
     "\"type\":\"function\",\"function\":{\"name\":\"b\",\"arguments\":\"{"
     "}\"}}]},{\"role\":\"tool\",\"tool_call_id\":\"call_sim_2\",\"content"
     "\":\"rb\"}]}", NULL,
     200,
     "{\"id\":\"chatcmpl-sim\",\"object\":\"chat.completion\",\"created\":"
     "0,\"model\":\"m\",\"choices\":[{\"index\":0,\"message\":{\"role\":\""
     "assistant\",\"content\":null,\"tool_calls\":[{\"id\":\"call_sim_3\","
     "\"type\":\"function\",\"function\":{\"name\":\"b\",\"arguments\":\"{"
     "}\"}}]},\"finish_reason\":\"tool_calls\"}],\"usage\":{\"prompt_token"
     "s\":3,\"completion_tokens\":1,\"total_tokens\":4}}"},
    {"resp_steps_interleaved_results",
     "/v1/responses", 
     "{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":\"go\\n@s"
     "im tool=a tool=b then=c\"},{\"type\":\"function_call\",\"call_id\":"
     "\"call_sim_1\",\"name\":\"a\",\"arguments\":\"{}\"},{\"type\":\"func"
     "tion_call_output\",\"call_id\":\"call_sim_1\",\"output\":\"ra\"},{\""
     "type\":\"function_call\",\"call_id\":\"call_sim_2\",\"name\":\"b\","
     "\"arguments\":\"{}\"},{\"type\":\"function_call_output\",\"call_id\""
     ":\"call_sim_2\",\"output\":\"rb\"}]}", NULL,
     200,
     "{\"id\":\"resp_sim\",\"object\":\"response\",\"status\":\"completed"
     "\",\"model\":\"m\",\"output\":[{\"type\":\"function_call\",\"id\":\""
     "fc_sim_3\",\"call_id\":\"call_sim_3\",\"name\":\"c\",\"arguments\":"
     "\"{}\",\"status\":\"completed\"}],\"usage\":{\"input_tokens\":3,\"ou"
     "tput_tokens\":1,\"total_tokens\":4}}"},
    {"anth_steps_second",
     "/v1/messages", 
     "{\"model\":\"m\",\"max_tokens\":9,\"messages\":[{\"role\":\"user\","
     "\"content\":\"go\\n@sim tool=a then=b\"},{\"role\":\"assistant\",\"c"
     "ontent\":[{\"type\":\"tool_use\",\"id\":\"toolu_sim_1\",\"name\":\"a"
     "\",\"input\":{}}]},{\"role\":\"user\",\"content\":[{\"type\":\"tool_"
     "result\",\"tool_use_id\":\"toolu_sim_1\",\"content\":\"ra\"}]}]}", NULL,
     200,
     "{\"id\":\"msg_sim\",\"type\":\"message\",\"role\":\"assistant\",\"mo"
     "del\":\"m\",\"content\":[{\"type\":\"tool_use\",\"id\":\"toolu_sim_2"
     "\",\"name\":\"b\",\"input\":{}}],\"stop_reason\":\"tool_use\",\"usag"
     "e\":{\"input_tokens\":2,\"output_tokens\":1}}"},
    {"resp_interleaved_results_text",
     "/v1/responses", 
     "{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":\"go\\n@s"
     "im tool=a tool=b\"},{\"type\":\"function_call\",\"call_id\":\"call_s"
     "im_1\",\"name\":\"a\",\"arguments\":\"{}\"},{\"type\":\"function_cal"
     "l_output\",\"call_id\":\"call_sim_1\",\"output\":\"ra\"},{\"type\":"
     "\"function_call\",\"call_id\":\"call_sim_2\",\"name\":\"b\",\"argume"
     "nts\":\"{}\"},{\"type\":\"function_call_output\",\"call_id\":\"call_"
     "sim_2\",\"output\":\"rb\"}]}", NULL,
     200,
     "{\"id\":\"resp_sim\",\"object\":\"response\",\"status\":\"completed"
     "\",\"model\":\"m\",\"output\":[{\"type\":\"message\",\"id\":\"msg_si"
     "m\",\"status\":\"completed\",\"role\":\"assistant\",\"content\":[{\""
     "type\":\"output_text\",\"text\":\"tool result: ra\\ntool result: rb"
     "\",\"annotations\":[]}]}],\"usage\":{\"input_tokens\":3,\"output_tok"
     "ens\":6,\"total_tokens\":9}}"},

};

/* Runs every case whose name starts with prefix; prints each mismatch and
 * returns how many there were. */
static int run_cases(const char *prefix) {
  size_t i;
  int bad = 0, ran = 0;
  for (i = 0; i < sizeof cases / sizeof *cases; i++) {
    const rcase_t *c = &cases[i];
    resp_t r;
    if (strncmp(c->name, prefix, strlen(prefix)) != 0) continue;
    ran++;
    r = post(c->path, c->body, c->xsim);
    if (r.rc != CURLE_OK || r.status != c->status ||
        strcmp(r.body, c->want) != 0) {
      fprintf(stderr,
              "  case %s: status %ld (want %ld)\n    got:      \"%s\"\n"
              "    expected: \"%s\"\n",
              c->name, r.status, c->status, r.body, c->want);
      bad++;
    }
    free(r.body);
  }
  return ran ? bad : -1;
}

TEST(chat_exact_answers) { ASSERT_EQ(run_cases("chat_"), 0); }
TEST(responses_exact_answers) { ASSERT_EQ(run_cases("resp_"), 0); }
TEST(anthropic_exact_answers) { ASSERT_EQ(run_cases("anth_"), 0); }
TEST(forced_tool_choice_errors) { ASSERT_EQ(run_cases("forced_"), 0); }
TEST(schema_instance_rules) { ASSERT_EQ(run_cases("schema_"), 0); }
TEST(bad_args_directive) { ASSERT_EQ(run_cases("bad_"), 0); }
TEST(embeddings_exact_answers) { ASSERT_EQ(run_cases("embeddings_"), 0); }

/* ---- embeddings --------------------------------------------------------- */

static int b64val(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

/* Decodes base64 s into out (cap bytes); returns the byte count. */
static size_t b64decode(const char *s, unsigned char *out, size_t cap) {
  size_t n = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (; *s && *s != '='; s++) {
    int v = b64val(*s);
    if (v < 0) return 0;
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      if (n < cap) out[n] = (unsigned char)((acc >> bits) & 0xff);
      n++;
    }
  }
  return n;
}

/* The SDK's own request (encoding_format base64, 256 dimensions): each
 * vector is 256 little-endian float32 values, the same numbers as the
 * float answer for the same input, each k/1000 with |k| <= 1000. */
TEST(embeddings_base64_as_the_sdk_asks) {
  resp_t r = post("/v1/embeddings", fx_embeddings, NULL), f;
  cJSON *j = cJSON_Parse(r.body), *fj, *data, *item, *usage;
  unsigned char raw[2048];
  int i, k;
  ASSERT_EQ(r.status, 200);
  ASSERT(j != NULL);
  ASSERT_STREQ(cJSON_GetObjectItem(j, "object")->valuestring, "list");
  ASSERT_STREQ(cJSON_GetObjectItem(j, "model")->valuestring,
               "text-embedding-3-small");
  usage = cJSON_GetObjectItem(j, "usage");
  ASSERT_EQ(cJSON_GetObjectItem(usage, "prompt_tokens")->valueint, 2);
  ASSERT_EQ(cJSON_GetObjectItem(usage, "total_tokens")->valueint, 2);
  data = cJSON_GetObjectItem(j, "data");
  ASSERT_EQ(cJSON_GetArraySize(data), 2);
  for (i = 0; i < 2; i++) {
    const char *word = i == 0 ? "hello" : "world";
    char body[128];
    cJSON *vec;
    item = cJSON_GetArrayItem(data, i);
    ASSERT_STREQ(cJSON_GetObjectItem(item, "object")->valuestring,
                 "embedding");
    ASSERT_EQ(cJSON_GetObjectItem(item, "index")->valueint, i);
    ASSERT_EQ(b64decode(cJSON_GetObjectItem(item, "embedding")->valuestring,
                        raw, sizeof raw),
              1024);
    snprintf(body, sizeof body,
             "{\"model\":\"e\",\"input\":\"%s\",\"dimensions\":256}", word);
    f = post("/embeddings", body, NULL);
    fj = cJSON_Parse(f.body);
    free(f.body);
    ASSERT(fj != NULL);
    vec = cJSON_GetObjectItem(cJSON_GetArrayItem(cJSON_GetObjectItem(fj,
                                                                     "data"),
                                                 0),
                              "embedding");
    ASSERT_EQ(cJSON_GetArraySize(vec), 256);
    for (k = 0; k < 256; k++) {
      float got;
      uint32_t u = (uint32_t)raw[k * 4] | (uint32_t)raw[k * 4 + 1] << 8 |
                   (uint32_t)raw[k * 4 + 2] << 16 |
                   (uint32_t)raw[k * 4 + 3] << 24;
      double want = cJSON_GetArrayItem(vec, k)->valuedouble;
      memcpy(&got, &u, 4);
      if (got != (float)want || fabs(want * 1000 - round(want * 1000)) > 1e-9 ||
          fabs(want) > 1.0) {
        cJSON_Delete(fj);
        cJSON_Delete(j);
        free(r.body);
        TEST__FAIL("%s[%d]: %.9g vs %.9g", word, k, (double)got, want);
      }
    }
    cJSON_Delete(fj);
  }
  cJSON_Delete(j);
  free(r.body);
}

/* The same input gives the same vector in every request; its first
 * components do not depend on the dimensions asked for. */
TEST(embeddings_are_deterministic) {
  resp_t a = post("/v1/embeddings", "{\"input\":\"same text\"}", NULL);
  resp_t b = post("/v1/embeddings", "{\"input\":[\"same text\"]}", NULL);
  resp_t c = post("/v1/embeddings",
                  "{\"input\":\"same text\",\"dimensions\":2}", NULL);
  resp_t d = post("/v1/embeddings", "{\"input\":\"other text\"}", NULL);
  char prefix[64];
  const char *p = strstr(a.body, "\"embedding\":[");
  const char *comma;
  ASSERT(p != NULL);
  ASSERT_STREQ(a.body, b.body);
  comma = strchr(strchr(p, ',') + 1, ',');
  snprintf(prefix, sizeof prefix, "%.*s]", (int)(comma - p), p);
  ASSERT_CONTAINS(c.body, prefix);
  ASSERT(strcmp(a.body, d.body) != 0);
  free(a.body);
  free(b.body);
  free(c.body);
  free(d.body);
}

TEST(embeddings_bad_dimensions_and_stats) {
  resp_t r = post("/v1/embeddings", "{\"input\":\"x\",\"dimensions\":0}", NULL);
  char *stats;
  ASSERT_EQ(r.status, 400);
  ASSERT_STREQ(r.body,
               "{\"error\":{\"message\":\"dimensions must be an integer from "
               "1 to 65536\",\"type\":\"invalid_request_error\",\"code\":"
               "null}}");
  free(r.body);
  stats = sim_get(&g_sim, "/_sim/stats");
  ASSERT_CONTAINS(stats, "\"/v1/embeddings\":");
  free(stats);
}

/* ---- mid-stream faults on tool-call streams ----------------------------- */

/* after=2: the opening chunk and two argument pieces, then the end. */
TEST(sse_cut_after_argument_pieces) {
  resp_t r = post(CHAT, fx_chat_tools_stream,
                  "tool=get_weather args={\"city\":\"Paris\"} fault=sse_cut "
                  "after=2");
  static const char tail[] =
      "\"choices\":[{\"index\":0,\"delta\":{\"tool_calls\":[{\"index\":0,"
      "\"function\":{\"arguments\":\"\\\"city\"}}]},\"finish_reason\":null}"
      "]}\n\n";
  ASSERT_EQ(r.status, 200);
  ASSERT_CONTAINS(r.body, "\"arguments\":\"{\"");
  ASSERT_NOT_CONTAINS(r.body, "[DONE]");
  ASSERT(r.len > sizeof tail);
  ASSERT_STREQ(r.body + r.len - (sizeof tail - 1), tail);
  free(r.body);
}

TEST(sse_error_after_argument_pieces) {
  resp_t r = post("/v1/messages", fx_anth_tools_stream,
                  "tool=get_weather args={\"city\":\"Paris\"} fault=sse_error "
                  "after=1 error_status=529");
  static const char tail[] =
      "event: content_block_delta\ndata: {\"type\":\"content_block_delta\","
      "\"index\":0,\"delta\":{\"type\":\"input_json_delta\","
      "\"partial_json\":\"\"}}\n\nevent: error\ndata: {\"type\":\"error\","
      "\"error\":{\"type\":\"overloaded_error\",\"message\":\"simulated 529 "
      "Overloaded\"}}\n\n";
  ASSERT_EQ(r.status, 200);
  ASSERT(r.len > sizeof tail);
  ASSERT_STREQ(r.body + r.len - (sizeof tail - 1), tail);
  free(r.body);
}

/* ---- an end-to-end tool loop per format --------------------------------- */

/* What a client makes of an answer: the first tool call (id, name,
 * arguments) and the text, from JSON or from the assembled stream. */
typedef struct seen {
  char id[64], name[64], args[256], text[256];
} seen_t;

static void cat(char *dst, size_t cap, const char *s) {
  if (s) strncat(dst, s, cap - strlen(dst) - 1);
}

static void copy(char *dst, size_t cap, const cJSON *s) {
  if (cJSON_IsString(s)) snprintf(dst, cap, "%s", s->valuestring);
}

#define ITEM(o, k) cJSON_GetObjectItem((o), (k))

/* One answer object or stream event of format f ('r', 'c', 'a'). */
static void see(seen_t *s, char f, const cJSON *j) {
  const char *type = cJSON_GetStringValue(ITEM(j, "type"));
  const cJSON *x;
  if (f == 'r') {
    x = ITEM(j, "output") ? cJSON_GetArrayItem(ITEM(j, "output"), 0) : NULL;
    if (!type && x && strcmp(cJSON_GetStringValue(ITEM(x, "type")),
                             "function_call") == 0) {
      copy(s->id, sizeof s->id, ITEM(x, "call_id"));
      copy(s->name, sizeof s->name, ITEM(x, "name"));
      copy(s->args, sizeof s->args, ITEM(x, "arguments"));
    } else if (!type && x) {
      copy(s->text, sizeof s->text,
           ITEM(cJSON_GetArrayItem(ITEM(x, "content"), 0), "text"));
    } else if (type && strcmp(type, "response.output_item.added") == 0) {
      copy(s->id, sizeof s->id, ITEM(ITEM(j, "item"), "call_id"));
      copy(s->name, sizeof s->name, ITEM(ITEM(j, "item"), "name"));
    } else if (type &&
               strcmp(type, "response.function_call_arguments.delta") == 0) {
      cat(s->args, sizeof s->args, cJSON_GetStringValue(ITEM(j, "delta")));
    } else if (type && strcmp(type, "response.output_text.delta") == 0) {
      cat(s->text, sizeof s->text, cJSON_GetStringValue(ITEM(j, "delta")));
    }
  } else if (f == 'c') {
    const cJSON *ch = cJSON_GetArrayItem(ITEM(j, "choices"), 0);
    const cJSON *m = ITEM(ch, "message") ? ITEM(ch, "message")
                                         : ITEM(ch, "delta");
    const cJSON *tc = cJSON_GetArrayItem(ITEM(m, "tool_calls"), 0);
    if (tc) {
      copy(s->id, sizeof s->id, ITEM(tc, "id"));
      copy(s->name, sizeof s->name, ITEM(ITEM(tc, "function"), "name"));
      cat(s->args, sizeof s->args,
          cJSON_GetStringValue(ITEM(ITEM(tc, "function"), "arguments")));
    }
    cat(s->text, sizeof s->text, cJSON_GetStringValue(ITEM(m, "content")));
  } else {
    const cJSON *c0 = cJSON_GetArrayItem(ITEM(j, "content"), 0);
    const cJSON *cb = ITEM(j, "content_block"), *d = ITEM(j, "delta");
    if (!type || strcmp(type, "message") == 0) {
      if (c0 && strcmp(cJSON_GetStringValue(ITEM(c0, "type")),
                       "tool_use") == 0) {
        char *in = cJSON_PrintUnformatted(ITEM(c0, "input"));
        copy(s->id, sizeof s->id, ITEM(c0, "id"));
        copy(s->name, sizeof s->name, ITEM(c0, "name"));
        cat(s->args, sizeof s->args, in);
        cJSON_free(in);
      } else if (c0) {
        copy(s->text, sizeof s->text, ITEM(c0, "text"));
      }
    } else if (strcmp(type, "content_block_start") == 0 &&
               strcmp(cJSON_GetStringValue(ITEM(cb, "type")), "tool_use") ==
                   0) {
      copy(s->id, sizeof s->id, ITEM(cb, "id"));
      copy(s->name, sizeof s->name, ITEM(cb, "name"));
    } else if (strcmp(type, "content_block_delta") == 0) {
      cat(s->args, sizeof s->args,
          cJSON_GetStringValue(ITEM(d, "partial_json")));
      cat(s->text, sizeof s->text, cJSON_GetStringValue(ITEM(d, "text")));
    }
  }
}

/* Reads an answer body: one JSON object, or the "data:" lines of a
 * stream. */
static void see_body(seen_t *s, char f, const char *body) {
  const char *p = body;
  memset(s, 0, sizeof *s);
  if (*body == '{') {
    cJSON *j = cJSON_Parse(body);
    see(s, f, j);
    cJSON_Delete(j);
    return;
  }
  while ((p = strstr(p, "data: ")) != NULL) {
    const char *end = strchr(p, '\n');
    char *line;
    cJSON *j;
    p += 6;
    line = end ? strndup(p, (size_t)(end - p)) : strdup(p);
    j = cJSON_Parse(line);
    if (j) see(s, f, j);
    cJSON_Delete(j);
    free(line);
  }
}

/* The request, then its continuation carrying the tool result: a call
 * to get_weather with the directive's arguments, then text holding the
 * result, the directive still in the history. */
static int tool_loop(char f, int stream, char *err, size_t errcap) {
  static const char user[] =
      "Weather in Paris?\\n@sim tool=get_weather args={\\\"city\\\": "
      "\\\"Paris\\\"}";
  const char *path = f == 'r' ? "/v1/responses"
                     : f == 'c' ? CHAT : "/v1/messages";
  const char *st = stream ? ",\"stream\":true" : "";
  char body[2048];
  seen_t s1, s2;
  resp_t r;
  if (f == 'r')
    snprintf(body, sizeof body,
             "{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":"
             "\"%s\"}]%s}", user, st);
  else
    snprintf(body, sizeof body,
             "{\"model\":\"m\",\"max_tokens\":100,\"messages\":[{\"role\":"
             "\"user\",\"content\":\"%s\"}]%s}", user, st);
  r = post(path, body, NULL);
  see_body(&s1, f, r.body);
  free(r.body);
  if (strcmp(s1.name, "get_weather") != 0 ||
      strcmp(s1.args, "{\"city\":\"Paris\"}") != 0 || !*s1.id) {
    snprintf(err, errcap, "first step: id '%s' name '%s' args '%s'", s1.id,
             s1.name, s1.args);
    return -1;
  }
  if (f == 'r')
    snprintf(body, sizeof body,
             "{\"model\":\"m\",\"input\":[{\"role\":\"user\",\"content\":"
             "\"%s\"},{\"type\":\"function_call\",\"call_id\":\"%s\","
             "\"name\":\"get_weather\",\"arguments\":"
             "\"{\\\"city\\\":\\\"Paris\\\"}\"},{\"type\":"
             "\"function_call_output\",\"call_id\":\"%s\",\"output\":"
             "\"21 C\"}]%s}", user, s1.id, s1.id, st);
  else if (f == 'c')
    snprintf(body, sizeof body,
             "{\"model\":\"m\",\"messages\":[{\"role\":\"user\",\"content\":"
             "\"%s\"},{\"role\":\"assistant\",\"tool_calls\":[{\"id\":\"%s\","
             "\"type\":\"function\",\"function\":{\"name\":\"get_weather\","
             "\"arguments\":\"{\\\"city\\\":\\\"Paris\\\"}\"}}]},{\"role\":"
             "\"tool\",\"tool_call_id\":\"%s\",\"content\":\"21 C\"}]%s}",
             user, s1.id, s1.id, st);
  else
    snprintf(body, sizeof body,
             "{\"model\":\"m\",\"max_tokens\":100,\"messages\":[{\"role\":"
             "\"user\",\"content\":\"%s\"},{\"role\":\"assistant\","
             "\"content\":[{\"type\":\"tool_use\",\"id\":\"%s\",\"name\":"
             "\"get_weather\",\"input\":{\"city\":\"Paris\"}}]},{\"role\":"
             "\"user\",\"content\":[{\"type\":\"tool_result\",\"tool_use_id\":"
             "\"%s\",\"content\":\"21 C\"}]}]%s}", user, s1.id, s1.id, st);
  r = post(path, body, NULL);
  see_body(&s2, f, r.body);
  free(r.body);
  if (strcmp(s2.text, "tool result: 21 C") != 0 || *s2.name) {
    snprintf(err, errcap, "second step: text '%s' name '%s'", s2.text,
             s2.name);
    return -1;
  }
  return 0;
}

TEST(tool_loop_completes_per_format) {
  const char *formats = "rca";
  char err[512];
  int i, stream;
  for (i = 0; formats[i]; i++)
    for (stream = 0; stream <= 1; stream++)
      if (tool_loop(formats[i], stream, err, sizeof err) != 0)
        TEST__FAIL("format %c stream %d: %s", formats[i], stream, err);
}

/* ---- a program of its own ----------------------------------------------- */

/* The simulator links none of the library's code: no lgw symbol. */
TEST(simulator_has_no_library_symbols) {
  const char *bin = getenv("LLMGATEWAY_SIM");
  const char *build = getenv("LLMGATEWAY_BUILD");
  char path[512], cmd[600], line[512];
  FILE *p;
  int symbols = 0, lgw = 0;
  if (bin && *bin)
    snprintf(path, sizeof path, "%s", bin);
  else
    snprintf(path, sizeof path, "%s/llmgateway-sim",
             build && *build ? build : "build");
  snprintf(cmd, sizeof cmd, "nm '%s' 2>/dev/null", path);
  if (!(p = popen(cmd, "r"))) TEST__FAIL("cannot run nm");
  while (fgets(line, sizeof line, p)) {
    symbols++;
    if (strstr(line, "lgw") || strstr(line, "LGW")) lgw++;
  }
  pclose(p);
  if (symbols == 0) {
    fprintf(stderr, "  (nm unavailable or binary stripped: skipped)\n");
    return;
  }
  ASSERT_EQ(lgw, 0);
}

int main(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  if (sim_start(&g_sim, NULL) != 0) {
    fprintf(stderr, "cannot start the simulator (build it first)\n");
    printf("RESULT 0 1\n");
    return 1;
  }
  RUN(chat_exact_answers);
  RUN(responses_exact_answers);
  RUN(anthropic_exact_answers);
  RUN(forced_tool_choice_errors);
  RUN(schema_instance_rules);
  RUN(bad_args_directive);
  RUN(embeddings_exact_answers);
  RUN(embeddings_base64_as_the_sdk_asks);
  RUN(embeddings_are_deterministic);
  RUN(embeddings_bad_dimensions_and_stats);
  RUN(sse_cut_after_argument_pieces);
  RUN(sse_error_after_argument_pieces);
  RUN(tool_loop_completes_per_format);
  RUN(simulator_has_no_library_symbols);
  sim_stop(&g_sim);
  curl_global_cleanup();
  return TEST_SUMMARY();
}
