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
  "lua >= 5.1, < 5.5",
}
-- Every library the module (llmgateway/core.so) uses: it opens each at
-- its first use (libuv at the first event loop, cJSON at the first JSON
-- or gateway, libcurl at the first gateway, libyaml at the first YAML,
-- hiredis 0.x at the first Redis connection; hiredis 1.x is linked). The
-- Makefile takes their flags from pkg-config; luarocks checks that they
-- are installed.
external_dependencies = {
  CURL = { library = "curl" },
  LIBUV = { header = "uv.h", library = "uv" },
  YAML = { header = "yaml.h", library = "yaml" },
  CJSON = { header = "cjson/cJSON.h", library = "cjson" },
  HIREDIS = { header = "hiredis/hiredis.h", library = "hiredis" },
}
-- `make module` builds llmgateway/core.so alone: neither the host (it is
-- installed by `make install`) nor the simulator (libmicrohttpd).
build = {
  type = "make",
  build_target = "module",
  build_variables = {
    LUA_INCDIR = "$(LUA_INCDIR)",
    CFLAGS = "$(CFLAGS)",
  },
  install_target = "install-lua",
  install_variables = {
    LUA_CMODDIR = "$(LIBDIR)",
    LUA_LMODDIR = "$(LUADIR)",
  },
}
