/*
 * A tiny LD_PRELOAD companion for scripts/check/sanitize and scripts/check/valgrind-free runs:
 * preloaded after the ASan runtime, it removes LD_PRELOAD from the environment as soon as the
 * process starts, so only that process gets the sanitizer runtime; the programs it spawns (sh,
 * make, nginx, openssl) run as usual. Lua interpreters the specs spawn get it again through the
 * lua5.4 wrapper that scripts/check/sanitize puts first on PATH.
 */
#include <stdlib.h>

__attribute__((constructor)) static void preload_once(void) { unsetenv("LD_PRELOAD"); }
