#!/bin/sh
# install_check.sh -- installs a fresh copy of the source tree the ways the
# README describes and runs what was installed, from another directory:
#   - make; make install DESTDIR=A PREFIX=/usr/local, and the same build
#     installed again with DESTDIR=B PREFIX=/opt/x (moved prefix): the host
#     runs a script that requires llmgateway and calls the simulator;
#     LUA_PATH / LUA_CPATH (and the _5_4 names) win over its defaults;
#   - examples/embed.c built with `pkg-config --cflags --libs
#     llmgateway-lua` against each install (-Wl,-rpath and LD_LIBRARY_PATH)
#     and run; a program linked with the embed library that then loads the
#     installed llmgateway.core with require has one engine (its allocator
#     sees the module's allocations, one mapping of the library);
#   - luarocks --lua-version 5.4 (and 5.1, 5.2, 5.3) make --tree T builds
#     the module only (no
#     simulator, so no libmicrohttpd), the rockspec names every library the
#     module links, and lua5.4 requires it with the tree's paths.
# The copy is the tree's files as git sees them (tracked and untracked, not
# ignored): what a fresh clone of the working tree holds.
# Prints one line per check and "N passed, N failed" last.
set -u
root=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d) || exit 1
sim_pid=
cleanup() {
  [ -n "$sim_pid" ] && kill "$sim_pid" 2>/dev/null && wait "$sim_pid" 2>/dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

passed=0
failed=0
out=$tmp/out
ok() { passed=$((passed + 1)); echo "ok   $1"; }
bad() {
  failed=$((failed + 1)); echo "FAIL $1"
  [ -s "$out" ] && tail -n 25 "$out" | sed 's/^/     /'
}
# check NAME COMMAND...: passes when COMMAND exits 0 (its output in $out)
check() {
  name=$1; shift
  if "$@" > "$out" 2>&1; then ok "$name"; else bad "$name"; fi
}
# expect NAME EXPECTED COMMAND...: passes when COMMAND exits 0 and prints
# exactly EXPECTED on stdout
expect() {
  name=$1 want=$2; shift 2
  if "$@" > "$out" 2> "$tmp/err" && [ "$(cat "$out")" = "$want" ]; then
    ok "$name"
  else
    { printf 'expected:\n%s\n' "$want"; cat "$tmp/err"; } >> "$out"
    bad "$name"
  fi
}
# The installed programs get no Lua paths from the caller.
unset LUA_PATH LUA_CPATH LUA_PATH_5_4 LUA_CPATH_5_4

copy_tree() {  # copy_tree DEST
  mkdir -p "$1"
  if git -C "$root" rev-parse --git-dir > /dev/null 2>&1; then
    git -C "$root" ls-files -z --cached --others --exclude-standard |
      tar -C "$root" --null -T - --ignore-failed-read -cf - 2> /dev/null |
      tar -C "$1" -xf -
  else
    cp -R "$root/." "$1" && rm -rf "$1"/build "$1"/build-*
  fi
}

src=$tmp/src
rock=$tmp/rock
copy_tree "$src"
copy_tree "$rock"
version=$(sed -n 's/^#define LGW_VERSION_STRING "\(.*\)"/\1/p' \
  "$src/include/llmgateway.h")
A=$tmp/a/usr/local     # make install DESTDIR=$tmp/a PREFIX=/usr/local
B=$tmp/b/opt/x         # make install DESTDIR=$tmp/b PREFIX=/opt/x
elsewhere=$tmp/elsewhere   # every program runs from here
mkdir -p "$elsewhere"
cd "$elsewhere" || exit 1

# ---- make, make install -------------------------------------------------
check "make (default PREFIX)" make -C "$src" -j2 all
check "make install DESTDIR=... PREFIX=/usr/local" \
  make -C "$src" install DESTDIR="$tmp/a" PREFIX=/usr/local
check "make install DESTDIR=... PREFIX=/opt/x (same build)" \
  make -C "$src" install DESTDIR="$tmp/b" PREFIX=/opt/x

"$A/bin/llmgateway-sim" --port 0 --quiet > "$tmp/sim.out" 2> "$tmp/sim.err" &
sim_pid=$!
url=
for _ in $(seq 100); do
  url=$(sed -n 's/^llmgateway-sim listening on //p' "$tmp/sim.out")
  [ -n "$url" ] && break
  kill -0 "$sim_pid" 2> /dev/null || break
  sleep 0.1
done
if [ -z "$url" ]; then
  cp "$tmp/sim.err" "$out" 2> /dev/null
  bad "the installed simulator starts"
  echo "$passed passed, $failed failed"
  exit 1
fi
export LLMGATEWAY_PROVIDER_STATE="$tmp/provider-state.json"

# A script that uses the whole module against the simulator and tells
# which files it was loaded from.
cat > "$tmp/use.lua" <<'EOF'
local llm = require("llmgateway")
local gw = assert(llm.Gateway({
  providers = {{provider_type = "openai", api_style = "openai_chat",
                base_url = os.getenv("SIM_URL"), api_key = "install-check"}},
  settings = {fallback_model = "m"},
}, {no_state = true}))
print(llm._VERSION)
print(assert(gw:run_task("t", {{role = "user", content = "hello"}})))
-- package.searchpath, also for Lua 5.1
local function searchpath(name, path)
  name = name:gsub("%.", "/")
  for p in path:gmatch("[^;]+") do
    local file = p:gsub("%?", name)
    local f = io.open(file)
    if f then
      f:close()
      return file
    end
  end
  return nil
end
print(searchpath("llmgateway", package.path))
print(searchpath("llmgateway.core", package.cpath))
EOF
used() {  # used PREFIXDIR [LUAVERSION]: what use.lua prints from PREFIXDIR
  printf '%s\n%s\n%s\n%s' "llmgateway $version" "echo(m): hello" \
    "$1/share/lua/${2:-5.4}/llmgateway/init.lua" \
    "$1/lib/lua/${2:-5.4}/llmgateway/core.so"
}

# ---- the installed host finds its files wherever it was installed --------
for p in "$A" "$B"; do
  label=${p#"$tmp"/?/}
  expect "installed host (/$label) runs a script from another directory" \
    "$(used "$p")" env SIM_URL="$url" "$p/bin/llmgateway" "$tmp/use.lua"
done

expect "the host in the build tree uses the source tree's lua/" \
  "llmgateway $version
echo(m): hello
$src/build/bin/../../lua/llmgateway/init.lua
nil" \
  env SIM_URL="$url" "$src/build/bin/llmgateway" "$tmp/use.lua"

mkdir -p "$tmp/fake1" "$tmp/fake2"
echo 'return {_VERSION = "fake1"}' > "$tmp/fake1/llmgateway.lua"
echo 'return {_VERSION = "fake2"}' > "$tmp/fake2/llmgateway.lua"
ver='print(require("llmgateway")._VERSION)'
expect "LUA_PATH wins over the host's default path" "fake1" \
  env LUA_PATH="$tmp/fake1/?.lua" "$B/bin/llmgateway" -e "$ver"
expect "LUA_PATH_5_4 wins over LUA_PATH" "fake2" \
  env LUA_PATH="$tmp/fake1/?.lua" LUA_PATH_5_4="$tmp/fake2/?.lua" \
  "$B/bin/llmgateway" -e "$ver"
expect "';;' in LUA_PATH stands for the host's default path" \
  "llmgateway $version" \
  env LUA_PATH="$tmp/none/?.lua;;" "$B/bin/llmgateway" -e "$ver"
expect "LUA_CPATH wins over the host's default cpath" "$tmp/none/?.so" \
  env LUA_CPATH="$tmp/none/?.so" "$B/bin/llmgateway" -e 'print(package.cpath)'
expect "LUA_CPATH_5_4 wins over LUA_CPATH" "$tmp/none2/?.so" \
  env LUA_CPATH="$tmp/none/?.so" LUA_CPATH_5_4="$tmp/none2/?.so" \
  "$B/bin/llmgateway" -e 'print(package.cpath)'

# ---- embedding: pkg-config llmgateway-lua against the install ------------
embed_out='1: echo(embed-model): one
2: echo(embed-model): two
3: echo(embed-model): three'
check "cc examples/embed.c \$(pkg-config --cflags --libs llmgateway-lua) -Wl,-rpath (PREFIX=/usr/local)" \
  sh -c 'cc -o "$1" "$2" $(PKG_CONFIG_PATH="$3" pkg-config --cflags --libs llmgateway-lua) -Wl,-rpath,"$4"' \
  - "$tmp/embed-a" "$src/examples/embed.c" "$A/lib/pkgconfig" "$A/lib"
expect "examples/embed.c runs against the install (rpath)" "$embed_out" \
  "$tmp/embed-a" "$url"
check "cc examples/embed.c \$(pkg-config --cflags --libs llmgateway-lua) (PREFIX=/opt/x)" \
  sh -c 'cc -o "$1" "$2" $(PKG_CONFIG_PATH="$3" pkg-config --cflags --libs llmgateway-lua)' \
  - "$tmp/embed-b" "$src/examples/embed.c" "$B/lib/pkgconfig"
expect "examples/embed.c runs against the install (LD_LIBRARY_PATH)" \
  "$embed_out" env LD_LIBRARY_PATH="$B/lib" "$tmp/embed-b" "$url"

check "liblgw-lua.so and liblgw-lua.a define the embedding functions" \
  sh -c 'for f in "$1/liblgw-lua.so" "$1/liblgw-lua.a"; do
           defs=$(nm -g --defined-only "$f" 2>/dev/null)
           for s in luaopen_llmgateway_core lgw_lua_set_loop lgw_lua_step \
                    lgw_gateway_new lgw_set_log; do
             echo "$defs" | grep -q " T $s\$" || { echo "$f: no $s"; exit 1; }
           done
         done' - "$A/lib"
cat > "$tmp/capi.c" <<'EOF'
#include <stdio.h>
#include "llmgateway.h"
int main(void) { printf("%s\n", lgw_version_string()); return 0; }
EOF
expect "a C API program builds with pkg-config llmgateway and runs" \
  "$version" sh -c 'cc -o "$1" "$2" $(PKG_CONFIG_PATH="$3" pkg-config --cflags --libs llmgateway) &&
    LD_LIBRARY_PATH="$4" "$1"' - "$tmp/capi" "$tmp/capi.c" "$B/lib/pkgconfig" "$B/lib"

# One engine per process: a program linked with the embed library, whose
# Lua code then loads the installed module (core.so) with require.
cat > "$tmp/onecopy.c" <<'EOF'
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lauxlib.h>
#include <lualib.h>

#include "lgw_lua.h"

static long ncalls;
static void *count_malloc(size_t n) { ncalls++; return malloc(n); }
static void *count_realloc(void *p, size_t n) { ncalls++; return realloc(p, n); }

int main(int argc, char **argv) {
  lua_State *L;
  FILE *maps;
  char line[4096], seen[8][4096];
  int nseen = 0, i;
  if (argc != 3) return 2;
  lgw_set_allocator(count_malloc, count_realloc, free);
  L = luaL_newstate();
  luaL_openlibs(L);
  lua_pushstring(L, argv[2]);
  lua_setglobal(L, "PREFIX");
  if (luaL_dofile(L, argv[1]) != LUA_OK) {
    fprintf(stderr, "%s\n", lua_tostring(L, -1));
    return 1;
  }
  /* the distinct files mapped whose name has "lgw" or "core.so" in it */
  maps = fopen("/proc/self/maps", "r");
  while (maps && fgets(line, sizeof line, maps)) {
    char *path = strchr(line, '/');
    if (!path || (!strstr(path, "lgw") && !strstr(path, "core.so"))) continue;
    for (i = 0; i < nseen && strcmp(seen[i], path) != 0; i++) {}
    if (i == nseen && nseen < 8) strcpy(seen[nseen++], path);
  }
  if (maps) fclose(maps);
  printf("engine copies: %d\n", nseen);
  printf("allocator saw the module: %s\n", ncalls > 0 ? "yes" : "no");
  lua_close(L);
  return 0;
}
EOF
cat > "$tmp/onecopy.lua" <<'EOF'
package.path = PREFIX .. "/share/lua/5.4/?.lua;" .. PREFIX .. "/share/lua/5.4/?/init.lua"
package.cpath = PREFIX .. "/lib/lua/5.4/?.so"
local llm = require("llmgateway")
local gw = assert(llm.Gateway({
  providers = {{provider_type = "openai", api_style = "openai_chat",
                base_url = os.getenv("SIM_URL"), api_key = "install-check"}},
  settings = {fallback_model = "m"},
}, {no_state = true}))
assert(gw:run_task("t", {{role = "user", content = "hello"}}))
EOF
check "a program linked with llmgateway-lua builds" \
  sh -c 'cc -o "$1" "$2" $(PKG_CONFIG_PATH="$3" pkg-config --cflags --libs llmgateway-lua) -Wl,-rpath,"$4"' \
  - "$tmp/onecopy" "$tmp/onecopy.c" "$A/lib/pkgconfig" "$A/lib"
expect "require of the installed module in it uses the same engine" \
  "engine copies: 1
allocator saw the module: yes" \
  env SIM_URL="$url" "$tmp/onecopy" "$tmp/onecopy.lua" "$A"

# ---- luarocks ------------------------------------------------------------
rockspec=$(cd "$rock" && ls rockspec/*.rockspec | head -n 1)
if ! command -v luarocks > /dev/null 2>&1; then
  : > "$out"; bad "luarocks is installed (make install-check installs it)"
else
  check "luarocks --lua-version 5.4 make --tree T $rockspec" \
    sh -c 'cd "$1" && luarocks --lua-version 5.4 make --tree "$2" "$3"' \
    - "$rock" "$tmp/rocks" "$rockspec"
  check "luarocks builds the module only (no simulator, no libmicrohttpd)" \
    sh -c '! ls "$1"/build/llmgateway-sim "$1"/build/bin 2>&1' - "$rock"
  # Every library core.so needs, but libc's and the loader's, is named by
  # an external_dependencies entry of the rockspec: those it links (none,
  # or hiredis 1.x) and those it opens at their first use (the sonames
  # it holds: libcurl, libuv, libcjson, libyaml, hiredis 0.x).
  core=$(ls "$tmp"/rocks/lib/lua/5.4/llmgateway/core.so 2> /dev/null)
  check "the rockspec names every library the module links or opens" \
    sh -c 'set -e
      needed=$(readelf -d "$1" | sed -n "s/.*Shared library: \[lib\([^.]*\)\.so.*/\1/p")
      echo "$needed" | grep -qx c
      libs=$( { echo "$needed"; strings "$1" |
                sed -n "s/^lib\([a-zA-Z_]*\)\(-[0-9.]*\)\{0,1\}\.so\.[0-9.]*\$/\1/p"; } |
             sed "s/-[0-9.]*\$//" | sort -u |
             grep -vxE "c|m|dl|rt|pthread|lua.*|ld-linux.*|gcc_s")
      named=$(ROCKSPEC="$2" lua5.4 -e "local t = {}
        assert(loadfile(os.getenv(\"ROCKSPEC\"), \"t\", t))()
        for _, d in pairs(t.external_dependencies) do print(d.library) end")
      missing=
      for l in $libs; do echo "$named" | grep -qx "$l" || missing="$missing $l"; done
      [ -n "$libs" ] && [ -z "$missing" ] || { echo "not in the rockspec:$missing"; exit 1; }' \
    - "$core" "$rock/$rockspec"
  expect "lua5.4 requires the rock with the tree's paths (luarocks path)" \
    "$(used "$tmp/rocks")" \
    sh -c 'eval "$(luarocks --lua-version 5.4 path --tree "$1")" &&
           SIM_URL="$2" lua5.4 "$3"' - "$tmp/rocks" "$url" "$tmp/use.lua"
  # The same rockspec for the older Luas, each from a fresh copy.
  for v in 5.1 5.2 5.3; do
    if ! command -v "lua$v" > /dev/null 2>&1; then
      : > "$out"; bad "lua$v is installed (make deps installs it)"
      continue
    fi
    copy_tree "$tmp/rock$v"
    check "luarocks --lua-version $v make --tree T $rockspec" \
      sh -c 'cd "$1" && luarocks --lua-version "$4" make --tree "$2" "$3"' \
      - "$tmp/rock$v" "$tmp/rocks$v" "$rockspec" "$v"
    expect "lua$v requires the rock with the tree's paths (luarocks path)" \
      "$(used "$tmp/rocks$v" "$v")" \
      sh -c 'eval "$(luarocks --lua-version "$4" path --tree "$1")" &&
             SIM_URL="$2" "lua$4" "$3"' - "$tmp/rocks$v" "$url" \
      "$tmp/use.lua" "$v"
  done
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
