/* broker.c — madang-ws's side of the broker (docs/broker-protocol.md): the event stream inside
 * the lws loop, and the front-end lifecycle (hello, heartbeat, sync). Requests: request.c.
 *
 * Events reach the lws thread without blocking it: the SUB socket's NNG_OPT_RECVFD is readable
 * while messages are queued. A dup() of it is adopted into lws as a raw file descriptor; its
 * RAW_RX_FILE callback drains the socket with NNG_FLAG_NONBLOCK, at most WS_EVENT_BUDGET
 * messages per turn. No extra thread, and events are handled in arrival order by the thread
 * that owns the rooms. */
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

#define BROKER_RECVBUF 8192 /* SUB queue (nng's maximum) */

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

/* The broker stopped answering: tell every client once, retry hello on each tick. */
static void
broker_lost(const char *why)
{
	if (ws->bstate != BROKER_DOWN)
		log_warn("broker: unreachable (%s); new connections refused until it is back", why);
	ws->bstate = BROKER_DOWN;
	if (!ws->down_notified) {
		ws->down_notified = true;
		out_notify_all(
		    WS_ERR_BROKER_UNAVAILABLE,
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
		const char *sid = wire_str(res, "session", NULL),
		           *room = wire_str(res, "room_id", NULL);
		struct ws_session *s;
		struct ws_member *m;
		if (sid == NULL || room == NULL || !wire_bool(res, "ok", &ok) || ok)
			continue;
		if ((s = sesstab_get(&ws->sessions, sid)) == NULL ||
		    (m = sess_member(s, room)) == NULL)
			continue;
		err = wire_str(res, "error", NULL);
		out_send_error(s, err ? err : ERR_INTERNAL,
		              "could not rejoin the room after a restart", "join_room", room, NULL);
		rooms_leave(s, m, false, NULL);
		if (s->single_room != NULL)
			out_close(s,
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
	for (size_t i = 0; i < s->rooms_cap; i++) {
		struct ws_member *m = s->rooms[i];
		cJSON *o;
		if (m == NULL || m->state != MEMBER_ACTIVE || (o = cJSON_CreateObject()) == NULL)
			continue;
		cJSON_AddStringToObject(o, "session", s->id);
		cJSON_AddStringToObject(o, "room_id", m->room->id);
		cJSON_AddStringToObject(o, "user", m->user);
		struct ws_pss *p = lws_wsi_user((struct lws *)s->wsi);
		if (p != NULL && p->addr[0] != '\0')
			cJSON_AddStringToObject(o, "addr", p->addr);
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
	bool ok, bundles;

	ws->hello_busy = false;
	if (ws->stopping)
		return;
	if (j->rv != 0) {
		broker_lost(nng_strerror(j->rv));
		return;
	}
	if (!wire_bool(j->reply, "ok", &ok) || !ok ||
	    (epoch = wire_str(j->reply, "epoch", NULL)) == NULL ||
	    !route_hex(epoch, WS_EPOCH_LEN)) {
		const char *err = wire_str(j->reply, "error", NULL);
		log_error("broker: hello refused: %s", err ? err : "malformed reply");
		broker_lost("hello refused");
		return;
	}
	if (wire_int(j->reply, "heartbeat_ms", &hb) && hb >= 50 && hb <= 60000)
		ws->heartbeat_ms = (unsigned)hb;
	if (!wire_bool(j->reply, "bundles", &bundles))
		bundles = false; /* a broker that does not know them */
	if (bundles != ws->bundles || ws->epoch[0] == '\0')
		log_info("broker: room events arrive %s",
		         bundles ? "bundled (one message per broker turn)"
		                 : "one message per room");
	ws->bundles = bundles;
	if (strcmp(ws->epoch, epoch) != 0 && ws->epoch[0] != '\0')
		log_info("broker: new epoch %s (was %s)", epoch, ws->epoch);
	memcpy(ws->prev_epoch, ws->epoch, sizeof(ws->prev_epoch));
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
	cJSON_AddBoolToObject(req, "bundles", true);
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
		/* Our counters ride along; the broker sums them for /api/metrics. */
		cJSON *st = cJSON_AddObjectToObject(req, "stats");
		if (st != NULL) {
			cJSON_AddNumberToObject(st, "connections_open", (double)ws->sessions.n);
			cJSON_AddNumberToObject(st, "connections_total", (double)ws->c.connections);
			cJSON_AddNumberToObject(st, "connections_refused", (double)ws->c.refused);
			cJSON_AddNumberToObject(st, "slow_consumers", (double)ws->c.slow_consumers);
			cJSON_AddNumberToObject(st, "socket_full", (double)ws->c.socket_full);
			cJSON_AddNumberToObject(st, "rate_limited", (double)ws->c.rate_limited);
			cJSON_AddNumberToObject(st, "gaps_repaired", (double)ws->c.gaps);
			cJSON_AddNumberToObject(st, "resyncs", (double)ws->c.resyncs);
		}
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
	    (rv = nng_socket_set_size(ws->req, NNG_OPT_RECVMAXSZ, WS_REPLY_MAX)) != 0 ||
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
	/* Every room's events, filtered by rooms_event with one hash lookup. PUB sends every
	 * message to every subscriber whatever it subscribed to (SUB filters on arrival), so this
	 * costs no traffic; and nng 1.5's SUB matches each message against its topics one by
	 * one, so a topic per room made every event cost O(rooms held). */
	n = wire_topic(topic, sizeof(topic), WIRE_TOPIC_FRONTEND, ws->o.id);
	if ((rv = nng_socket_set(ws->sub, NNG_OPT_SUB_SUBSCRIBE, topic, n)) != 0 ||
	    (rv = nng_socket_set(ws->sub, NNG_OPT_SUB_SUBSCRIBE, WIRE_TOPIC_ALL, 2)) != 0 ||
	    (rv = nng_socket_set(ws->sub, NNG_OPT_SUB_SUBSCRIBE, WIRE_TOPIC_ROOMS, 2)) != 0 ||
	    (rv = nng_socket_set(ws->sub, NNG_OPT_SUB_SUBSCRIBE, WIRE_TOPIC_BUNDLE, 2)) != 0)
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
	ws->events_wsi =
	    lws_adopt_descriptor_vhost(ws->vh, LWS_ADOPT_RAW_FILE_DESC, fd, "madang-raw", NULL);
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
