/*
 * cjson_dl.h -- libcjson, loaded when it is first needed. The library is
 * opened with dlopen by lgw__cjson_load, so loading llmgateway (require
 * "llmgateway", a C program that never reads JSON) does not map and
 * relocate it. Included instead of <cJSON.h> by the library's sources
 * (core, wire, gateway): every cJSON_* call below goes through the table.
 * The public entry points that reach cJSON (lgw_json_*, configuration
 * and provider-state loading, gateway creation) call lgw__cjson_load
 * first and fail with its message, naming the library; any other first
 * call lands in a stub of the table that loads the library and goes on,
 * or, when it cannot be loaded, prints that message and aborts (never a
 * NULL read as "invalid JSON" or "out of memory"). A tree made by the
 * program's own cJSON (the same library) can be given to the library
 * before it loaded anything.
 */
#ifndef LGW_CJSON_DL_H
#define LGW_CJSON_DL_H

#include <cJSON.h>
#include <stddef.h>

/* X(return type, name, parameters, arguments) for each function the
 * library calls; V(name, parameters, arguments) for those returning
 * nothing */
#define LGW__CJSON_FUNCS(X, V)                                               \
  X(cJSON *, ParseWithLength, (const char *a, size_t b), (a, b))             \
  X(cJSON *, ParseWithOpts, (const char *a, const char **b, cJSON_bool c),   \
    (a, b, c))                                                               \
  X(cJSON *, ParseWithLengthOpts,                                            \
    (const char *a, size_t b, const char **c, cJSON_bool d), (a, b, c, d))   \
  X(char *, PrintUnformatted, (const cJSON *a), (a))                         \
  V(Delete, (cJSON *a), (a))                                                 \
  X(int, GetArraySize, (const cJSON *a), (a))                                \
  X(cJSON *, GetArrayItem, (const cJSON *a, int b), (a, b))                  \
  X(cJSON *, GetObjectItemCaseSensitive,                                     \
    (const cJSON *const a, const char *const b), (a, b))                     \
  X(cJSON_bool, IsFalse, (const cJSON *const a), (a))                        \
  X(cJSON_bool, IsTrue, (const cJSON *const a), (a))                         \
  X(cJSON_bool, IsBool, (const cJSON *const a), (a))                         \
  X(cJSON_bool, IsNull, (const cJSON *const a), (a))                         \
  X(cJSON_bool, IsNumber, (const cJSON *const a), (a))                       \
  X(cJSON_bool, IsString, (const cJSON *const a), (a))                       \
  X(cJSON_bool, IsArray, (const cJSON *const a), (a))                        \
  X(cJSON_bool, IsObject, (const cJSON *const a), (a))                       \
  X(cJSON *, CreateNull, (void), ())                                         \
  X(cJSON *, CreateTrue, (void), ())                                         \
  X(cJSON *, CreateFalse, (void), ())                                        \
  X(cJSON *, CreateBool, (cJSON_bool a), (a))                                \
  X(cJSON *, CreateNumber, (double a), (a))                                  \
  X(cJSON *, CreateString, (const char *a), (a))                             \
  X(cJSON *, CreateArray, (void), ())                                        \
  X(cJSON *, CreateObject, (void), ())                                       \
  X(cJSON_bool, AddItemToArray, (cJSON *a, cJSON *b), (a, b))                \
  X(cJSON_bool, AddItemToObject, (cJSON *a, const char *b, cJSON *c),        \
    (a, b, c))                                                               \
  X(cJSON *, AddStringToObject,                                              \
    (cJSON *const a, const char *const b, const char *const c), (a, b, c))   \
  X(cJSON *, AddNumberToObject,                                              \
    (cJSON *const a, const char *const b, const double c), (a, b, c))        \
  X(cJSON *, AddNullToObject, (cJSON *const a, const char *const b), (a, b)) \
  X(cJSON *, AddObjectToObject, (cJSON *const a, const char *const b),       \
    (a, b))                                                                  \
  X(cJSON *, AddArrayToObject, (cJSON *const a, const char *const b),        \
    (a, b))                                                                  \
  V(DeleteItemFromObjectCaseSensitive, (cJSON *a, const char *b), (a, b))    \
  X(cJSON *, Duplicate, (const cJSON *a, cJSON_bool b), (a, b))              \
  X(cJSON_bool, ReplaceItemViaPointer,                                       \
    (cJSON *const a, cJSON *const b, cJSON *c), (a, b, c))                   \
  X(cJSON *, DetachItemViaPointer, (cJSON *a, cJSON *const b), (a, b))       \
  V(InitHooks, (cJSON_Hooks *a), (a))                                        \
  X(void *, malloc, (size_t a), (a))                                         \
  V(free, (void *a), (a))

typedef struct lgw__cjson_api {
#define LGW__CJSON_FIELD(ret, name, params, args) ret(*name) params;
#define LGW__CJSON_VFIELD(name, params, args) void(*name) params;
  LGW__CJSON_FUNCS(LGW__CJSON_FIELD, LGW__CJSON_VFIELD)
#undef LGW__CJSON_FIELD
#undef LGW__CJSON_VFIELD
} lgw__cjson_api_t;

extern lgw__cjson_api_t lgw__cjson;

/* Opens libcjson, once per process (thread-safe). 0, or -1 with the
 * reason, naming the library, in lgw__cjson_error(). */
int lgw__cjson_load(void);
const char *lgw__cjson_error(void);

/* cJSON_InitHooks, kept until the library is loaded (lgw_set_allocator
 * must not load it) */
void lgw__cjson_hooks(cJSON_Hooks *hooks);

#ifndef LGW__CJSON_DL_IMPL
#define cJSON_ParseWithLength (lgw__cjson.ParseWithLength)
#define cJSON_ParseWithOpts (lgw__cjson.ParseWithOpts)
#define cJSON_ParseWithLengthOpts (lgw__cjson.ParseWithLengthOpts)
#define cJSON_PrintUnformatted (lgw__cjson.PrintUnformatted)
#define cJSON_Delete (lgw__cjson.Delete)
#define cJSON_GetArraySize (lgw__cjson.GetArraySize)
#define cJSON_GetArrayItem (lgw__cjson.GetArrayItem)
#define cJSON_GetObjectItemCaseSensitive (lgw__cjson.GetObjectItemCaseSensitive)
#define cJSON_IsFalse (lgw__cjson.IsFalse)
#define cJSON_IsTrue (lgw__cjson.IsTrue)
#define cJSON_IsBool (lgw__cjson.IsBool)
#define cJSON_IsNull (lgw__cjson.IsNull)
#define cJSON_IsNumber (lgw__cjson.IsNumber)
#define cJSON_IsString (lgw__cjson.IsString)
#define cJSON_IsArray (lgw__cjson.IsArray)
#define cJSON_IsObject (lgw__cjson.IsObject)
#define cJSON_CreateNull (lgw__cjson.CreateNull)
#define cJSON_CreateTrue (lgw__cjson.CreateTrue)
#define cJSON_CreateFalse (lgw__cjson.CreateFalse)
#define cJSON_CreateBool (lgw__cjson.CreateBool)
#define cJSON_CreateNumber (lgw__cjson.CreateNumber)
#define cJSON_CreateString (lgw__cjson.CreateString)
#define cJSON_CreateArray (lgw__cjson.CreateArray)
#define cJSON_CreateObject (lgw__cjson.CreateObject)
#define cJSON_AddItemToArray (lgw__cjson.AddItemToArray)
#define cJSON_AddItemToObject (lgw__cjson.AddItemToObject)
#define cJSON_AddStringToObject (lgw__cjson.AddStringToObject)
#define cJSON_AddNumberToObject (lgw__cjson.AddNumberToObject)
#define cJSON_AddNullToObject (lgw__cjson.AddNullToObject)
#define cJSON_AddObjectToObject (lgw__cjson.AddObjectToObject)
#define cJSON_AddArrayToObject (lgw__cjson.AddArrayToObject)
#define cJSON_DeleteItemFromObjectCaseSensitive \
  (lgw__cjson.DeleteItemFromObjectCaseSensitive)
#define cJSON_Duplicate (lgw__cjson.Duplicate)
#define cJSON_ReplaceItemViaPointer (lgw__cjson.ReplaceItemViaPointer)
#define cJSON_DetachItemViaPointer (lgw__cjson.DetachItemViaPointer)
#define cJSON_InitHooks (lgw__cjson.InitHooks)
#define cJSON_malloc (lgw__cjson.malloc)
#define cJSON_free (lgw__cjson.free)
#endif

#endif
