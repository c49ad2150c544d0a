/* rpc.h — a blocking client for the broker's request/reply endpoint, safe to use from several
 * threads at once (one nng context per call). Used by madang-api, the tests and
 * madang-bench-broker. One req0 socket may dial several brokers (an active one and its standbys):
 * nng sends each request to a connected pipe, and a standby does not listen, so only the active
 * broker has one. */
#ifndef MADANG_RPC_H
#define MADANG_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nng/nng.h>
#include <cjson/cJSON.h>

#include "tls.h"

/* Largest reply accepted (NNG_OPT_RECVMAXSZ) and parsed. */
#define RPC_REPLY_MAX (16u * 1024 * 1024)
/* Redial back-off of every dialer: from RPC_RECONN_MIN_MS up to RPC_RECONN_MAX_MS. */
#define RPC_RECONN_MIN_MS 50
#define RPC_RECONN_MAX_MS 1000

/* Opens a req0 socket without dialers: requests are never resent by nng (a call whose pipe is
 * lost fails, it is never replayed against another broker), replies up to RPC_REPLY_MAX.
 * Returns 0 or an nng error. */
int rpc_socket(nng_socket *sock);

/* rpc_socket, then tls_dial of each of the n urls. On failure nothing stays open and err says
 * which URL failed. Returns 0 or an nng error. */
int rpc_open_urls(nng_socket *sock, const char *const *urls, size_t n, const struct tls_opts *tls,
                  const char *who, char *err, size_t errsz);

/* A pipe event callback (arg: who, valid while the socket is open) that logs "who: broker link
 * up: URL" and "who: broker link down: URL" each time one of the socket's dialers connects or
 * loses its connection (an active broker coming up after a failover, a broker going away).
 * madang-api passes it to common/redial.h, which owns the socket's pipe events. */
void rpc_link_event(nng_pipe p, nng_pipe_ev ev, void *arg);

/* rpc_open_urls of one URL without TLS. Returns 0 or an nng error. */
int rpc_open(nng_socket *sock, const char *url);

/* Sends json and waits for the reply: the send waits for a connected broker until deadline_ms
 * (clock_mono_ms), the reply then waits at most reply_ms and never past deadline_ms. The reply is
 * parsed into *reply (cJSON_Delete it). *sent (may be NULL) says whether the request reached a
 * broker: when it did and the call failed, the broker may have acted on it. Returns 0,
 * NNG_ETIMEDOUT, NNG_ECONNRESET (the broker's pipe closed before the reply), another nng error,
 * or NNG_EPROTO when the reply is not a JSON object. */
int rpc_call_until(nng_socket sock, const char *json, size_t len, cJSON **reply,
                   uint64_t deadline_ms, int reply_ms, bool *sent);

/* Sends req and waits for the reply, both within timeout_ms in all, parsed into *reply
 * (cJSON_Delete it). Returns 0, NNG_ETIMEDOUT, another nng error, or NNG_EPROTO when the reply is
 * not a JSON object. */
int rpc_call(nng_socket sock, const cJSON *req, cJSON **reply, int timeout_ms);

/* The same for a request already serialised as JSON text. */
int rpc_call_raw(nng_socket sock, const char *json, size_t len, cJSON **reply, int timeout_ms);

#endif
