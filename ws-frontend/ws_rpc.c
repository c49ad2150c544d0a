/* ws_rpc.c — madang-ws's requests to the broker, without ever blocking the lws loop.
 *
 * One nng_ctx + nng_aio per request in flight (a slot, kept for later ones: ws_slot.h). The
 * aio callback runs on an nng thread: it starts the receive after the send, parses the reply,
 * queues the job under a mutex and calls lws_cancel_service(); the lws thread then drains the
 * queue in LWS_CALLBACK_EVENT_WAIT_CANCELLED (rpc_drain) and runs each job's done callback.
 *
 * Order and batching: a client has one request (or one run of requests) in flight at a time
 * (the broker may reorder requests that are in flight together); what queues up meanwhile
 * becomes its next run. Each loop turn, the first requests of the clients that sent something
 * and the runs of those whose reply came back go to the broker together as batches (rpc_flush;
 * briefly held back while an earlier turn's are unanswered: policy_hold), a run never split
 * between two. A batch is applied by the broker in order and answered with one per request. */
#include <pthread.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <libwebsockets.h>
#include <nng/nng.h>

#include "clock.h"
#include "policy.h"
#include "wire.h"
#include "ws_rpc.h"
#include "ws_slot.h"
#include "ws_state.h"

_Static_assert(WS_SESSION_RPC_MAX <= UINT16_MAX, "ws_session.rpc_queued is a uint16_t");

/* One broker request: a caller's (rpc_call), or a batch of them. Fields above rv are set on the
 * lws thread before sending; rv, unknown and reply are set on an nng thread, then read on the
 * lws thread after the hand-over (done_mu). */
struct rpc_job {
	struct rpc_job *next, *prev; /* all jobs in flight (lws thread) */
	struct rpc_job *done_next;   /* completed queue (under done_mu) */
	struct rpc_slot *slot;       /* its nng context and aio once sent (ws_slot.h) */
	bool receiving, turn;        /* turn: sent by rpc_flush, counted in rpc.turn_flight */
	bool is_batch;           /* a batch: its requests in batch, its reply split among them */
	rpc_done_fn done;        /* the caller's completion, or NULL */
	struct ws_session *sess; /* a reference, or NULL */
	bool ordered;            /* the last of its session's run: its completion lets it go on */
	size_t reply_bound;      /* the most bytes its reply can take (0: WS_REPLY_SMALL) */
	size_t req_bound;        /* the most bytes its request takes as JSON (0: WS_REQ_SMALL) */
	cJSON *queued_req;       /* the request while it waits for its turn */
	struct rpc_job *sq_next; /* the session's queue, or the requests of a batch */
	struct rpc_job *batch;   /* a batch job: its requests, in order */
	int rv;                  /* 0 or an nng error */
	bool unknown;            /* rv != 0 after the request went out: it may have been applied */
	cJSON *reply;            /* parsed reply object when rv == 0 */
	_Alignas(max_align_t) unsigned char state[]; /* the caller's state (rpc_call.size) */
};

static struct {
	nng_socket req;
	struct lws_context *ctx;             /* woken when a job completes */
	bool exiting;                        /* closed: nothing new is sent */
	struct rpc_job *jobs;                /* in flight */
	struct rpc_job *out_head, *out_tail; /* sessions' requests of this loop turn (rpc_flush) */
	size_t out_n, njobs, turn_flight;    /* turn_flight: jobs rpc_flush sent, not done yet */
	uint64_t turn_sent_ns;               /* when rpc_flush last sent one (policy_hold) */
	pthread_mutex_t done_mu;
	struct rpc_job *done_head, *done_tail; /* completed, under done_mu (nng threads) */
} rpc = {.done_mu = PTHREAD_MUTEX_INITIALIZER};

void
rpc_open(uint32_t req, struct lws_context *ctx)
{
	rpc.req.id = req;
	rpc.ctx = ctx;
}

size_t
rpc_pending(void)
{
	return rpc.njobs + rpc.out_n; /* in flight, and held back (policy_hold) */
}

/* What a job may add to a batch: its reply's bytes and its request's. */
struct job_size {
	size_t reply, req;
};

static struct job_size
job_bound(const struct rpc_job *j)
{
	struct job_size z = {j->reply_bound ? j->reply_bound : WS_REPLY_SMALL,
	                     j->req_bound ? j->req_bound : WS_REQ_SMALL};
	return z;
}

/* True when a batch of size *sum cannot take one of size add (a batch's first always goes). */
static bool
batch_full(const struct job_size *sum, struct job_size add, int k)
{
	return k > 0 && (sum->reply + add.reply > WS_BATCH_REPLY_MAX ||
	                 sum->req + add.req > WS_BATCH_REQ_MAX);
}

static void
size_add(struct job_size *sum, struct job_size add)
{
	sum->reply += add.reply;
	sum->req += add.req;
}

/* Any thread: hands a finished job to the lws thread (rpc_drain) and wakes it. */
static void
done_push(struct rpc_job *j)
{
	pthread_mutex_lock(&rpc.done_mu);
	j->done_next = NULL;
	if (rpc.done_tail != NULL)
		rpc.done_tail->done_next = j;
	else
		rpc.done_head = j;
	rpc.done_tail = j;
	pthread_mutex_unlock(&rpc.done_mu);
	if (rpc.ctx != NULL)
		lws_cancel_service(rpc.ctx);
}

static void
rpc_aio_cb(void *arg)
{
	struct rpc_slot *sl = arg;
	struct rpc_job *j = sl->job;
	int rv = nng_aio_result(sl->aio);
	nng_msg *msg;

	if (rv == 0 && !j->receiving) {
		j->receiving = true;
		nng_ctx_recv(sl->ctx, sl->aio);
		return;
	}
	if (rv == 0) {
		const char *why;
		msg = nng_aio_get_msg(sl->aio); /* ours now (slot_give clears the aio's pointer) */
		j->reply =
		    wire_parse_object(nng_msg_body(msg), nng_msg_len(msg), WS_REPLY_MAX, &why);
		nng_msg_free(msg);
		if (j->reply == NULL)
			rv = NNG_EPROTO;
	} else if (j->receiving) {
		/* Sent, then no reply (timeout, lost connection): the broker may have applied it.
		 */
		j->unknown = true;
	} else if ((msg = nng_aio_get_msg(sl->aio)) != NULL) {
		nng_msg_free(msg); /* a failed send leaves the message with us */
		nng_aio_set_msg(sl->aio, NULL);
	}
	j->rv = rv;
	done_push(j);
}

/* A job for call c, its state copied; NULL when out of memory. */
static struct rpc_job *
job_new(const struct rpc_call *c)
{
	struct rpc_job *j = calloc(1, sizeof(*j) + c->size);

	if (j == NULL)
		return NULL;
	j->done = c->done;
	j->sess = c->sess != NULL ? sess_ref(c->sess) : NULL;
	j->reply_bound = c->reply_bound;
	if (c->size > 0)
		memcpy(j->state, c->state, c->size);
	return j;
}

static void
rpc_job_free(struct rpc_job *j)
{
	while (j->batch != NULL) {
		struct rpc_job *sub = j->batch;
		j->batch = sub->sq_next;
		rpc_job_free(sub);
	}
	cJSON_Delete(j->queued_req);
	slot_give(j->slot, !rpc.exiting); /* completed: kept for another request */
	cJSON_Delete(j->reply);
	sess_unref(j->sess);
	free(j);
}

/* Lists a job as in flight (rpc_drain takes it off when it completes). */
static void
job_link(struct rpc_job *j)
{
	j->next = rpc.jobs;
	j->prev = NULL;
	if (rpc.jobs != NULL)
		rpc.jobs->prev = j;
	rpc.jobs = j;
	rpc.njobs++;
}

/* Fails a job that never reached nng: it completes through the same queue. */
static void
rpc_fail_now(struct rpc_job *j, int rv)
{
	j->rv = rv;
	done_push(j);
}

/* Sends req (consumed; NULL: fails with RPC_ENOMEM) for j now. */
static void
rpc_send(struct rpc_job *j, cJSON *req)
{
	char *text = req != NULL ? cJSON_PrintUnformatted(req) : NULL;
	nng_msg *msg = NULL;
	int rv;

	cJSON_Delete(req);
	if (rpc.exiting) {
		free(text);
		rpc_job_free(j);
		return;
	}
	job_link(j);
	if (text == NULL) {
		rpc_fail_now(j, RPC_ENOMEM);
		return;
	}
	if ((rv = slot_take(rpc.req, rpc_aio_cb, j, &j->slot)) != 0 ||
	    (rv = nng_msg_alloc(&msg, 0)) != 0 ||
	    (rv = nng_msg_append(msg, text, strlen(text))) != 0) {
		free(text);
		if (msg != NULL)
			nng_msg_free(msg);
		rpc_fail_now(j, rv);
		return;
	}
	free(text);
	nng_aio_set_timeout(j->slot->aio, WS_RPC_TIMEOUT_MS);
	nng_aio_set_msg(j->slot->aio, msg);
	nng_ctx_send(j->slot->ctx, j->slot->aio);
}

/* Appends a job to this loop turn's requests (rpc_flush sends them). */
static void
out_append(struct rpc_job *j)
{
	j->sq_next = NULL;
	if (rpc.out_tail != NULL)
		rpc.out_tail->sq_next = j;
	else
		rpc.out_head = j;
	rpc.out_tail = j;
	rpc.out_n++;
}

/* Sends req for j after its session's earlier ordered requests. */
static void
rpc_send_ordered(struct rpc_job *j, cJSON *req)
{
	struct ws_session *s = j->sess;

	j->ordered = true;
	if (!s->rpc_busy) {
		/* Goes out with the other sessions' requests of this loop turn (rpc_flush, called
		 * at the end of the loop turn). */
		s->rpc_busy = true;
		j->queued_req = req;
		out_append(j);
		return;
	}
	if (s->rpc_queued >= WS_SESSION_RPC_MAX) {
		/* Busy: it completes at once, outside the session's order. */
		cJSON_Delete(req);
		j->ordered = false;
		job_link(j);
		rpc_fail_now(j, RPC_EBUSY);
		return;
	}
	j->queued_req = req;
	/* A ring, the session holding its tail: the tail's sq_next is the head. */
	struct rpc_job *tail = s->rpc_tail;
	j->sq_next = tail != NULL ? tail->sq_next : j;
	if (tail != NULL)
		tail->sq_next = j;
	s->rpc_tail = j;
	s->rpc_queued++;
}

/* The session's requests in flight are done: what queued up meanwhile (up to WS_BATCH_MAX)
 * joins this loop turn's requests as one run, in order, so that the follow-ups of every session
 * whose reply came in this turn share one batch and one broker round trip. Only the run's last
 * job is marked ordered: its completion lets the session go on. */
static void
rpc_next_ordered(struct ws_session *s)
{
	struct rpc_job *n = NULL, *tail;
	struct job_size sum = {0, 0};

	if (s->rpc_tail == NULL) {
		s->rpc_busy = false;
		return;
	}
	for (int k = 0; k < WS_BATCH_MAX && (tail = s->rpc_tail) != NULL; k++) {
		/* A run fits in one batch, request and reply (the rest is the next run). */
		if (batch_full(&sum, job_bound(tail->sq_next), k))
			break;
		size_add(&sum, job_bound(tail->sq_next));
		n = tail->sq_next; /* the head */
		if (n == tail)
			s->rpc_tail = NULL;
		else
			tail->sq_next = n->sq_next;
		s->rpc_queued--;
		n->ordered = false;
		out_append(n);
	}
	n->ordered = true;
}

/* The job's queued request, now the caller's. */
static cJSON *
rpc_take_req(struct rpc_job *j)
{
	cJSON *req = j->queued_req;

	j->queued_req = NULL;
	return req;
}

/* Runs a finished job's completion with its result decoded. */
static void
job_complete(struct rpc_job *j)
{
	struct rpc_result r = {.sess = j->sess, .rv = j->rv, .unknown = j->unknown};
	bool ok = false;

	if (j->done == NULL || rpc.exiting)
		return;
	if (j->rv == 0) {
		r.reply = j->reply;
		r.ok = wire_bool(j->reply, "ok", &ok) && ok;
		r.error = r.ok ? NULL : wire_str(j->reply, "error", NULL);
		r.message = r.ok ? NULL : wire_str(j->reply, "message", NULL);
	}
	j->done(j->state, &r);
}

/* A batch's reply: each request gets its own reply, in order, as if sent alone. */
static void
rpc_batch_done(struct rpc_job *b)
{
	cJSON *replies = NULL, *r = NULL;
	bool ok = false;

	if (b->rv == 0 && wire_bool(b->reply, "ok", &ok) && ok) {
		replies = cJSON_GetObjectItemCaseSensitive(b->reply, "replies");
		r = cJSON_IsArray(replies) ? replies->child : NULL;
	}
	while (b->batch != NULL) {
		struct rpc_job *sub = b->batch;
		b->batch = sub->sq_next;
		sub->rv = b->rv;
		sub->unknown = b->unknown;
		if (b->rv == 0 && replies != NULL) {
			if (r != NULL) {
				struct cJSON *next = r->next;
				sub->reply = cJSON_DetachItemViaPointer(replies, r);
				r = next;
			}
			if (!cJSON_IsObject(sub->reply))
				sub->rv = NNG_EPROTO;
		} else if (b->rv == 0) {
			/* The whole batch was refused: each request shares the refusal. */
			if ((sub->reply = cJSON_Duplicate(b->reply, true)) == NULL)
				sub->rv = RPC_ENOMEM;
		}
		job_complete(sub);
		/* The last request of a session's run lets that session go on. */
		if (sub->ordered && sub->sess != NULL && !rpc.exiting)
			rpc_next_ordered(sub->sess);
		rpc_job_free(sub);
	}
}

/* An empty batch, or NULL when out of memory. */
static struct rpc_job *
batch_new(void)
{
	struct rpc_job *b = calloc(1, sizeof(*b));

	if (b != NULL)
		b->is_batch = true;
	return b;
}

/* Appends sub to batch b; b takes over req. */
static void
batch_add(struct rpc_job *b, struct rpc_job *sub, cJSON *req)
{
	struct rpc_job **tail = &b->batch;

	while (*tail != NULL)
		tail = &(*tail)->sq_next;
	sub->queued_req = req;
	sub->sq_next = NULL;
	*tail = sub;
}

/* Sends a batch of at least one request. */
static void
batch_send(struct rpc_job *b)
{
	cJSON *req = cJSON_CreateObject(), *list = cJSON_CreateArray();

	for (struct rpc_job *sub = b->batch; sub != NULL; sub = sub->sq_next) {
		if (list != NULL)
			cJSON_AddItemToArray(list, sub->queued_req);
		else
			cJSON_Delete(sub->queued_req);
		sub->queued_req = NULL;
	}
	if (req != NULL && list != NULL) {
		cJSON_AddStringToObject(req, "op", "batch");
		cJSON_AddItemToObject(req, "requests", list);
	} else {
		cJSON_Delete(req);
		cJSON_Delete(list);
		req = NULL; /* rpc_send fails the batch: every request gets RPC_ENOMEM */
	}
	rpc_send(b, req);
}

/* The number of jobs from the head of the turn's list up to the end of the first run, and the
 * sum of their bounds in *z. */
static int
out_run_len(const struct rpc_job *n, struct job_size *z)
{
	int len = 1;

	*z = job_bound(n);
	for (; !n->ordered && n->sq_next != NULL; n = n->sq_next) {
		len++;
		size_add(z, job_bound(n->sq_next));
	}
	return len;
}

/* Counts j among rpc_flush's requests in flight (policy_hold); returns it. */
static struct rpc_job *
turn_job(struct rpc_job *j, uint64_t now)
{
	j->turn = true;
	rpc.turn_flight++;
	rpc.turn_sent_ns = now;
	return j;
}

/* Sends this loop turn's requests (and those policy_hold held back): a lone one as it is, else
 * batches of at most WS_BATCH_MAX, a session's run never split between two (the broker may apply
 * two batches in either order). Returns how long the requests held back may still wait, in ns. */
uint64_t
rpc_flush(void)
{
	uint64_t now, wait;

	if (rpc.out_head == NULL)
		return 0; /* (no clock read: on some virtual machines it is a system call) */
	now = clock_mono_ns();
	struct hold_in h = {rpc.out_n, WS_BATCH_MAX, rpc.turn_flight, now - rpc.turn_sent_ns};
	if (!rpc.exiting && (wait = policy_hold(&h)) > 0)
		return wait; /* sent at the end of the turn that brings the reply, or after wait */
	rpc.out_n = 0;
	while (rpc.out_head != NULL) {
		struct rpc_job *n = rpc.out_head, *b;
		int len;

		if (n->sq_next == NULL) {
			rpc.out_head = rpc.out_tail = NULL;
			rpc_send(turn_job(n, now), rpc_take_req(n));
			continue;
		}
		if ((b = batch_new()) == NULL) {
			/* No memory for the batch: the turn's requests fail (none reached the
			 * broker, so their order does not matter). */
			rpc.out_head = n->sq_next;
			if (rpc.out_head == NULL)
				rpc.out_tail = NULL;
			cJSON_Delete(rpc_take_req(n));
			rpc_send(turn_job(n, now), NULL);
			continue;
		}
		struct job_size sum = {0, 0}, run;
		for (int k = 0; rpc.out_head != NULL; k += len) {
			len = out_run_len(rpc.out_head, &run);
			if (k + len > WS_BATCH_MAX || batch_full(&sum, run, k))
				break;
			size_add(&sum, run);
			for (int i = 0; i < len; i++) {
				n = rpc.out_head;
				rpc.out_head = n->sq_next;
				batch_add(b, n, rpc_take_req(n));
			}
		}
		if (rpc.out_head == NULL)
			rpc.out_tail = NULL;
		batch_send(turn_job(b, now));
	}
	return 0;
}

void
rpc_drain(void)
{
	struct rpc_job *j;

	(void)rpc_flush(); /* what is held back goes at the end of the turn (the caller's) */

	pthread_mutex_lock(&rpc.done_mu);
	j = rpc.done_head;
	rpc.done_head = rpc.done_tail = NULL;
	pthread_mutex_unlock(&rpc.done_mu);
	while (j != NULL) {
		struct rpc_job *next = j->done_next;
		if (j->prev != NULL)
			j->prev->next = j->next;
		else
			rpc.jobs = j->next;
		if (j->next != NULL)
			j->next->prev = j->prev;
		rpc.njobs--;
		rpc.turn_flight -= j->turn;
		if (j->is_batch)
			rpc_batch_done(j);
		else
			job_complete(j);
		if (j->ordered && j->sess != NULL && !rpc.exiting)
			rpc_next_ordered(j->sess);
		rpc_job_free(j);
		j = next;
	}
}

void
rpc_close(void)
{
	for (struct rpc_job *j = rpc.jobs; j != NULL; j = j->next)
		if (j->slot != NULL)
			nng_aio_stop(j->slot->aio);
	rpc.exiting = true; /* nothing new is sent, no completion runs */
	rpc_drain();
	slot_drop_all();
}

void
rpc_call(cJSON *req, const struct rpc_call *c)
{
	struct rpc_job *j;
	size_t n;

	if (rpc.exiting) {
		cJSON_Delete(req);
		return;
	}
	if ((j = job_new(c)) == NULL) {
		struct rpc_result r = {.sess = c->sess, .rv = RPC_ENOMEM};
		cJSON_Delete(req);
		if (c->done != NULL)
			c->done((void *)c->state, &r);
		return;
	}
	if (req == NULL) {
		/* Out of memory building it: fails at once, outside any order or batch. */
		job_link(j);
		rpc_fail_now(j, RPC_ENOMEM);
		return;
	}
	if (wire_str(req, "text", &n) != NULL)
		j->req_bound = 2 * n + WS_REQ_SMALL; /* JSON escapes at most double a text */
	if (c->batch != NULL)
		batch_add((struct rpc_job *)c->batch, j, req);
	else if (c->ordered && c->sess != NULL)
		rpc_send_ordered(j, req);
	else
		rpc_send(j, req);
}

struct rpc_batch *
rpc_batch_begin(void)
{
	return (struct rpc_batch *)batch_new();
}

void
rpc_batch_end(struct rpc_batch *rb)
{
	struct rpc_job *b = (struct rpc_job *)rb;

	if (b != NULL && b->batch == NULL)
		rpc_job_free(b);
	else if (b != NULL)
		batch_send(b);
}
