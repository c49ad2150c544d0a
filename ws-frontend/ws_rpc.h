/* ws_rpc.h — madang-ws's requests to the broker (docs/broker-protocol.md), never blocking the
 * lws loop: one nng context per request in flight, completions handed back to the lws thread
 * (rpc_drain), a session's requests sent in order, and the requests of one loop turn batched
 * into one broker round trip (rpc_flush).
 *
 * One shape for every caller: rpc_req builds the request object, rpc_call sends it with the
 * caller's state (copied, given back to its completion), and the completion gets one decoded
 * result. Every failure, no memory included, reaches the caller through its completion.
 *
 * Threads: every function here runs on the lws thread; the nng aio callbacks (ws_rpc.c) run
 * on nng threads and only hand finished requests over under a mutex. */
#ifndef MADANG_WS_RPC_H
#define MADANG_WS_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "session.h"

struct lws_context;

/* rpc_result.rv besides 0 and nng's errors: the request was never sent. */
#define RPC_EBUSY  (-1) /* an ordered request of a session with WS_SESSION_RPC_MAX waiting */
#define RPC_ENOMEM (-2) /* out of memory building or sending it */

/* What a completion gets; valid during the call only. */
struct rpc_result {
	struct ws_session *sess; /* rpc_call.sess (a reference held until now), or NULL */
	int rv;       /* 0 when the broker replied, else RPC_EBUSY, RPC_ENOMEM or an nng error */
	bool unknown; /* rv != 0 after the request went out: it may have been applied */
	bool ok;      /* rv == 0 and the reply's "ok" is true */
	const char *error;   /* the reply's "error" when not ok (NULL when absent or rv != 0) */
	const char *message; /* the reply's "message", or NULL */
	cJSON *reply;        /* the reply object when rv == 0 (rpc's; the callee may change it) */
};

/* A completion: state is the caller's state as given to rpc_call (a copy owned by rpc, freed
 * after the call). */
typedef void (*rpc_done_fn)(void *state, struct rpc_result *r);

struct rpc_batch;

/* How a request goes. Zero is a lone, unordered request whose outcome nobody waits for. */
struct rpc_call {
	rpc_done_fn done;  /* runs exactly once per rpc_call, NULL: not wanted */
	const void *state; /* size bytes copied with the request (NULL, 0: none) */
	size_t size;
	struct ws_session *sess; /* the session it is for (a reference is held), or NULL */
	bool ordered;            /* after sess's earlier ordered requests (one run in flight) */
	size_t reply_bound;      /* the most bytes its reply can take (0: WS_REPLY_SMALL) */
	struct rpc_batch *batch; /* sent with this batch (rpc_batch_end), or NULL */
};

/* Starts the request side on socket req (a REQ socket, as an nng_socket's id); completions
 * wake the lws loop of ctx. */
void rpc_open(uint32_t req, struct lws_context *ctx);
/* After the socket is closed: stops every request in flight and frees them without their
 * completions. Nothing is sent, and no completion runs, afterwards. */
void rpc_close(void);
/* Requests in flight or held back (shutdown waits for them). */
size_t rpc_pending(void);
/* A result's rv for the log. */
const char *rpc_strerror(int rv);

/* A request object {"op": op, "frontend": <our id>[, "session": s->id]}, or NULL when out of
 * memory: rpc_call then fails it through its completion (cJSON's adders ignore a NULL object,
 * so the caller fills it without checking). */
cJSON *rpc_req(const char *op, const struct ws_session *s);
/* Sends req (consumed; NULL: out of memory) as c says. c->done runs on the lws thread from
 * rpc_drain with the result; when memory for the request itself runs out, it runs before
 * rpc_call returns, with rv RPC_ENOMEM and c->state itself. */
void rpc_call(cJSON *req, const struct rpc_call *c);
/* Requests applied by the broker in order in one round trip, each answered as if alone. NULL
 * when out of memory: the calls given a NULL batch go alone. */
struct rpc_batch *rpc_batch_begin(void);
/* Sends the batch's requests (none: only frees it). */
void rpc_batch_end(struct rpc_batch *b);
/* Sends this turn's requests, runs the completions of the finished ones. */
void rpc_drain(void);
/* Sends this turn's requests: at the end of every loop turn, and from rpc_drain. While a
 * request an earlier turn sent is unanswered, they may wait for it (policy_hold): then returns
 * how long at most, in ns, and the caller calls again by then. 0: nothing waits. */
uint64_t rpc_flush(void);

#endif
