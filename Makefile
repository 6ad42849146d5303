# llmgateway -- build, test, install.
# Overridable variables first (lua-cjson / lfs style).
PREFIX      ?= /usr/local
DESTDIR     ?=
CC          ?= cc
PKG_CONFIG  ?= pkg-config
# LUA: the Lua the module is built for, 5.1, 5.2, 5.3, 5.4 (default) or
# luajit. Other than 5.4, only the module and the embed library are built,
# into build-lua<LUA>/ (the host, the simulator and the C tests are 5.4's,
# in build/). `make lua-all` builds all five.
LUA         ?= 5.4
override LUA := $(patsubst lua%,%,$(filter-out luajit,$(LUA)))$(filter luajit,$(LUA))
ifeq ($(LUA),luajit)
LUA_VERSION  = 5.1
LUA_PC      ?= luajit
LUA_BIN     ?= luajit
LUA_INCDIR  ?= $(shell $(PKG_CONFIG) --variable=includedir luajit 2>/dev/null)
else
LUA_VERSION  = $(LUA)
LUA_PC      ?= lua$(LUA_VERSION)
LUA_BIN     ?= lua$(LUA_VERSION)
LUA_INCDIR  ?= $(shell $(PKG_CONFIG) --variable=includedir $(LUA_PC) 2>/dev/null)/lua$(LUA_VERSION)
endif
ifeq ($(LUA),5.4)
BUILD       ?= build
else
BUILD       ?= build-$(if $(filter luajit,$(LUA)),luajit,lua$(LUA))
MODULE_ONLY  = 1
endif
LUA_ALL      = 5.1 5.2 5.3 5.4 luajit
LUA_CMODDIR ?= $(PREFIX)/lib/lua/$(LUA_VERSION)
LUA_LMODDIR ?= $(PREFIX)/share/lua/$(LUA_VERSION)
LIBDIR      ?= $(PREFIX)/lib
BINDIR      ?= $(PREFIX)/bin
INCDIR      ?= $(PREFIX)/include
OPT         ?= -O2 -g
SAN         ?=

PKGS      = libcurl libuv yaml-0.1 libcjson hiredis
WARN      = -std=c11 -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
            -Wmissing-prototypes -Wwrite-strings
PKG_CFLAGS := $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   := $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
LUA_CFLAGS := -I$(LUA_INCDIR)
LUA_LIBS   := $(shell $(PKG_CONFIG) --libs $(LUA_PC) 2>/dev/null)
MHD_LIBS   := $(shell $(PKG_CONFIG) --libs libmicrohttpd 2>/dev/null)
CJSON_LIBS := $(shell $(PKG_CONFIG) --libs libcjson 2>/dev/null)
UV_LIBS    := $(shell $(PKG_CONFIG) --libs libuv 2>/dev/null)
ALL_CFLAGS = $(WARN) $(OPT) $(SAN) -fPIC -fvisibility=hidden -D_GNU_SOURCE \
             $(CFLAGS)
LDLIBS_ALL = $(PKG_LIBS) -lm $(LDFLAGS)
# The library, the module and the host do not link libcurl, libuv,
# libcjson, libyaml or hiredis: each is opened with dlopen at its first
# use, by the soname of the library built against -- libcurl at the first
# gateway (src/engine/curl_dl.c), libuv at the first event loop made or
# given (src/engine/uv_dl.c), libcjson at the first JSON read or written
# (src/core/cjson_dl.c), libyaml at the first YAML read or written
# (src/core/yaml_dl.c), hiredis at the first Redis connection
# (src/redis/hiredis_dl.c) -- so loading the module stays cheap. They
# are still dependencies (make deps, the rockspec, the .pc files).
# hiredis: only the 0.x series, whose libuv adapter (a header) calls just
# the functions in src/redis/hiredis_dl.h; from 1.0 the adapter also calls
# hiredis's allocator (hiredisAllocFns) and timeout handling, so a later
# hiredis stays linked (HIREDIS_DL=0).
HIREDIS_VERSION := $(shell $(PKG_CONFIG) --modversion hiredis 2>/dev/null)
HIREDIS_DL ?= $(if $(filter 0.%,$(HIREDIS_VERSION)),1,0)
DL_PKGS    = libcurl libuv yaml-0.1 libcjson $(if $(filter 1,$(HIREDIS_DL)),hiredis)
LIB_PKGS   = $(filter-out $(DL_PKGS),$(PKGS))
LIB_LIBS  := $(shell $(PKG_CONFIG) --libs $(LIB_PKGS) 2>/dev/null)
LDLIBS_LIB = $(LIB_LIBS) -ldl -lpthread -lm $(LDFLAGS)
# $(call soname,PKG,FILE,DEFAULT): the SONAME of PKG's libdir/FILE.so
soname = $(or $(shell objdump -p $(shell $(PKG_CONFIG) \
  --variable=libdir $(1) 2>/dev/null)/$(2).so 2>/dev/null | \
  sed -n 's/^ *SONAME *//p'),$(3))
ifndef CURL_SONAME
CURL_SONAME := $(call soname,libcurl,libcurl,libcurl.so.4)
endif
ifndef UV_SONAME
UV_SONAME := $(call soname,libuv,libuv,libuv.so.1)
endif
ifndef CJSON_SONAME
CJSON_SONAME := $(call soname,libcjson,libcjson,libcjson.so.1)
endif
ifndef YAML_SONAME
YAML_SONAME := $(call soname,yaml-0.1,libyaml,libyaml-0.so.2)
endif
ifndef HIREDIS_SONAME
HIREDIS_SONAME := $(call soname,hiredis,libhiredis,libhiredis.so.0.14)
endif

# ---- layers --------------------------------------------------------------
# Each folder of src/ is a layer and compiles with only the include paths
# it may use (README, "Architecture"). The headers of the libraries a layer
# may not use are replaced by ones that stop the compiler (mk/forbid/), so
# a layering violation is a compile error.
LAYERS      = core wire engine gateway redis
# src/core/list: the one intrusive list, header only and dependent on
# nothing, which every layer of the library and the binding may use
INC_list    = -Isrc/core/list
INC_core    = -Iinclude -Isrc/core $(INC_list)
INC_wire    = $(INC_core) -Isrc/wire
INC_engine  = $(INC_core) -Isrc/engine
DEFS_core   = -DLGW_YAML_SONAME='"$(YAML_SONAME)"' \
              -DLGW_CJSON_SONAME='"$(CJSON_SONAME)"'
DEFS_engine = -DLGW_CURL_SONAME='"$(CURL_SONAME)"' \
              -DLGW_UV_SONAME='"$(UV_SONAME)"'
DEFS_redis  = -DLGW_HIREDIS_DL=$(HIREDIS_DL) \
              -DLGW_HIREDIS_SONAME='"$(HIREDIS_SONAME)"'
INC_redis   = $(INC_core) -Isrc/redis
INC_gateway = $(INC_wire) -Isrc/engine -Isrc/redis -Isrc/gateway
INC_lua     = -Iinclude $(INC_list) -Isrc/lua
INC_host    = -Iinclude -Isrc/host
INC_sim     = -Isrc/sim
INC_tests   = $(INC_gateway) -Isrc/lua -Itests/c
DEFS_tests  = -DLGW_HIREDIS_DL=$(HIREDIS_DL)
forbid      = $(1:%=-Imk/forbid/%)
FORBID_core    = $(call forbid,curl uv hiredis lua)
FORBID_wire    = $(call forbid,curl uv hiredis lua)
FORBID_engine  = $(call forbid,hiredis lua)
FORBID_redis   = $(call forbid,curl lua)
FORBID_gateway = $(call forbid,curl uv hiredis lua)
FORBID_lua     = $(call forbid,curl uv hiredis)
FORBID_host    = $(call forbid,curl uv hiredis)
FORBID_sim     = $(call forbid,curl uv hiredis lua)
# the flags of the layer a source file belongs to (src/<layer>/x.c)
layer       = $(word 2,$(subst /, ,$(1)))
LAYER_FLAGS = $(FORBID_$(call layer,$<)) $(INC_$(call layer,$<)) \
              $(DEFS_$(call layer,$<)) \
              $(PKG_CFLAGS) $(if $(filter lua host,$(call layer,$<)),$(LUA_CFLAGS))

LIB_SRC  = $(foreach l,$(LAYERS),$(wildcard src/$(l)/*.c))
LUA_SRC  = $(wildcard src/lua/*.c)
HOST_SRC = $(wildcard src/host/*.c)
SIM_SRC  = $(wildcard src/sim/*.c)
# The C tests mirror src/ (tests/c/core/test_config.c ...); the code they
# share is tests/c/*.c. Each is the program $(BUILD)/tests/test_<name>, so
# no two may share a name.
TEST_SRC = $(wildcard tests/c/test_*.c tests/c/*/test_*.c)
SUPPORT_SRC = $(filter-out $(TEST_SRC),$(wildcard tests/c/*.c))
vpath test_%.c $(sort $(dir $(TEST_SRC)))

# The engine does not depend on Lua: the other Luas' builds link 5.4's
# engine objects.
ifdef MODULE_ONLY
ENGINE_BUILD ?= build
else
ENGINE_BUILD  = $(BUILD)
endif
LIB_OBJ  = $(LIB_SRC:src/%.c=$(ENGINE_BUILD)/obj/%.o)
LUA_OBJ  = $(LUA_SRC:src/%.c=$(BUILD)/obj/%.o)
HOST_OBJ = $(HOST_SRC:src/%.c=$(BUILD)/obj/%.o)
SIM_OBJ  = $(SIM_SRC:src/%.c=$(BUILD)/obj/%.o)
SUPPORT_OBJ = $(SUPPORT_SRC:tests/c/%.c=$(BUILD)/obj/tests/%.o)
TESTS    = $(addprefix $(BUILD)/tests/,$(basename $(notdir $(TEST_SRC))))
ifneq ($(words $(TESTS)),$(words $(sort $(TESTS))))
$(error two C tests share a name: $(strip $(foreach n,$(sort $(notdir \
  $(TEST_SRC))),$(if $(word 2,$(filter %/$(n),$(TEST_SRC))),$(filter \
  %/$(n),$(TEST_SRC))))))
endif

STATIC   = $(BUILD)/liblgw.a
SHARED   = $(BUILD)/liblgw.so
# The embed library: engine + Lua binding. The Lua module core.so is the
# same file (a symbolic link), so a process has one copy of the engine.
LUA_STATIC = $(BUILD)/liblgw-lua.a
LUA_SHARED = $(BUILD)/liblgw-lua.so
LUAMOD   = $(BUILD)/llmgateway/core.so
HOST     = $(BUILD)/bin/llmgateway
SIM      = $(BUILD)/llmgateway-sim
EMBED    = $(BUILD)/examples/embed

TARGETS  = $(STATIC) $(SHARED)
ifneq ($(LUA_SRC),)
TARGETS += $(LUA_STATIC) $(LUA_SHARED) $(LUAMOD)
endif
ifneq ($(HOST_SRC),)
TARGETS += $(HOST)
endif
ifneq ($(SIM_SRC),)
TARGETS += $(SIM)
endif
ifneq ($(wildcard examples/embed.c),)
TARGETS += $(EMBED)
endif
ifdef MODULE_ONLY
TARGETS  = $(LUA_STATIC) $(LUA_SHARED) $(LUAMOD)
endif

.PHONY: all deps test test-c test-lua demo install install-lua clean asan valgrind \
        conformance bench bench-json fuzz soak module install-check lua-all \
        test-lua-all

all: $(TARGETS)

.SECONDARY:

# Header dependencies come from the compiler (-MMD -MP).
DEPFLAGS = -MMD -MP
-include $(filter-out %.bin.d,$(wildcard $(BUILD)/obj/*/*.d)) \
  $(wildcard $(BUILD)/obj/tests/bin/*.d)

$(BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LAYER_FLAGS) $(DEPFLAGS) -c $< -o $@

ifneq ($(ENGINE_BUILD),$(BUILD))
$(ENGINE_BUILD)/obj/%.o: src/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(LAYER_FLAGS) $(DEPFLAGS) -c $< -o $@
endif

$(BUILD)/obj/tests/%.o: tests/c/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(INC_tests) $(DEFS_tests) $(PKG_CFLAGS) $(LUA_CFLAGS) \
	  $(DEPFLAGS) -c $< -o $@

$(STATIC): $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(SHARED): $(LIB_OBJ)
	$(CC) $(SAN) -shared -Wl,-soname,liblgw.so.0 -o $@ $^ $(LDLIBS_LIB)

# Not linked with liblua: the Lua symbols come from the program (lua5.4,
# the embedding application), which has its own single copy of Lua.
$(LUA_STATIC): $(LUA_OBJ) $(LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

# -Bsymbolic-functions: the library's calls to its own exported functions
# (the C API the binding uses) are bound when it is linked, not looked up
# by the dynamic linker at each dlopen (Lua loads it with RTLD_NOW).
LUA_SHARED_LDFLAGS = -Wl,-O1 -Wl,-Bsymbolic-functions
$(LUA_SHARED): $(LUA_OBJ) $(LIB_OBJ)
	$(CC) $(SAN) -shared -Wl,-soname,liblgw-lua.so.0 $(LUA_SHARED_LDFLAGS) \
	  -o $@ $^ $(LDLIBS_LIB)

$(LUAMOD): $(LUA_SHARED)
	@mkdir -p $(dir $@)
	ln -sf ../$(notdir $(LUA_SHARED)) $@

# Only the Lua module (what luarocks builds): needs neither liblua's
# library nor libmicrohttpd.
module: $(LUAMOD)

# The module and the embed library for every Lua (build-lua5.1/ ...,
# build/ for 5.4).
lua-all:
	@for v in $(LUA_ALL); do \
	  $(MAKE) --no-print-directory LUA=$$v all || exit 1; done

$(HOST): $(HOST_OBJ) $(LUA_OBJ) $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(SAN) -rdynamic -o $@ $^ $(LUA_LIBS) $(LDLIBS_LIB)

# A program of its own: shares no code with the library.
$(SIM): $(SIM_OBJ)
	$(CC) $(SAN) -o $@ $^ $(MHD_LIBS) $(CJSON_LIBS) -lm -lpthread $(LDFLAGS)

# The example drives its own libuv loop, so it links libuv itself (as
# pkg-config llmgateway-lua says: Requires libuv).
$(EMBED): examples/embed.c $(LUA_OBJ) $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Iinclude $(LUA_CFLAGS) -o $@ $^ $(LUA_LIBS) \
	  $(UV_LIBS) $(LDLIBS_LIB)

# test_X.c is found in its folder of tests/c/ (vpath above).
$(BUILD)/tests/%: %.c $(SUPPORT_OBJ) $(LUA_OBJ) $(STATIC)
	@mkdir -p $(dir $@) $(BUILD)/obj/tests/bin
	$(CC) $(ALL_CFLAGS) $(INC_tests) $(DEFS_tests) $(PKG_CFLAGS) $(LUA_CFLAGS) \
	  $(DEPFLAGS) -MF $(BUILD)/obj/tests/bin/$*.d -o $@ $< $(SUPPORT_OBJ) \
	  $(LUA_OBJ) $(STATIC) $(LUA_LIBS) $(LDLIBS_ALL)

# ---- dependencies (Debian packages) ------------------------------------
DEB_PKGS = build-essential pkg-config liblua5.4-dev lua5.4 \
           libcurl4-openssl-dev libuv1-dev libyaml-dev libcjson-dev \
           libssl-dev libmicrohttpd-dev lua-busted lua-socket curl \
           libhiredis-dev redis-server $(LUA_DEB_PKGS)
SUDO = $(shell [ "$$(id -u)" = 0 ] || echo sudo)

deps:
	@missing=$$(for p in $(DEB_PKGS) $(EXTRA_PKGS); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
	    grep -q 'install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  echo "installing:" $$missing; \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get update -qq && \
	  $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends $$missing; \
	fi

# ---- tests -------------------------------------------------------------
# The busted suite runs under every Lua of LUA_ALL whose interpreter is
# installed (make deps installs them all), each with its own module build.
LUA_DEB_PKGS = lua5.1 liblua5.1-0-dev lua5.2 liblua5.2-dev lua5.3 \
               liblua5.3-dev luajit libluajit-5.1-dev neovim haproxy

# The module of every other Lua whose interpreter is installed (after
# 5.4's build: they link its engine objects).
OTHER_LUAS = for v in $(filter-out 5.4,$(LUA_ALL)); do \
	  b=lua$$v; [ $$v = luajit ] && b=luajit; \
	  if command -v $$b > /dev/null; then \
	    $(MAKE) --no-print-directory LUA=$$v all || exit 1; fi; done

test: deps
	@$(MAKE) --no-print-directory all $(TESTS)
	@$(OTHER_LUAS)
	@BUILD=$(BUILD) sh tests/run.sh

test-c: all $(TESTS)
	@BUILD=$(BUILD) ONLY=c sh tests/run.sh

test-lua: all
	@$(OTHER_LUAS)
	@BUILD=$(BUILD) ONLY=lua sh tests/run.sh

# the same as test-lua (every installed Lua's busted run)
test-lua-all: test-lua

# ---- sanitizers ---------------------------------------------------------
ASAN_FLAGS = -fsanitize=address,undefined -fno-sanitize-recover=undefined \
             -fno-omit-frame-pointer
ASAN_LIB   = $(shell $(CC) -print-file-name=libasan.so)

asan: deps
	@$(MAKE) --no-print-directory BUILD=build-asan OPT="-O1 -g" \
	  SAN="$(ASAN_FLAGS)" all $(TESTS:$(BUILD)/%=build-asan/%)
	@BUILD=build-asan NO_CONFORMANCE=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  LUAS=5.4 LUA_BIN="env LD_PRELOAD=$(ASAN_LIB) ASAN_OPTIONS=detect_leaks=0 $(LUA_BIN)" \
	  sh tests/run.sh

VALGRIND = valgrind -q --error-exitcode=9 --leak-check=full \
           --errors-for-leak-kinds=definite,indirect \
           --show-leak-kinds=definite,indirect

valgrind:
	@$(MAKE) --no-print-directory deps EXTRA_PKGS=valgrind
	@$(MAKE) --no-print-directory all $(TESTS)
	@BUILD=$(BUILD) VALGRIND="$(VALGRIND)" ONLY=c sh tests/run.sh
	@BUILD=$(BUILD) VALGRIND="$(VALGRIND)" sh tests/valgrind_examples.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@sh examples/demo.sh $(BUILD)

clean:
	rm -rf build build-asan build-fuzz build-lua*

# ---- install -----------------------------------------------------------
# Nothing installed depends on the PREFIX of the build: the host finds the
# Lua files next to its own directory (<bindir>/../share/lua/5.4 ...), the
# .pc files give paths relative to their own directory (${pcfiledir}), and
# core.so is a relative link to the embed library.
VERSION = $(shell sed -n 's/^\#define LGW_VERSION_STRING "\(.*\)"/\1/p' \
            include/llmgateway.h)
relpath = $(shell realpath -m --relative-to='$(1)' '$(2)')
PC_SED = sed -e 's|@PREFIX@|$${pcfiledir}/$(call relpath,$(LIBDIR)/pkgconfig,$(PREFIX))|' \
  -e 's|@LIBDIR@|$${prefix}/$(call relpath,$(PREFIX),$(LIBDIR))|' \
  -e 's|@INCDIR@|$${prefix}/$(call relpath,$(PREFIX),$(INCDIR))|' \
  -e 's|@VERSION@|$(VERSION)|' -e 's|@LUA_PC@|$(LUA_PC)|'

ifdef MODULE_ONLY
# Another Lua than 5.4: its module into its version's directories.
install: install-lua
else
install: all
	install -d $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCDIR) \
	  $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(BINDIR) \
	  $(DESTDIR)$(LUA_CMODDIR)/llmgateway $(DESTDIR)$(LUA_LMODDIR)/llmgateway
	install -m 644 $(STATIC) $(DESTDIR)$(LIBDIR)/liblgw.a
	install -m 755 $(SHARED) $(DESTDIR)$(LIBDIR)/liblgw.so.0
	ln -sf liblgw.so.0 $(DESTDIR)$(LIBDIR)/liblgw.so
	install -m 644 include/*.h $(DESTDIR)$(INCDIR)/
	$(PC_SED) src/llmgateway.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/llmgateway.pc
	install -m 644 $(LUA_STATIC) $(DESTDIR)$(LIBDIR)/liblgw-lua.a
	install -m 755 $(LUA_SHARED) $(DESTDIR)$(LIBDIR)/liblgw-lua.so.0
	ln -sf liblgw-lua.so.0 $(DESTDIR)$(LIBDIR)/liblgw-lua.so
	$(PC_SED) src/llmgateway-lua.pc.in \
	  > $(DESTDIR)$(LIBDIR)/pkgconfig/llmgateway-lua.pc
	ln -sf $(call relpath,$(LUA_CMODDIR)/llmgateway,$(LIBDIR))/liblgw-lua.so.0 \
	  $(DESTDIR)$(LUA_CMODDIR)/llmgateway/core.so
	install -m 644 lua/llmgateway/*.lua $(DESTDIR)$(LUA_LMODDIR)/llmgateway/
	install -m 755 $(HOST) $(DESTDIR)$(BINDIR)/llmgateway
	[ ! -f $(SIM) ] || install -m 755 $(SIM) $(DESTDIR)$(BINDIR)/llmgateway-sim
endif

# Only the Lua module (C and Lua parts): used by luarocks. core.so is a
# plain file here (the embed library's contents).
install-lua: module
	install -d $(DESTDIR)$(LUA_CMODDIR)/llmgateway \
	  $(DESTDIR)$(LUA_LMODDIR)/llmgateway
	install -m 755 $(LUA_SHARED) $(DESTDIR)$(LUA_CMODDIR)/llmgateway/core.so
	install -m 644 lua/llmgateway/*.lua $(DESTDIR)$(LUA_LMODDIR)/llmgateway/

# `make install-check`: tests/install_check.sh installs a fresh copy of the
# tree (make install with DESTDIR, at two prefixes; luarocks make) and
# runs what was installed.
install-check:
	@$(MAKE) --no-print-directory deps EXTRA_PKGS=luarocks
	@sh tests/install_check.sh

# ---- benchmarks ----
# `make bench`: tests/bench/run.sh prints one table of ratios and updates
# tests/bench/RESULTS.md. Not a test: no figure fails anything. The HTTPS
# workload makes its own CA and certificate with openssl.
BENCH_PKGS = nginx-light libnginx-mod-http-echo openssl ca-certificates \
             python3-httpx lua5.1 \
             lua-curl lua-system hyperfine valgrind
BENCH_BIN  = $(BUILD)/bench

bench:
	@$(MAKE) --no-print-directory deps EXTRA_PKGS="$(BENCH_PKGS)"
	@$(MAKE) --no-print-directory all $(BENCH_BIN)/baseline_multi \
	  $(BENCH_BIN)/gw_client
	@BUILD=$(BUILD) bash tests/bench/run.sh

# `make bench-json`: callgrind instructions of one answer's JSON work
# (tests/bench/json_bench.c; method and figures in RESULTS.md).
bench-json: all $(BENCH_BIN)/json_bench
	@sh tests/bench/json_bench.sh $(BENCH_BIN)/json_bench

$(BENCH_BIN)/baseline_multi: tests/bench/baseline_multi.c tests/bench/bench.h
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(OPT) -D_GNU_SOURCE \
	  $(shell $(PKG_CONFIG) --cflags libcurl) -o $@ $< \
	  $(shell $(PKG_CONFIG) --libs libcurl)

$(BENCH_BIN)/gw_client: tests/bench/gw_client.c tests/bench/bench.h $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(OPT) -D_GNU_SOURCE $(INC_wire) $(PKG_CFLAGS) \
	  -o $@ $< $(STATIC) $(LDLIBS_ALL)

$(BENCH_BIN)/json_bench: tests/bench/json_bench.c $(STATIC)
	@mkdir -p $(dir $@)
	$(CC) $(WARN) $(OPT) -D_GNU_SOURCE $(INC_wire) $(PKG_CFLAGS) \
	  -o $@ $< $(STATIC) $(LDLIBS_ALL)
# ---- end of benchmarks ----

# ---- fuzzing ----
# `make fuzz FUZZ_SECONDS=N`: builds the libFuzzer targets in
# tests/fuzz/fuzz_*.c with clang (ASan + UBSan) into build-fuzz/, runs each
# for N seconds, prints executions and crashes per target, and fails when
# any target crashed. Seeds: tests/fuzz/corpus/<target>/; kept crashing
# inputs: tests/fuzz/regress/<target>/ (replayed by test_fuzz_regress).
FUZZ_SECONDS ?= 60
FUZZ_CC      ?= clang
FUZZ_BUILD    = build-fuzz
FUZZ_CFLAGS   = $(WARN) -g -O1 -fsanitize=address,undefined \
                -fno-sanitize-recover=undefined -D_GNU_SOURCE \
                $(INC_gateway) $(PKG_CFLAGS)
FUZZ_TARGETS  = env config json_extract transport sse retry_after
# util.c hands its allocator hooks to libcJSON's loader (cjson_dl)
FUZZ_UTIL     = util dl cjson_dl
FUZZ_TRANSPORT_SRC = $(FUZZ_UTIL) json transport transport_responses transport_chat \
                     transport_anthropic transport_litellm transport_rich sse \
                     json_extract
FUZZ_SRC_env          = $(FUZZ_UTIL) env node
FUZZ_SRC_config       = $(FUZZ_UTIL) json env node yaml_dl yaml_load config \
                        config_validate config_dump config_paths provider sha \
                        redis_url url
FUZZ_SRC_json_extract = $(FUZZ_UTIL) json json_extract
FUZZ_SRC_transport    = $(FUZZ_TRANSPORT_SRC)
FUZZ_SRC_sse          = $(FUZZ_TRANSPORT_SRC)
FUZZ_SRC_retry_after  = $(FUZZ_UTIL) retry
FUZZ_BINS = $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)

.PHONY: fuzz fuzz-build

fuzz:
	@$(MAKE) --no-print-directory deps EXTRA_PKGS="clang libclang-rt-14-dev"
	@$(MAKE) --no-print-directory fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_BUILD=$(FUZZ_BUILD) \
	  sh tests/fuzz/run.sh $(FUZZ_TARGETS)

fuzz-build: $(FUZZ_BINS)

vpath %.c $(LAYERS:%=src/%)
$(FUZZ_BUILD)/obj/%.o: %.c $(wildcard src/*/*.h include/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

define FUZZ_LINK
$(FUZZ_BUILD)/fuzz_$(1): tests/fuzz/fuzz_$(1).c tests/fuzz/fuzz_common.h \
    $$(FUZZ_SRC_$(1):%=$(FUZZ_BUILD)/obj/%.o)
	$$(FUZZ_CC) $$(FUZZ_CFLAGS) -fsanitize=fuzzer -o $$@ $$< \
	  $$(FUZZ_SRC_$(1):%=$(FUZZ_BUILD)/obj/%.o) $$(PKG_LIBS) -lm
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call FUZZ_LINK,$(t))))
# ---- end of fuzzing ----

# ---- conformance ----
# `make conformance`: the gateway's requests through Stoplight Prism mocks
# of the official OpenAI and Anthropic specs (tests/conformance/run.sh).
# Needs node and npm; Prism is installed once into $(BUILD)/prism.
CONF_BIN = $(BUILD)/conformance/conformance

conformance: $(CONF_BIN)
	@BUILD=$(BUILD) sh tests/conformance/run.sh

$(CONF_BIN): tests/conformance/conformance.c $(STATIC) \
             $(wildcard src/*/*.h include/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(INC_gateway) $(PKG_CFLAGS) -o $@ $< $(STATIC) $(LDLIBS_ALL)
# ---- end of conformance ----

# ---- soak ----
# `make soak [SOAK_N=N]`: tests/soak/soak.lua sends SOAK_N requests
# (default 500,000) through the Lua API to the simulator with mixed faults,
# printing the client's RSS and open descriptors; fails when an outcome is
# wrong, RSS grows more than 5% after the warm-up, or descriptors leak.
# Not part of `make test`.
SOAK_N ?= 500000

soak: all
	@SOAK_N=$(SOAK_N) LLMGATEWAY_BUILD=$(BUILD) \
	  LUA_PATH='./lua/?.lua;./lua/?/init.lua;./tests/lua/?.lua;;' \
	  LUA_CPATH='./$(BUILD)/?.so;;' $(LUA_BIN) tests/soak/soak.lua
# ---- end of soak ----
