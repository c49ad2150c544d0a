/* rpc.h — a blocking client for the broker's request/reply endpoint, safe to use from several
 * threads at once (one nng context per call). Used by madang-api and the tests. */
#ifndef MADANG_RPC_H
#define MADANG_RPC_H

#include <nng/nng.h>
#include <cjson/cJSON.h>

/* Opens a req0 socket dialing url in the background (it keeps redialing while the broker is
 * down). Requests are never resent by nng: a call that times out fails. Returns 0 or an nng error. */
int rpc_open(nng_socket *sock, const char *url);

/* Sends req and waits for the reply, both within timeout_ms in all, parsed into *reply (cJSON_Delete it).
 * Returns 0, NNG_ETIMEDOUT, another nng error, or NNG_EPROTO when the reply is not a JSON object. */
int rpc_call(nng_socket sock, const cJSON *req, cJSON **reply, int timeout_ms);

/* The same for a request already serialised as JSON text. */
int rpc_call_raw(nng_socket sock, const char *json, size_t len, cJSON **reply, int timeout_ms);

#endif
