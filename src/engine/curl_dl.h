/*
 * curl_dl.h -- libcurl, loaded when it is first needed. The library (and
 * the ~30 libraries it depends on: TLS, HTTP/2, IDN, LDAP ...) is opened
 * with dlopen by lgw__curl_load, so a program that never creates a
 * gateway never pays for loading and relocating it. Included after
 * <curl/curl.h> by the engine's libcurl user: every curl_* call below
 * goes through the table lgw__curl_load fills. Each entry point that may
 * be the first use of libcurl calls lgw__curl_load first; the others
 * work on handles that exist only after it.
 */
#ifndef LGW_CURL_DL_H
#define LGW_CURL_DL_H

#include <curl/curl.h>

#define LGW__CURL_FUNCS(X)                                                   \
  X(CURLcode, global_init, (long))                                           \
  X(CURL *, easy_init, (void))                                               \
  X(void, easy_cleanup, (CURL *))                                            \
  X(CURLcode, easy_setopt, (CURL *, CURLoption, ...))                        \
  X(CURLcode, easy_getinfo, (CURL *, CURLINFO, ...))                         \
  X(const char *, easy_strerror, (CURLcode))                                 \
  X(void, free, (void *))                                                    \
  X(CURLM *, multi_init, (void))                                             \
  X(CURLMcode, multi_cleanup, (CURLM *))                                     \
  X(CURLMcode, multi_setopt, (CURLM *, CURLMoption, ...))                    \
  X(CURLMcode, multi_add_handle, (CURLM *, CURL *))                          \
  X(CURLMcode, multi_remove_handle, (CURLM *, CURL *))                       \
  X(CURLMcode, multi_assign, (CURLM *, curl_socket_t, void *))               \
  X(CURLMsg *, multi_info_read, (CURLM *, int *))                            \
  X(CURLMcode, multi_socket_action, (CURLM *, curl_socket_t, int, int *))    \
  X(const char *, multi_strerror, (CURLMcode))                               \
  X(CURLSH *, share_init, (void))                                            \
  X(CURLSHcode, share_cleanup, (CURLSH *))                                   \
  X(CURLSHcode, share_setopt, (CURLSH *, CURLSHoption, ...))                 \
  X(struct curl_slist *, slist_append, (struct curl_slist *, const char *))  \
  X(void, slist_free_all, (struct curl_slist *))                             \
  X(CURLU *, url, (void))                                                    \
  X(void, url_cleanup, (CURLU *))                                            \
  X(CURLUcode, url_set, (CURLU *, CURLUPart, const char *, unsigned int))    \
  X(CURLUcode, url_get, (CURLU *, CURLUPart, char **, unsigned int))

typedef struct lgw__curl_api {
#define LGW__CURL_FIELD(ret, name, args) ret(*name) args;
  LGW__CURL_FUNCS(LGW__CURL_FIELD)
#undef LGW__CURL_FIELD
} lgw__curl_api_t;

extern lgw__curl_api_t lgw__curl;

/* Opens libcurl and calls curl_global_init, once per process (thread-
 * safe). 0, or -1 with the reason in lgw__curl_error(). */
int lgw__curl_load(void);
const char *lgw__curl_error(void);

/* The calls of the engine go through the table. */
#undef curl_easy_setopt
#undef curl_easy_getinfo
#undef curl_share_setopt
#undef curl_multi_setopt
#define curl_easy_init (lgw__curl.easy_init)
#define curl_easy_cleanup (lgw__curl.easy_cleanup)
#define curl_easy_setopt (lgw__curl.easy_setopt)
#define curl_easy_getinfo (lgw__curl.easy_getinfo)
#define curl_easy_strerror (lgw__curl.easy_strerror)
#define curl_free (lgw__curl.free)
#define curl_multi_init (lgw__curl.multi_init)
#define curl_multi_cleanup (lgw__curl.multi_cleanup)
#define curl_multi_setopt (lgw__curl.multi_setopt)
#define curl_multi_add_handle (lgw__curl.multi_add_handle)
#define curl_multi_remove_handle (lgw__curl.multi_remove_handle)
#define curl_multi_assign (lgw__curl.multi_assign)
#define curl_multi_info_read (lgw__curl.multi_info_read)
#define curl_multi_socket_action (lgw__curl.multi_socket_action)
#define curl_multi_strerror (lgw__curl.multi_strerror)
#define curl_share_init (lgw__curl.share_init)
#define curl_share_cleanup (lgw__curl.share_cleanup)
#define curl_share_setopt (lgw__curl.share_setopt)
#define curl_slist_append (lgw__curl.slist_append)
#define curl_slist_free_all (lgw__curl.slist_free_all)
#define curl_url (lgw__curl.url)
#define curl_url_cleanup (lgw__curl.url_cleanup)
#define curl_url_set (lgw__curl.url_set)
#define curl_url_get (lgw__curl.url_get)

#endif
