package = "llmgateway"
version = "scm-1"
source = {
  url = "git+file://.",
}
description = {
  summary = "Call large language models through one shared configuration",
  detailed = [[
    A C engine on libcurl (multi) and libuv does HTTP, concurrency,
    retries and provider failover; validators, prompt builders and task
    pipelines are Lua. require("llmgateway").
  ]],
  license = "MIT",
}
dependencies = {
  "lua >= 5.4, < 5.5",
}
external_dependencies = {
  CURL = { library = "curl" },
  LIBUV = { header = "uv.h" },
  YAML = { header = "yaml.h" },
  CJSON = { header = "cjson/cJSON.h" },
  CRYPTO = { header = "openssl/evp.h" },
}
build = {
  type = "make",
  build_target = "all",
  build_variables = {
    LUA_INCDIR = "$(LUA_INCDIR)",
    CFLAGS = "$(CFLAGS)",
  },
  install_target = "install-lua",
  install_variables = {
    LUA_CMODDIR = "$(LIBDIR)",
    LUA_LMODDIR = "$(LUADIR)",
    BINDIR = "$(BINDIR)",
  },
}
