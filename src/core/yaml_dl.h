/*
 * yaml_dl.h -- libyaml, loaded when it is first needed. The library is
 * opened with dlopen by lgw__yaml_load_lib (by the soname of the libyaml
 * the library was built against), so a program that never reads or
 * writes YAML (a configuration given as a table, JSON, or none) does not
 * map it. Included after <yaml.h> by its only user, yaml_load.c: every
 * yaml_* call below goes through the table lgw__yaml_load_lib fills.
 * Each entry point of yaml_load.c calls lgw__yaml_load_lib first.
 */
#ifndef LGW_YAML_DL_H
#define LGW_YAML_DL_H

#include <yaml.h>

#define LGW__YAML_FUNCS(X)                                                   \
  X(int, parser_initialize, (yaml_parser_t *))                               \
  X(void, parser_delete, (yaml_parser_t *))                                  \
  X(void, parser_set_input_string,                                           \
    (yaml_parser_t *, const unsigned char *, size_t))                        \
  X(int, parser_parse, (yaml_parser_t *, yaml_event_t *))                    \
  X(void, event_delete, (yaml_event_t *))                                    \
  X(int, emitter_initialize, (yaml_emitter_t *))                             \
  X(void, emitter_delete, (yaml_emitter_t *))                                \
  X(void, emitter_set_output,                                                \
    (yaml_emitter_t *, yaml_write_handler_t *, void *))                      \
  X(void, emitter_set_unicode, (yaml_emitter_t *, int))                      \
  X(void, emitter_set_indent, (yaml_emitter_t *, int))                       \
  X(void, emitter_set_width, (yaml_emitter_t *, int))                        \
  X(int, emitter_emit, (yaml_emitter_t *, yaml_event_t *))                   \
  X(int, emitter_flush, (yaml_emitter_t *))                                  \
  X(int, stream_start_event_initialize, (yaml_event_t *, yaml_encoding_t))   \
  X(int, stream_end_event_initialize, (yaml_event_t *))                      \
  X(int, document_start_event_initialize,                                    \
    (yaml_event_t *, yaml_version_directive_t *, yaml_tag_directive_t *,     \
     yaml_tag_directive_t *, int))                                           \
  X(int, document_end_event_initialize, (yaml_event_t *, int))               \
  X(int, scalar_event_initialize,                                            \
    (yaml_event_t *, const yaml_char_t *, const yaml_char_t *,               \
     const yaml_char_t *, int, int, int, yaml_scalar_style_t))               \
  X(int, sequence_start_event_initialize,                                    \
    (yaml_event_t *, const yaml_char_t *, const yaml_char_t *, int,          \
     yaml_sequence_style_t))                                                 \
  X(int, sequence_end_event_initialize, (yaml_event_t *))                    \
  X(int, mapping_start_event_initialize,                                     \
    (yaml_event_t *, const yaml_char_t *, const yaml_char_t *, int,          \
     yaml_mapping_style_t))                                                  \
  X(int, mapping_end_event_initialize, (yaml_event_t *))

typedef struct lgw__yaml_api {
#define LGW__YAML_FIELD(ret, name, args) ret(*name) args;
  LGW__YAML_FUNCS(LGW__YAML_FIELD)
#undef LGW__YAML_FIELD
} lgw__yaml_api_t;

extern lgw__yaml_api_t lgw__yaml;

/* Opens libyaml, once per process (thread-safe). 0, or -1 with the
 * reason, naming the library, in lgw__yaml_lib_error(). */
int lgw__yaml_load_lib(void);
const char *lgw__yaml_lib_error(void);

#ifndef LGW__YAML_DL_IMPL
#define yaml_parser_initialize (lgw__yaml.parser_initialize)
#define yaml_parser_delete (lgw__yaml.parser_delete)
#define yaml_parser_set_input_string (lgw__yaml.parser_set_input_string)
#define yaml_parser_parse (lgw__yaml.parser_parse)
#define yaml_event_delete (lgw__yaml.event_delete)
#define yaml_emitter_initialize (lgw__yaml.emitter_initialize)
#define yaml_emitter_delete (lgw__yaml.emitter_delete)
#define yaml_emitter_set_output (lgw__yaml.emitter_set_output)
#define yaml_emitter_set_unicode (lgw__yaml.emitter_set_unicode)
#define yaml_emitter_set_indent (lgw__yaml.emitter_set_indent)
#define yaml_emitter_set_width (lgw__yaml.emitter_set_width)
#define yaml_emitter_emit (lgw__yaml.emitter_emit)
#define yaml_emitter_flush (lgw__yaml.emitter_flush)
#define yaml_stream_start_event_initialize \
  (lgw__yaml.stream_start_event_initialize)
#define yaml_stream_end_event_initialize (lgw__yaml.stream_end_event_initialize)
#define yaml_document_start_event_initialize \
  (lgw__yaml.document_start_event_initialize)
#define yaml_document_end_event_initialize \
  (lgw__yaml.document_end_event_initialize)
#define yaml_scalar_event_initialize (lgw__yaml.scalar_event_initialize)
#define yaml_sequence_start_event_initialize \
  (lgw__yaml.sequence_start_event_initialize)
#define yaml_sequence_end_event_initialize \
  (lgw__yaml.sequence_end_event_initialize)
#define yaml_mapping_start_event_initialize \
  (lgw__yaml.mapping_start_event_initialize)
#define yaml_mapping_end_event_initialize \
  (lgw__yaml.mapping_end_event_initialize)
#endif

#endif
