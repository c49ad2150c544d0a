/* ws_rpc.h — madang-ws's requests to the broker (docs/broker-protocol.md), never blocking the
 * lws loop: one nng context per request in flight, completions handed back to the lws thread
 * (rpc_drain), a session's requests sent in order, and the requests of one loop turn batched
 * into one broker round trip (rpc_flush).
 *
 * Threads: every function here runs on the lws thread; the nng aio callbacks (ws_rpc.c) run
 * on nng threads and only hand finished jobs over under a mutex. */
#ifndef MADANG_WS_RPC_H
#define MADANG_WS_RPC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <nng/nng.h>

#include "limits.h"
#include "session.h"

struct lws_context;

struct rpc_job;
typedef void (*rpc_done_fn)(struct rpc_job *j);

/* One broker request in flight. Fields above `rv` are set by the lws thread before sending;
 * rv and reply are set on an nng thread, then read on the lws thread after the hand-over. */
struct rpc_job {
	struct rpc_job *next, *prev; /* all jobs in flight (lws thread) */
	struct rpc_job *done_next;   /* completed queue (under done_mu) */
	nng_ctx ctx;
	nng_aio *aio;
	bool receiving;
	rpc_done_fn done;
	struct ws_session *sess; /* a reference, or NULL */
	char room_id[MADANG_ROOM_ID_MAX + 1];
	uint64_t generation; /* the room's generation when sent */
	bool has_below;      /* join: asked for the history before below only (joins.c) */
	uint64_t below;
	char client_id[MADANG_CLIENT_ID_MAX + 1];
	int kind;                /* what the caller needs to tell replies apart */
	char *text;              /* a copy the reply handler needs (private text), or NULL */
	bool ordered;            /* one of its session's requests, sent in order */
	size_t reply_bound;      /* the most bytes its reply can take (0: WS_REPLY_SMALL) */
	size_t req_bound;        /* the most bytes its request takes as JSON (0: WS_REQ_SMALL) */
	size_t reserved;         /* history: bytes reserved in the session's and address's budget */
	cJSON *queued_req;       /* the request while it waits for its turn */
	struct rpc_job *sq_next; /* the session's queue, or the requests of a batch */
	struct rpc_job *batch;   /* a batch job: its requests, in order */
	int rv;                  /* 0 or an nng error */
	bool unknown;            /* rv != 0 after the request went out: it may have been applied */
	cJSON *reply;            /* parsed reply object when rv == 0 */
};

/* Starts the request side on socket req; completions wake the lws loop of ctx. */
void rpc_open(nng_socket req, struct lws_context *ctx);
/* After the socket is closed: stops every request in flight, runs no more callbacks, frees
 * them. Nothing is sent afterwards (rpc_send frees what it is given). */
void rpc_close(void);
/* Requests in flight (shutdown waits for them). */
size_t rpc_pending(void);

/* A request object {"op": op, "frontend": <our id>[, "session": s->id]}, or NULL when out of
 * memory (rpc_send then fails the job through its done callback). */
cJSON *rpc_req(const char *op, const struct ws_session *s);
/* The reply's "ok", and its "error" and "message" (each NULL when absent) in *err and *msg:
 * false with *err "internal"-free NULLs when rv != 0 or the reply has no ok. Pointers live as
 * long as the job. err and msg may be NULL. */
bool rpc_reply_ok(const struct rpc_job *j, const char **err, const char **msg);

/* A job for done (called on the lws thread with the job, which rpc frees after it), holding a
 * reference to s (NULL: none). NULL when out of memory. */
struct rpc_job *rpc_job_new(rpc_done_fn done, struct ws_session *s);
/* Frees a job that was never sent (its request too). */
void rpc_job_discard(struct rpc_job *j);
/* Sends req (consumed; NULL: fails with NNG_ENOMEM) for j; j->done runs on the lws thread with
 * j->rv 0 and j->reply set, or j->rv an nng error. Every failure completes through done. */
void rpc_send(struct rpc_job *j, cJSON *req);
/* Like rpc_send for a job of a session: after the session's earlier requests. Returns -1 (and
 * frees req and j, done not called) when WS_SESSION_RPC_MAX requests already wait. */
int rpc_send_ordered(struct rpc_job *j, cJSON *req);
/* Sends this turn's requests, runs the done callbacks of the completed ones (lws thread). */
void rpc_drain(void);
/* Sends this turn's requests: at the end of every loop turn, and from rpc_drain. */
void rpc_flush(void);
/* Several requests in one broker round trip, applied in order: each sub-job gets its own reply
 * and its done callback, as if sent alone. rpc_batch_add takes over req. NULL: no memory. */
struct rpc_job *rpc_batch_new(void);
void rpc_batch_add(struct rpc_job *b, struct rpc_job *sub, cJSON *req);
/* Sends the batch, or frees it when no request was added. */
void rpc_batch_send(struct rpc_job *b);

#endif
