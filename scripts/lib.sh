# Shared by the scripts in this folder: `. scripts/lib.sh` from the repo root.
# Installs missing Debian packages, builds the module, starts and stops the mock.
set -euo pipefail
# A signal ends the script through its EXIT trap, so what it started (the mock) is stopped.
trap 'exit 130' INT
trap 'exit 143' TERM

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

say() { printf '==> %s\n' "$*" >&2; }

# need PKG... : installs the Debian packages that are missing (apt-get update once first).
need() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=()
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null || { say "missing packages ${missing[*]} and no root: install them first"; exit 1; }
    sudo=(sudo)
  fi
  say "installing Debian packages: ${missing[*]}"
  if [ ! -f "$ROOT/.tmp/apt-updated" ]; then
    "${sudo[@]}" apt-get update -q >/dev/null
    mkdir -p "$ROOT/.tmp" && touch "$ROOT/.tmp/apt-updated"
  fi
  # policy-rc.d keeps the nginx package from starting a system server on port 80.
  local policy=/usr/sbin/policy-rc.d added_policy=
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
    "${sudo[@]}" chmod +x "$policy"; added_policy=1
  fi
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  [ -n "$added_policy" ] && "${sudo[@]}" rm -f "$policy"
  return 0
}

# Packages by purpose.
# lua-argparse: the `acedata` command's parser (the rock's dependency "argparse").
PKGS_BUILD=(cmake make gcc libc6-dev pkg-config libcurl4-openssl-dev zlib1g-dev ca-certificates lua5.4 liblua5.4-dev lua-cjson
  lua-argparse)
PKGS_MOCK=(nginx libnginx-mod-http-lua python3 curl)
# The other Lua versions the suite runs on (lua-cjson, lua-busted and lua-socket cover them all).
PKGS_LUAS=(lua5.1 liblua5.1-0-dev lua5.2 liblua5.2-dev lua5.3 liblua5.3-dev luajit2 libluajit2-5.1-dev)
PKGS_ROCK=(luarocks)
# tinyproxy: the forward proxy of spec/55-proxy_spec.lua.
PKGS_TEST=(lua-busted lua-socket lua-check clang-14 libclang-rt-14-dev neovim lua-luv
  openssl valgrind cppcheck clang-tidy-14 clang-format-14 tinyproxy
  chromium python3-html5lib)   # the HTML report: headless Chromium, and an HTML5 check
# bench/e2e and bench/memory (not the tests): Python requests (the seed's client), LuaSocket,
# GNU time (peak RSS of each client), curl (the transfer floor).
PKGS_BENCH=(python3-requests lua-socket time curl)
# scripts/check/docs: the LDoc reference (its markdown comes from lua-markdown, a Lua 5.1 module).
PKGS_DOCS=(lua-ldoc lua-markdown lua5.1)
# scripts/check/rock packs the source rock (a zip) and reads it back.
PKGS_ROCK+=(zip unzip)

# lua_bin VER -> the interpreter for a Lua version (5.1 5.2 5.3 5.4 luajit)
lua_bin() { case "$1" in luajit) echo luajit ;; *) echo "lua$1" ;; esac; }

# build VER [extra cmake args...] : builds build/VER/acedata/core.so
build() {
  local ver=$1; shift
  local dir="build/$ver${BUILD_SUFFIX:-}"
  cmake -S . -B "$dir" -DLUA_VERSION="$ver" "$@" >/dev/null
  cmake --build "$dir" -j 2 >/dev/null || cmake --build "$dir" -j 1
}

# use_build VER : points LUA_PATH / LUA_CPATH at the tree and build/VER
use_build() {
  local dir="$ROOT/build/$1${BUILD_SUFFIX:-}"
  export LUA_PATH="$ROOT/lua/?.lua;$ROOT/lua/?/init.lua;$ROOT/?.lua;;"
  export LUA_CPATH="$dir/?.so;;"
}

# tool_specs : the spec files the memory-checking stages (valgrind, ASan/UBSan) run: every spec but
# those whose traced interpreter runs no C of this project: the mock's own data set and server
# model (05, 06), the limiter's simulated decisions (35) and the terminal chart (86) are pure Lua,
# and every plain stage runs them on each Lua.
TOOL_SKIP=(spec/05-mock_spec.lua spec/06-mock_model_spec.lua spec/35-limiter_spec.lua spec/86-report_chart_spec.lua)
tool_specs() {
  local f s
  for f in "$ROOT"/spec/*_spec.lua; do
    for s in "${TOOL_SKIP[@]}"; do [ "$f" = "$ROOT/$s" ] && continue 2; done
    printf '%s\n' "${f#"$ROOT"/}"
  done
}

MOCK_URL=
mock_start() {
  local line
  line=$("$ROOT/mock/server" start "$@")
  MOCK_URL=${line#ACEDATA_MOCK_URL=}
  export ACEDATA_MOCK_URL=$MOCK_URL
}
mock_stop() {
  [ -n "$MOCK_URL" ] && "$ROOT/mock/server" stop "$MOCK_URL" || true
  MOCK_URL=
}
