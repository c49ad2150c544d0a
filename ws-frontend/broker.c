/* broker.c — madang-ws's side of the broker (docs/broker-protocol.md): asynchronous requests,
 * the event stream inside the lws loop, and the front-end lifecycle (hello, heartbeat, sync).
 *
 * How broker traffic reaches the lws thread without blocking it:
 * * Events: the SUB socket's NNG_OPT_RECVFD is readable while messages are queued. A dup() of
 *   it is adopted into lws as a raw file descriptor; its RAW_RX_FILE callback drains the socket
 *   with NNG_FLAG_NONBLOCK, at most WS_EVENT_BUDGET messages per turn. No extra thread, and
 *   events are handled in arrival order by the thread that owns the rooms.
 * * Requests: one nng_ctx + nng_aio per request in flight (struct rpc_job). The aio callback
 *   runs on an nng thread: it starts the receive after the send, parses the reply, appends the
 *   job to a mutex-protected queue and calls lws_cancel_service(); the lws thread then drains
 *   the queue in LWS_CALLBACK_EVENT_WAIT_CANCELLED (rpc_drain) and runs each job's done
 *   callback. The loop never waits for the broker. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/req.h>

#include "log.h"
#include "clock.h"
#include "cmd.h"
#include "validate.h"
#include "wire.h"
#include "ws.h"

#define BROKER_RECVBUF   8192            /* SUB queue (nng's maximum) */
#define BROKER_REPLY_MAX (16 * 1024 * 1024)

static void
rpc_aio_cb(void *arg)
{
	struct rpc_job *j = arg;
	int rv = nng_aio_result(j->aio);
	nng_msg *msg;

	if (rv == 0 && !j->receiving) {
		j->receiving = true;
		nng_ctx_recv(j->ctx, j->aio);
		return;
	}
	if (rv == 0) {
		const char *why;
		msg = nng_aio_get_msg(j->aio);
		j->reply = wire_parse_object(nng_msg_body(msg), nng_msg_len(msg), BROKER_REPLY_MAX,
					     &why);
		nng_msg_free(msg);
		if (j->reply == NULL)
			rv = NNG_EPROTO;
	} else if (!j->receiving && (msg = nng_aio_get_msg(j->aio)) != NULL) {
		nng_msg_free(msg); /* a failed send leaves the message with us */
		nng_aio_set_msg(j->aio, NULL);
	}
	j->rv = rv;
	pthread_mutex_lock(&ws->done_mu);
	j->done_next = NULL;
	if (ws->done_tail != NULL)
		ws->done_tail->done_next = j;
	else
		ws->done_head = j;
	ws->done_tail = j;
	pthread_mutex_unlock(&ws->done_mu);
	lws_cancel_service(ws->ctx);
}

struct rpc_job *
rpc_job_new(rpc_done_fn done, struct ws_session *s)
{
	struct rpc_job *j = calloc(1, sizeof(*j));

	if (j == NULL)
		return NULL;
	j->done = done;
	j->sess = s != NULL ? sess_ref(s) : NULL;
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
	if (j->aio != NULL)
		nng_aio_free(j->aio);
	nng_ctx_close(j->ctx);
	cJSON_Delete(j->reply);
	sess_unref(j->sess);
	free(j->text);
	free(j);
}

/* Fails a job that never reached nng: it completes through the same queue. */
static void
rpc_fail_now(struct rpc_job *j, int rv)
{
	j->rv = rv;
	pthread_mutex_lock(&ws->done_mu);
	j->done_next = NULL;
	if (ws->done_tail != NULL)
		ws->done_tail->done_next = j;
	else
		ws->done_head = j;
	ws->done_tail = j;
	pthread_mutex_unlock(&ws->done_mu);
	lws_cancel_service(ws->ctx);
}

void
rpc_send(struct rpc_job *j, cJSON *req)
{
	char *text = req != NULL ? cJSON_PrintUnformatted(req) : NULL;
	nng_msg *msg = NULL;
	int rv;

	cJSON_Delete(req);
	if (ws->exiting) {
		free(text);
		rpc_job_free(j);
		return;
	}
	j->next = ws->jobs;
	j->prev = NULL;
	if (ws->jobs != NULL)
		ws->jobs->prev = j;
	ws->jobs = j;
	ws->njobs++;
	if (text == NULL) {
		rpc_fail_now(j, NNG_ENOMEM);
		return;
	}
	if ((rv = nng_ctx_open(&j->ctx, ws->req)) != 0 ||
	    (rv = nng_aio_alloc(&j->aio, rpc_aio_cb, j)) != 0 ||
	    (rv = nng_msg_alloc(&msg, 0)) != 0 || (rv = nng_msg_append(msg, text, strlen(text))) != 0) {
		free(text);
		if (msg != NULL)
			nng_msg_free(msg);
		rpc_fail_now(j, rv);
		return;
	}
	free(text);
	nng_aio_set_timeout(j->aio, WS_RPC_TIMEOUT_MS);
	nng_aio_set_msg(j->aio, msg);
	nng_ctx_send(j->ctx, j->aio);
}

int
rpc_send_ordered(struct rpc_job *j, cJSON *req)
{
	struct ws_session *s = j->sess;

	j->ordered = true;
	if (!s->rpc_busy) {
		/* Goes out with the other sessions' requests of this loop turn (rpc_flush). */
		s->rpc_busy = true;
		j->queued_req = req;
		j->sq_next = NULL;
		if (ws->out_tail != NULL)
			ws->out_tail->sq_next = j;
		else
			ws->out_head = j;
		ws->out_tail = j;
		if (!ws->out_kicked) {
			ws->out_kicked = true;
			lws_cancel_service(ws->ctx);
		}
		return 0;
	}
	if (s->rpc_queued >= WS_SESSION_RPC_MAX) {
		cJSON_Delete(req);
		rpc_job_free(j);
		return -1;
	}
	j->queued_req = req;
	j->sq_next = NULL;
	if (s->rpc_tail != NULL)
		((struct rpc_job *)s->rpc_tail)->sq_next = j;
	else
		s->rpc_head = j;
	s->rpc_tail = j;
	s->rpc_queued++;
	return 0;
}

static void rpc_next_ordered(struct ws_session *s);

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
				sub->rv = NNG_ENOMEM;
		}
		if (sub->done != NULL)
			sub->done(sub);
		/* A turn's batch holds one request of each of several sessions: each may go on. */
		if (sub->ordered && !b->ordered && sub->sess != NULL && !ws->exiting)
			rpc_next_ordered(sub->sess);
		rpc_job_free(sub);
	}
}

struct rpc_job *
rpc_batch_new(struct ws_session *s)
{
	return rpc_job_new(rpc_batch_done, s);
}

void
rpc_batch_discard(struct rpc_job *b)
{
	rpc_job_free(b);
}

void
rpc_batch_add(struct rpc_job *b, struct rpc_job *sub, cJSON *req)
{
	struct rpc_job **tail = &b->batch;

	while (*tail != NULL)
		tail = &(*tail)->sq_next;
	sub->queued_req = req;
	sub->sq_next = NULL;
	*tail = sub;
}

void
rpc_batch_send(struct rpc_job *b)
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
		req = NULL; /* rpc_send fails the batch: every request gets NNG_ENOMEM */
	}
	rpc_send(b, req);
}

/* The session's request in flight is done: send the next one, or everything that queued up
 * meanwhile as one batch (in order; one broker round trip instead of one per request). */
static void
rpc_next_ordered(struct ws_session *s)
{
	struct rpc_job *n = s->rpc_head, *b;

	if (n == NULL) {
		s->rpc_busy = false;
		return;
	}
	if (n->sq_next == NULL || (b = rpc_batch_new(s)) == NULL) {
		s->rpc_head = n->sq_next;
		if (s->rpc_head == NULL)
			s->rpc_tail = NULL;
		s->rpc_queued--;
		cJSON *req = n->queued_req;
		n->queued_req = NULL;
		rpc_send(n, req);
		return;
	}
	b->ordered = true;
	for (int k = 0; k < WS_BATCH_MAX && (n = s->rpc_head) != NULL; k++) {
		s->rpc_head = n->sq_next;
		s->rpc_queued--;
		rpc_batch_add(b, n, n->queued_req);
	}
	if (s->rpc_head == NULL)
		s->rpc_tail = NULL;
	rpc_batch_send(b);
}

/* Sends what the sessions asked for during this loop turn: one request alone, several as
 * batches of WS_BATCH_MAX (one broker round trip for many clients). */
static void
rpc_flush(void)
{
	ws->out_kicked = false;
	while (ws->out_head != NULL) {
		struct rpc_job *n = ws->out_head, *b;
		if (n->sq_next == NULL || (b = rpc_batch_new(NULL)) == NULL) {
			ws->out_head = n->sq_next;
			if (ws->out_head == NULL)
				ws->out_tail = NULL;
			cJSON *req = n->queued_req;
			n->queued_req = NULL;
			n->sq_next = NULL;
			rpc_send(n, req);
			continue;
		}
		for (int k = 0; k < WS_BATCH_MAX && (n = ws->out_head) != NULL; k++) {
			ws->out_head = n->sq_next;
			rpc_batch_add(b, n, n->queued_req);
		}
		if (ws->out_head == NULL)
			ws->out_tail = NULL;
		rpc_batch_send(b);
	}
}

void
rpc_drain(void)
{
	struct rpc_job *j;

	rpc_flush();

	pthread_mutex_lock(&ws->done_mu);
	j = ws->done_head;
	ws->done_head = ws->done_tail = NULL;
	pthread_mutex_unlock(&ws->done_mu);
	while (j != NULL) {
		struct rpc_job *next = j->done_next;
		if (j->prev != NULL)
			j->prev->next = j->next;
		else
			ws->jobs = j->next;
		if (j->next != NULL)
			j->next->prev = j->prev;
		ws->njobs--;
		if (j->done != NULL)
			j->done(j);
		if (j->ordered && j->sess != NULL && !ws->exiting)
			rpc_next_ordered(j->sess);
		rpc_job_free(j);
		j = next;
	}
}

cJSON *
broker_req(const char *op, const struct ws_session *s)
{
	cJSON *r = cJSON_CreateObject();

	if (r == NULL)
		return NULL;
	cJSON_AddStringToObject(r, "op", op);
	cJSON_AddStringToObject(r, "frontend", ws->o.id);
	if (s != NULL)
		cJSON_AddStringToObject(r, "session", s->id);
	return r;
}

bool
broker_up(void)
{
	return ws->bstate == BROKER_UP;
}

const char *
broker_state_name(void)
{
	switch (ws->bstate) {
	case BROKER_UP:
		return "up";
	case BROKER_SYNCING:
		return "syncing";
	default:
		return "down";
	}
}

void
broker_subscribe(struct ws_room *r, bool on)
{
	char topic[WIRE_TOPIC_MAX + 1];
	size_t n = wire_topic(topic, sizeof(topic), WIRE_TOPIC_ROOM, r->id);
	int rv;

	if (n == 0 || r->subscribed == on)
		return;
	rv = nng_socket_set(ws->sub, on ? NNG_OPT_SUB_SUBSCRIBE : NNG_OPT_SUB_UNSUBSCRIBE, topic, n);
	if (rv != 0)
		log_warn("broker: %s r/%s: %s", on ? "subscribe" : "unsubscribe", r->id,
			 nng_strerror(rv));
	r->subscribed = on;
}

/* The broker stopped answering: tell every client once, retry hello on each tick. */
static void
broker_lost(const char *why)
{
	if (ws->bstate != BROKER_DOWN)
		log_warn("broker: unreachable (%s); new connections refused until it is back", why);
	ws->bstate = BROKER_DOWN;
	if (!ws->down_notified) {
		ws->down_notified = true;
		ws_notify_all(WS_ERR_BROKER_UNAVAILABLE,
			      "the chat service is unavailable; messages cannot be sent until it is back");
	}
}

static void broker_hello(void);

/* hello now if the event stream is connected, else at the next tick or pipe event. */
static void
broker_hello_when_ready(void)
{
	if (atomic_load(&ws->sub_connected))
		broker_hello();
	else
		ws->bstate = BROKER_DOWN;
}

void
broker_poke(void)
{
	if (!ws->stopping && ws->bstate == BROKER_DOWN && !ws->hello_busy && !ws->sync_busy &&
	    atomic_load(&ws->sub_connected))
		broker_hello();
}

/* SYNC — re-declare every active member (after a broker restart or an expiry). */
static void
broker_sync_done(struct rpc_job *j)
{
	bool ok;
	const char *err;

	ws->sync_busy = false;
	if (ws->stopping)
		return;
	if (j->rv != 0) {
		broker_lost(nng_strerror(j->rv));
		return;
	}
	if (!wire_bool(j->reply, "ok", &ok) || !ok) {
		err = wire_str(j->reply, "error", NULL);
		log_warn("broker: sync refused: %s", err ? err : "?");
		if (err != NULL && strcmp(err, ERR_UNKNOWN_FRONTEND) == 0)
			broker_hello_when_ready();
		else
			broker_lost("sync refused");
		return;
	}
	/* Members the broker could not take back are told and closed. */
	cJSON *results = cJSON_GetObjectItemCaseSensitive(j->reply, "results"), *res;
	cJSON_ArrayForEach(res, results)
	{
		const char *sid = wire_str(res, "session", NULL), *room = wire_str(res, "room_id", NULL);
		struct ws_session *s;
		struct ws_member *m;
		if (sid == NULL || room == NULL || !wire_bool(res, "ok", &ok) || ok)
			continue;
		if ((s = sesstab_get(&ws->sessions, sid)) == NULL || (m = sess_member(s, room)) == NULL)
			continue;
		err = wire_str(res, "error", NULL);
		ws_send_error(s, err ? err : ERR_INTERNAL, "could not rejoin the room after a restart",
			      "join_room", room, NULL);
		rooms_leave(s, m, false, NULL);
		if (s->route.single)
			ws_close(s,
				 err && strcmp(err, ERR_NICKNAME_TAKEN) == 0 ? WS_CLOSE_NICK_TAKEN
				 : err && strcmp(err, ERR_NO_SUCH_ROOM) == 0 ? WS_CLOSE_NO_ROOM
									     : WS_CLOSE_TRY_LATER,
				 "could not rejoin the room", true);
	}
	ws->bstate = BROKER_UP;
	ws->down_notified = false;
	ws->c.resyncs++;
	log_info("broker: up, epoch %s, %zu sessions re-synced", ws->epoch, ws->sessions.n);
	rooms_resync();
}

static void
sync_add(struct ws_session *s, void *arg)
{
	cJSON *members = arg;

	if (s->wsi == NULL || s->close_code != 0)
		return;
	for (size_t i = 0; i < s->max_rooms; i++) {
		struct ws_member *m = s->rooms[i];
		cJSON *o;
		if (m == NULL || m->state != MEMBER_ACTIVE || (o = cJSON_CreateObject()) == NULL)
			continue;
		cJSON_AddStringToObject(o, "session", s->id);
		cJSON_AddStringToObject(o, "room_id", m->room->id);
		cJSON_AddStringToObject(o, "user", m->user);
		cJSON_AddItemToArray(members, o);
	}
}

static void
broker_sync(void)
{
	cJSON *req = broker_req("sync", NULL), *members = cJSON_CreateArray();
	struct rpc_job *j = rpc_job_new(broker_sync_done, NULL);

	if (req == NULL || members == NULL || j == NULL) {
		cJSON_Delete(req);
		cJSON_Delete(members);
		free(j);
		broker_lost("out of memory");
		return;
	}
	cJSON_AddStringToObject(req, "instance", ws->instance);
	sesstab_each(&ws->sessions, sync_add, members);
	cJSON_AddItemToObject(req, "members", members);
	ws->sync_busy = true;
	rpc_send(j, req);
}

/* HELLO — registers this instance; a reply means the broker is reachable again. */
static void
broker_hello_done(struct rpc_job *j)
{
	const char *epoch;
	int64_t hb;
	bool ok;

	ws->hello_busy = false;
	if (ws->stopping)
		return;
	if (j->rv != 0) {
		broker_lost(nng_strerror(j->rv));
		return;
	}
	if (!wire_bool(j->reply, "ok", &ok) || !ok || (epoch = wire_str(j->reply, "epoch", NULL)) == NULL ||
	    !route_hex(epoch, WS_EPOCH_LEN)) {
		const char *err = wire_str(j->reply, "error", NULL);
		log_error("broker: hello refused: %s", err ? err : "malformed reply");
		broker_lost("hello refused");
		return;
	}
	if (wire_int(j->reply, "heartbeat_ms", &hb) && hb >= 50 && hb <= 60000)
		ws->heartbeat_ms = (unsigned)hb;
	if (strcmp(ws->epoch, epoch) != 0 && ws->epoch[0] != '\0')
		log_info("broker: new epoch %s (was %s)", epoch, ws->epoch);
	memcpy(ws->epoch, epoch, WS_EPOCH_LEN + 1);
	ws->bstate = BROKER_SYNCING;
	broker_sync();
}

static void
broker_hello(void)
{
	cJSON *req = broker_req("hello", NULL);
	struct rpc_job *j = rpc_job_new(broker_hello_done, NULL);

	if (req == NULL || j == NULL) {
		cJSON_Delete(req);
		free(j);
		return;
	}
	cJSON_AddStringToObject(req, "instance", ws->instance);
	if (ws->bstate == BROKER_UP)
		ws->bstate = BROKER_SYNCING;
	ws->hello_busy = true;
	rpc_send(j, req);
}

/* HEARTBEAT — unknown_frontend or a new epoch: hello, sync, re-join everyone. */
static void
broker_heartbeat_done(struct rpc_job *j)
{
	const char *epoch, *err;
	bool ok;

	ws->hb_busy = false;
	if (ws->stopping || ws->bstate != BROKER_UP)
		return;
	if (j->rv != 0) {
		broker_lost(nng_strerror(j->rv));
		return;
	}
	if (!wire_bool(j->reply, "ok", &ok) || !ok) {
		err = wire_str(j->reply, "error", NULL);
		log_warn("broker: heartbeat refused (%s): registering again", err ? err : "?");
		broker_hello_when_ready();
		return;
	}
	epoch = wire_str(j->reply, "epoch", NULL);
	if (epoch != NULL && strcmp(epoch, ws->epoch) != 0) {
		log_warn("broker: epoch changed to %s: registering again", epoch);
		broker_hello_when_ready();
	}
}

void
broker_tick(void)
{
	if (ws->stopping)
		return;
	if (ws->hello_busy || ws->sync_busy)
		return;
	if (ws->bstate != BROKER_UP) {
		/* Register only once the event stream is connected: what the broker publishes for
		 * our re-synced members before that would be lost. */
		if (atomic_load(&ws->sub_connected))
			broker_hello();
		return;
	}
	if (!ws->hb_busy) {
		cJSON *req = broker_req("heartbeat", NULL);
		struct rpc_job *j = rpc_job_new(broker_heartbeat_done, NULL);
		if (req == NULL || j == NULL) {
			cJSON_Delete(req);
			free(j);
			return;
		}
		cJSON_AddStringToObject(req, "instance", ws->instance);
		ws->hb_busy = true;
		rpc_send(j, req);
	}
}

void
broker_events_readable(void)
{
	for (int i = 0; i < WS_EVENT_BUDGET; i++) {
		nng_msg *msg;
		int rv = nng_recvmsg(ws->sub, &msg, NNG_FLAG_NONBLOCK);
		if (rv == NNG_EAGAIN)
			break;
		if (rv != 0) {
			log_warn("broker: event stream: %s", nng_strerror(rv));
			break;
		}
		if (nng_msg_len(msg) <= WS_EVENT_MAX)
			rooms_event(nng_msg_body(msg), nng_msg_len(msg));
		else
			log_warn("broker: dropped an event of %zu bytes", nng_msg_len(msg));
		nng_msg_free(msg);
		ws->c.events++;
	}
	rooms_flush();
}

/* nng thread: the event stream's connection came or went. */
static void
broker_sub_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	(void)p;
	(void)arg;
	atomic_store(&ws->sub_connected, ev == NNG_PIPE_EV_ADD_POST);
	if (ev == NNG_PIPE_EV_ADD_POST && ws->ctx != NULL)
		lws_cancel_service(ws->ctx);
}

int
broker_open(void)
{
	unsigned char rnd[8];
	char topic[WIRE_TOPIC_MAX + 1];
	size_t n;
	int rv;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
		log_error("getrandom: %s", strerror(errno));
		return -1;
	}
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(ws->instance + 2 * i, 3, "%02x", rnd[i]);
	ws->heartbeat_ms = WS_HEARTBEAT_MS;
	pthread_mutex_init(&ws->done_mu, NULL);

	if ((rv = nng_req0_open(&ws->req)) != 0)
		goto fail;
	/* A lost request is reported as a failure, never replayed against a restarted broker. */
	if ((rv = nng_socket_set_ms(ws->req, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE)) != 0 ||
	    (rv = nng_socket_set_size(ws->req, NNG_OPT_RECVMAXSZ, BROKER_REPLY_MAX)) != 0 ||
	    (rv = nng_socket_set_ms(ws->req, NNG_OPT_RECONNMINT, 50)) != 0 ||
	    (rv = nng_socket_set_ms(ws->req, NNG_OPT_RECONNMAXT, 500)) != 0)
		goto fail;
	if ((rv = nng_dial(ws->req, ws->o.rpc_url, NULL, NNG_FLAG_NONBLOCK)) != 0) {
		log_error("broker: cannot dial %s: %s", ws->o.rpc_url, nng_strerror(rv));
		goto fail;
	}
	if ((rv = nng_sub0_open(&ws->sub)) != 0)
		goto fail;
	if ((rv = nng_socket_set_int(ws->sub, NNG_OPT_RECVBUF, BROKER_RECVBUF)) != 0 ||
	    (rv = nng_socket_set_size(ws->sub, NNG_OPT_RECVMAXSZ, WS_EVENT_MAX)) != 0 ||
	    (rv = nng_socket_set_ms(ws->sub, NNG_OPT_RECONNMINT, 50)) != 0 ||
	    (rv = nng_socket_set_ms(ws->sub, NNG_OPT_RECONNMAXT, 500)) != 0)
		goto fail;
	if ((rv = nng_pipe_notify(ws->sub, NNG_PIPE_EV_ADD_POST, broker_sub_pipe_cb, NULL)) != 0 ||
	    (rv = nng_pipe_notify(ws->sub, NNG_PIPE_EV_REM_POST, broker_sub_pipe_cb, NULL)) != 0)
		goto fail;
	n = wire_topic(topic, sizeof(topic), WIRE_TOPIC_FRONTEND, ws->o.id);
	if ((rv = nng_socket_set(ws->sub, NNG_OPT_SUB_SUBSCRIBE, topic, n)) != 0 ||
	    (rv = nng_socket_set(ws->sub, NNG_OPT_SUB_SUBSCRIBE, WIRE_TOPIC_ALL, 2)) != 0)
		goto fail;
	if ((rv = nng_dial(ws->sub, ws->o.events_url, NULL, NNG_FLAG_NONBLOCK)) != 0) {
		log_error("broker: cannot dial %s: %s", ws->o.events_url, nng_strerror(rv));
		goto fail;
	}
	return 0;
fail:
	log_error("broker: %s", nng_strerror(rv));
	return -1;
}

/* Adopts the event descriptor into lws and sends the first hello. */
void
broker_start(void)
{
	lws_sock_file_fd_type fd;
	int rfd;

	if (nng_socket_get_int(ws->sub, NNG_OPT_RECVFD, &rfd) != 0 || (fd.filefd = dup(rfd)) < 0) {
		log_error("broker: no receive descriptor for events");
		return;
	}
	ws->events_wsi = lws_adopt_descriptor_vhost(ws->vh, LWS_ADOPT_RAW_FILE_DESC, fd,
						    "madang-raw", NULL);
	if (ws->events_wsi == NULL) {
		log_error("broker: cannot adopt the event descriptor");
		close(fd.filefd);
		return;
	}
	broker_poke();
}

void
broker_close(void)
{
	/* Closing the sockets aborts every request in flight; their callbacks then queue them. */
	nng_close(ws->req);
	nng_close(ws->sub);
	for (struct rpc_job *j = ws->jobs; j != NULL; j = j->next)
		if (j->aio != NULL)
			nng_aio_stop(j->aio);
	ws->exiting = true;
	for (struct rpc_job *j = ws->jobs; j != NULL; j = j->next)
		j->done = NULL;
	rpc_drain();

	pthread_mutex_destroy(&ws->done_mu);
}
