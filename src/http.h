/*
 * HTTP GETs over libcurl for the Lua layer's transports: blocking (core.session) and
 * non-blocking (core.multi, for event loops and concurrent paging).
 *
 * Files: http.c (this entry point), http_session.c, http_multi.c, http_xfer.c (one transfer:
 * callbacks, buffers, results), http_opts.c (options), strbuf.c (the byte buffer).
 *
 * ---- Options (core.session and core.multi take the same table; every key optional) ----------
 *
 *   {
 *     timeout = 30,            -- seconds for a whole request (float ok; 0 = no limit)
 *     connect_timeout = 10,    -- seconds to connect (0 = libcurl's default, 300 s)
 *     ssl_verify = true,       -- verify the peer certificate and the host name
 *     ca_file = nil,           -- PEM bundle path (default: libcurl's bundle)
 *     user_agent = nil,        -- default "acedata-lua/<version> (Lua 5.4; libcurl/7.88.1)"
 *     max_body = 268435456,    -- bytes of (decompressed) body; more aborts the request
 *   }
 *   Misuse raises at once: options not a table, an unknown name, a value of the wrong type (numbers
 *   must be numbers, not numeric strings) or out of range (negative, NaN, max_body not an integer).
 *
 * Fixed behaviour of every request: GET; Accept-Encoding of everything libcurl supports, decoded
 * transparently; http and https only, also for redirects; redirects followed (at most 5); a custom
 * Authorization header is not forwarded when a redirect leads to another host or port (libcurl
 * >= 7.58 with CURLOPT_UNRESTRICTED_AUTH off); proxies from the environment (http_proxy,
 * https_proxy, no_proxy) as libcurl does by default; TCP keep-alive; no signals.
 *
 * ---- Blocking: core.session(opts) -> session --------------------------------------------------
 *
 *   One easy handle per session; its connection is kept alive and reused by the next call.
 *
 *   local status, hdrs = s:get(url [, header_lines [, timeout_override]])
 *     header_lines  array of "Name: value" strings. A non-string, or a NUL, CR or LF byte in a line
 *                   raises (the Lua layer checks first; this is the backstop). libcurl's rules
 *                   apply: "Name:" removes a default header, "Name;" sends it empty.
 *     timeout_override  seconds (a number > 0, at most 2000000) for this call only, in place of
 *                   the session's timeout (the Lua layer passes what is left of a deadline);
 *                   nil = the session's. Anything else raises.
 *     status        integer HTTP status of the final response (4xx/5xx are responses, not failures)
 *     hdrs          table: lower-case name -> trimmed value, last one wins, of the final response
 *                   only (redirects and 1xx interim responses are dropped)
 *   on a transport failure instead:  nil, kind, message, curl_code, proxy_status
 *     kind          "timeout"  CURLE_OPERATION_TIMEDOUT
 *                   "tls"      the SSL/TLS errors (handshake, verification, CA file, pinning, ...)
 *                   "proxy"    the proxy refused the CONNECT tunnel (proxy_status: its HTTP
 *                              status, CURLINFO_HTTP_CONNECTCODE), or the proxy's name did not
 *                              resolve, or a proxy handshake failed (proxy_status nil)
 *                   "network"  everything else, including a body over max_body
 *                              (message "response body larger than N bytes", curl_code 23)
 *     message       libcurl's error buffer, else curl_easy_strerror(curl_code); never any part of
 *                   the request headers
 *     curl_code     integer CURLcode
 *     proxy_status  integer status of the proxy's answer to CONNECT (>= 300), else nil
 *   local v, msg = s:decode([opts])   -- ad_decode over the last body; opts as core.decode's
 *                                     -- (null = value, array_mt = boolean)
 *   local body = s:body()             -- the last body as a string ("" after a failure)
 *   local info = s:info()             -- { connects = new connections made by this session so far,
 *                                     --   total_time = seconds of the last request,
 *                                     --   url = effective URL of the last request (or nil) }
 *   s:close()                         -- frees everything; also __gc, and __close on 5.4.
 *                                     -- Closing twice is fine; any other method of a closed
 *                                     -- session raises "session is closed".
 *
 * ---- Non-blocking: core.multi(opts) -> multi ---------------------------------------------------
 *
 *   libcurl's multi interface. Requests run concurrently, as many as the caller adds (no internal
 *   queue); they share the multi's connection cache, and finished easy handles go back to a small
 *   pool (8) for the next request. Nothing here blocks except m:wait.
 *
 *   local req = m:add(url [, header_lines [, timeout_override]])
 *                   -- starts a GET (header_lines and timeout_override as for s:get)
 *     req:id()        integer, unique in this multi, increasing from 1
 *     req:state()     "running" | "done" | "cancelled"
 *     req:result()    status, hdrs | nil, kind, message, curl_code, proxy_status (as s:get)
 *     req:status()    the same without the headers table: status | nil, kind, message, ...
 *     req:headers()   the headers table alone (built at each call; empty after a failure)
 *     req:decode([opts]), req:body(), req:info()                       (as the session's)
 *                     these six raise "request is still running" / "request was cancelled"
 *     req:release()   the body is no longer needed: its buffer goes back to the multi for the
 *                     next request (no regrowth per response). Status, headers and info stay;
 *                     req:decode and req:body then raise "request body was released".
 *     req:cancel()    stops a running request -> true; false if it was not running
 *     A request keeps its multi alive. A running request whose handle is garbage collected is
 *     cancelled: keep the handles you want results of.
 *
 *   Plain Lua (e.g. concurrent paging):
 *     m:perform() -> running        drives every transfer as far as possible without waiting
 *     m:wait([ms=1000]) -> running  waits up to ms for activity (curl_multi_poll), then performs;
 *                                   returns 0 at once when nothing runs
 *     m:wait_done([ms=1000]) -> running
 *                                   m:wait repeated inside C until a request has finished (it is
 *                                   in m:done()), nothing runs, or ms have passed
 *     m:done() -> { id, ... }       requests finished since the last call, in completion order
 *     m:finished() -> n             how many m:done() would list now (no table made)
 *     m:running() -> n              requests in flight (m:info().running, no table made)
 *
 *   Event loops (luv in Neovim, ...), libcurl's socket API; the loop owns the waiting:
 *     m:socket_action(fd, flags) -> running
 *                     fd ready with flags "r", "w", "rw" ("e": error); fd = -1 with "" when the
 *                     timer expired (or to kick off newly added requests)
 *     m:poll_changes() -> { {fd = n, what = "r"|"w"|"rw"|"remove"|""}, ... }
 *                     socket interest changes since the last call, to apply in order ("" = known
 *                     socket, no interest yet). At most [remove, new interest] per fd, so a
 *                     closed-and-reused fd number is re-registered and the list stays bounded.
 *     m:timeout() -> ms   when libcurl wants m:socket_action(-1, ""): 0 = now, -1 = no timer.
 *                     (curl_multi_timeout: the value CURLMOPT_TIMERFUNCTION would report,
 *                     measured at the call, so it is never stale.) Re-arm one timer after each
 *                     socket_action.
 *     Then m:done() as above. Typical loop step: on readiness or timer -> m:socket_action(...);
 *     apply m:poll_changes(); re-arm the timer from m:timeout(); handle m:done().
 *     (Use one driving style per multi; m:wait/m:perform do work with it but bypass the loop.)
 *
 *   m:info() -> { connects = new connections so far, running = n, pooled = idle easy handles }
 *   m:close()  cancels the running requests (their state becomes "cancelled"), frees everything;
 *              also __gc (and __close on 5.4). Closing twice is fine; any other method of a closed
 *              multi raises "multi is closed". Finished requests keep their results.
 *   Misuse (bad arguments, a closed multi) raises; so does a libcurl multi error or running out of
 *   memory. Transfer failures are never raised: they are the request's result.
 *
 * ---- Memory and errors -------------------------------------------------------------------------
 *
 * No Lua error is ever raised while libcurl is on the C stack, and no callback calls Lua: the
 * write, header and socket callbacks only append to malloc'd buffers/arrays owned by a userdata
 * (session, request or multi); Lua values are built after curl has returned. So a memory error
 * while building a result leaks nothing, and the request header list, built only after all its
 * lines were checked, is owned by the userdata as well.
 *
 * core.curl_version() -> "7.88.1": the version of the libcurl loaded at run time.
 */
#ifndef ACEDATA_HTTP_H
#define ACEDATA_HTTP_H

#include <lua.h>

/* Initialises libcurl (curl_global_init: reference counted, thread-safe since 7.84) and sets
 * core.session, core.multi and core.curl_version into the table at the stack top. */
void ad_http_open(lua_State *L);

#endif
