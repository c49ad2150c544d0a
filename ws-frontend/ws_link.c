/* ws_link.c — madang-ws's link to the broker (ws_link.h, docs/broker-protocol.md): the event
 * stream inside the lws loop, and the front-end lifecycle (hello, heartbeat, sync). Requests:
 * ws_rpc.c.
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

#include <libwebsockets.h>
#include <stdatomic.h>

#include "linkstate.h"
#include "log.h"
#include "clock.h"
#include "nbio.h"
#include "redial.h"
#include "cmd.h"
#include "route.h"
#include "tls.h"
#include "validate.h"
#include "wire.h"
#include "ws_link.h"
#include "ws_out.h"
#include "ws_rpc.h"
#include "ws_state.h"

#define BROKER_RECVBUF 8192 /* SUB queue (nng's maximum) */
_Static_assert(WS_BROKERS_MAX <= REDIAL_URLS_MAX, "a redial set holds every --rpc URL");

static struct {
	struct link_hooks hooks;
	nng_socket req;
	nng_socket sub;
	nng_aio *sub_aio; /* link_events_readable's, kept (common/nbio.h) */
	struct lws_context *ctx;
	struct lws *events_wsi;
	struct redial req_dial, sub_dial; /* each socket's dialers and live pipes (redial.h) */
	atomic_bool closing;              /* link_close began: pipes going are not news */
	char instance[17];
	char prev_epoch[17]; /* the epoch before the last hello: re-joins resume from it */
	struct linkstate ls; /* hello, sync, heartbeat: the state machine (linkstate.h) */
	unsigned heartbeat_ms;
	/* The broker's last hello reply granted bundles: room events come on "b" (several rooms
	 * per message) and r/<room_id> messages are ignored; else the other way round. */
	bool bundles;
	/* The clients are told the broker is gone (out_notify_all) at this monotonic ms, once
	 * --broker-wait-ms has passed since the loss without a re-sync; 0: not due. */
	uint64_t notify_at_ms;
} lk;

/* The event stream has a live pipe. */
static bool
link_stream(void)
{
	return redial_live(&lk.sub_dial);
}

bool
link_bundles(void)
{
	return lk.bundles;
}

unsigned
link_heartbeat_ms(void)
{
	return lk.heartbeat_ms;
}

bool
link_is_events(const struct lws *wsi)
{
	return wsi != NULL && wsi == lk.events_wsi;
}

void
link_events_closed(void)
{
	lk.events_wsi = NULL;
}

bool
link_up(void)
{
	return lk.ls.state == LINK_UP;
}

const char *
link_state_name(void)
{
	switch (lk.ls.state) {
	case LINK_UP:
		return "up";
	case LINK_SYNCING:
		return "syncing";
	default:
		return "down";
	}
}

/* The broker stopped answering: tell every client once, retry hello on each tick. */
static void
link_lost(const char *why)
{
	unsigned bits = linkstate_lost(&lk.ls);

	if (bits & LINK_LOST_WAS_UP)
		log_warn("broker: unreachable (%s); clients wait up to %u ms for it", why,
		         ws->o.broker_wait_ms);
	else
		log_debug("broker: still unreachable (%s)", why);
	/* A failover or a restart is a pause to the clients: they are told only when it lasts. */
	if (bits & LINK_LOST_NOTIFY)
		lk.notify_at_ms = clock_mono_ns() / 1000000u + ws->o.broker_wait_ms;
}

/* Tells every client once that the broker is gone, when the wait is over and it still is. */
static void
link_notify_due(void)
{
	if (lk.notify_at_ms == 0 || lk.ls.state == LINK_UP ||
	    clock_mono_ns() / 1000000u < lk.notify_at_ms)
		return;
	lk.notify_at_ms = 0;
	out_notify_all(WS_ERR_BROKER_UNAVAILABLE,
	               "the chat service is unavailable; messages cannot be sent until it is back");
}

static void link_hello(void);
static void link_redial(void);
static void link_sync(void);
static void link_send_heartbeat(void);

/* Does what the state machine says (why: for LINK_LOST's log). */
static void
link_do(enum link_action a, const char *why)
{
	switch (a) {
	case LINK_SEND_HELLO:
		link_hello();
		break;
	case LINK_SEND_SYNC:
		link_sync();
		break;
	case LINK_SEND_HEARTBEAT:
		link_send_heartbeat();
		break;
	case LINK_LOST:
		link_lost(why);
		break;
	case LINK_SYNCED: /* link_sync_done goes on itself */
	case LINK_NOTHING:
		break;
	}
}

void
link_reregister(void)
{
	if (lk.ls.state == LINK_UP)
		log_warn("broker: it does not know this front-end (a restart or a failover): "
		         "registering again");
	link_do(linkstate_refused(&lk.ls, ws->stopping, link_stream()), NULL);
}

unsigned
link_hellos(void)
{
	return lk.ls.hellos;
}

enum link_refusal
link_refusal(unsigned sent_hellos, const char *err)
{
	if (err == NULL)
		return LINK_ANSWER;
	return linkstate_refusal(&lk.ls, sent_hellos, strcmp(err, ERR_UNKNOWN_FRONTEND) == 0,
	                         strcmp(err, ERR_NOT_MEMBER) == 0);
}

void
link_poke(void)
{
	link_do(linkstate_poke(&lk.ls, ws->stopping, link_stream()), NULL);
}

/* SYNC — re-declare every active member (after a broker restart or an expiry). */
static void
link_sync_done(void *state, struct rpc_result *r)
{
	enum link_outcome o = r->rv != 0 ? LINK_NO_ANSWER
	                      : r->ok    ? LINK_OK
	                      : r->error != NULL && strcmp(r->error, ERR_UNKNOWN_FRONTEND) == 0
	                          ? LINK_UNKNOWN_FRONTEND
	                          : LINK_REFUSED;
	enum link_action a;

	(void)state;
	if (!ws->stopping && r->rv == 0 && !r->ok)
		log_warn("broker: sync refused: %s", r->error ? r->error : "?");
	if (!ws->stopping && o == LINK_OK) {
		/* Members the broker could not take back are told and closed. */
		cJSON *results = cJSON_GetObjectItemCaseSensitive(r->reply, "results"), *res;
		cJSON_ArrayForEach(res, results)
		{
			const char *sid = wire_str(res, "session", NULL),
			           *room = wire_str(res, "room_id", NULL), *err;
			struct ws_session *s;
			struct ws_member *m;
			bool ok;
			if (sid == NULL || room == NULL || !wire_bool(res, "ok", &ok) || ok)
				continue;
			if ((s = sesstab_get(&ws->sessions, sid)) == NULL ||
			    (m = sess_member(s, room)) == NULL)
				continue;
			err = wire_str(res, "error", NULL);
			lk.hooks.member_lost(lk.hooks.arg, s, m, err != NULL ? err : ERR_INTERNAL);
		}
	}
	a = linkstate_sync_done(&lk.ls, ws->stopping, link_stream(), o);
	if (a != LINK_SYNCED) {
		link_do(a, r->rv != 0 ? rpc_strerror(r->rv) : "sync refused");
		return;
	}
	ws->c.resyncs++;
	lk.notify_at_ms = 0;
	log_info("broker: up, epoch %s, %zu sessions re-synced", ws->epoch, ws->sessions.n);
	lk.hooks.synced(lk.hooks.arg, lk.prev_epoch);
}

static void
sync_add(struct ws_session *s, void *arg)
{
	cJSON *members = arg;

	if (s->wsi == NULL || s->close_code != 0)
		return;
	for (size_t i = 0; i < s->rooms_cap; i++) {
		struct ws_member *m = sess_slots(s)[i];
		cJSON *o;
		if (m == NULL || m->state != MEMBER_ACTIVE || (o = cJSON_CreateObject()) == NULL)
			continue;
		cJSON_AddStringToObject(o, "session", s->id);
		cJSON_AddStringToObject(o, "room_id", m->room->id);
		cJSON_AddStringToObject(o, "user", m->user);
		if (s->addr != NULL && s->addr[0] != '\0')
			cJSON_AddStringToObject(o, "addr", s->addr);
		if (s->authenticated && sess_subject(s) != NULL) {
			cJSON_AddStringToObject(o, "subject", sess_subject(s));
			cJSON_AddBoolToObject(o, "admin", s->admin);
		}
		cJSON_AddItemToArray(members, o);
	}
}

static void
link_sync(void)
{
	cJSON *req = rpc_req("sync", NULL), *members = cJSON_CreateArray();

	cJSON_AddStringToObject(req, "instance", lk.instance);
	if (members != NULL)
		sesstab_each(&ws->sessions, sync_add, members);
	if (members == NULL || !cJSON_AddItemToObject(req, "members", members)) {
		cJSON_Delete(members);
		cJSON_Delete(req);
		req = NULL; /* fails through link_sync_done: the broker is taken for lost */
	}
	rpc_call(req, &(struct rpc_call){.done = link_sync_done});
}

/* HELLO — registers this instance; a reply means the broker is reachable again. */
static void
link_hello_done(void *state, struct rpc_result *r)
{
	const char *epoch = r->ok ? wire_str(r->reply, "epoch", NULL) : NULL;
	enum link_outcome o = r->rv == RPC_ENOMEM                                ? LINK_NOT_SENT
	                      : r->rv != 0                                       ? LINK_NO_ANSWER
	                      : epoch == NULL || !route_hex(epoch, WS_EPOCH_LEN) ? LINK_REFUSED
	                                                                         : LINK_OK;
	int64_t hb;
	bool bundles;

	(void)state;
	if (!ws->stopping && o == LINK_REFUSED)
		log_error("broker: hello refused: %s", r->error ? r->error : "malformed reply");
	if (!ws->stopping && o == LINK_OK) {
		log_debug("broker: hello answered, syncing");
		if (wire_int(r->reply, "heartbeat_ms", &hb) && hb >= 50 && hb <= 60000)
			lk.heartbeat_ms = (unsigned)hb;
		if (!wire_bool(r->reply, "bundles", &bundles))
			bundles = false; /* a broker that does not know them */
		if (bundles != lk.bundles || ws->epoch[0] == '\0')
			log_info("broker: room events arrive %s",
			         bundles ? "bundled (one message per broker turn)"
			                 : "one message per room");
		lk.bundles = bundles;
		if (strcmp(ws->epoch, epoch) != 0 && ws->epoch[0] != '\0')
			log_info("broker: new epoch %s (was %s)", epoch, ws->epoch);
		memcpy(lk.prev_epoch, ws->epoch, sizeof(lk.prev_epoch));
		memcpy(ws->epoch, epoch, WS_EPOCH_LEN + 1);
	}
	link_do(linkstate_hello_done(&lk.ls, ws->stopping, o),
	        o == LINK_NO_ANSWER ? rpc_strerror(r->rv) : "hello refused");
}

static void
link_hello(void)
{
	cJSON *req = rpc_req("hello", NULL);

	log_debug("broker: registering (hello %u)", lk.ls.hellos);
	cJSON_AddStringToObject(req, "instance", lk.instance);
	cJSON_AddBoolToObject(req, "bundles", true);
	rpc_call(req, &(struct rpc_call){.done = link_hello_done});
}

/* HEARTBEAT — unknown_frontend or a new epoch: hello, sync, re-join everyone. */
static void
link_heartbeat_done(void *state, struct rpc_result *r)
{
	const char *epoch = r->ok ? wire_str(r->reply, "epoch", NULL) : NULL;
	enum link_outcome o = r->rv == RPC_ENOMEM                              ? LINK_NOT_SENT
	                      : r->rv != 0                                     ? LINK_NO_ANSWER
	                      : !r->ok                                         ? LINK_REFUSED
	                      : epoch != NULL && strcmp(epoch, ws->epoch) != 0 ? LINK_NEW_EPOCH
	                                                                       : LINK_OK;
	bool was_up = !ws->stopping && lk.ls.state == LINK_UP;

	(void)state;
	if (was_up && o == LINK_REFUSED)
		log_warn("broker: heartbeat refused (%s): registering again",
		         r->error ? r->error : "?");
	if (was_up && o == LINK_NEW_EPOCH)
		log_warn("broker: epoch changed to %s: registering again", epoch);
	link_do(linkstate_heartbeat_done(&lk.ls, ws->stopping, link_stream(), o),
	        rpc_strerror(r->rv));
}

static void
link_send_heartbeat(void)
{
	cJSON *req = rpc_req("heartbeat", NULL);
	cJSON_AddStringToObject(req, "instance", lk.instance);
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
	rpc_call(req, &(struct rpc_call){.done = link_heartbeat_done});
}

void
link_heartbeat(void)
{
	if (!ws->stopping)
		link_redial();
	link_do(linkstate_tick(&lk.ls, ws->stopping, link_stream()), NULL);
	link_notify_due();
	lk.hooks.tick(lk.hooks.arg);
}

void
link_events_readable(void)
{
	for (int i = 0; i < WS_EVENT_BUDGET; i++) {
		nng_msg *msg;
		int rv = nbio_recv(lk.sub, lk.sub_aio, &msg);
		if (rv == NNG_EAGAIN)
			break;
		if (rv != 0) {
			log_warn("broker: event stream: %s", nng_strerror(rv));
			break;
		}
		if (nng_msg_len(msg) <= WS_EVENT_MAX)
			lk.hooks.event(lk.hooks.arg, nng_msg_body(msg), nng_msg_len(msg));
		else
			log_warn("broker: dropped an event of %zu bytes", nng_msg_len(msg));
		nng_msg_free(msg);
		ws->c.events++;
	}
	lk.hooks.events_done(lk.hooks.arg);
}

/* nng thread: an event stream's pipe came or went (counted by redial.c first). A new one wakes
 * the loop, which registers at once if the link is down (link_poke). */
static void
link_sub_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	(void)p;
	(void)arg;
	if (ev == NNG_PIPE_EV_ADD_POST) {
		log_info("broker: event stream connected");
		if (lk.ctx != NULL)
			lws_cancel_service(lk.ctx);
	} else if (ev == NNG_PIPE_EV_REM_POST && !atomic_load(&lk.closing)) {
		log_info("broker: event stream %s",
		         redial_live(&lk.sub_dial) ? "connection closed, another left" : "lost");
	}
}

/* Dials url on sock in the background (a broker that is not listening yet, a standby, is
 * dialed again and again by nng), with --tls-*'s configuration on tls+tcp:// URLs and its
 * refused handshakes logged. Several URLs on one socket: REQ sends to whichever broker is
 * connected, SUB receives from each; only the active broker of a cluster listens. The dialer
 * goes to *out; redial.c calls this again for a dialer nng gave up. Returns 0 or an nng error
 * (logged). */
static int
link_dial(void *arg, nng_socket sock, const char *url, nng_dialer *out)
{
	char err[512];
	int rv;

	(void)arg;
	if ((rv = tls_dial(sock, url, ws->o.tls, "ws", err, sizeof(err), out)) != 0)
		log_error("broker: cannot dial %s", err);
	return rv;
}

/* Both sockets' dialers, replaced when one has had no connection for a while (redial.h). */
static void
link_redial(void)
{
	uint64_t now = clock_mono_ms();
	size_t n;

	if ((n = redial_check(&lk.req_dial, now)) > 0)
		log_debug("broker: no request connection for %u ms: dialing again (%zu dialers)",
		          REDIAL_IDLE_MS, n);
	if ((n = redial_check(&lk.sub_dial, now)) > 0)
		log_debug("broker: no event stream for %u ms: dialing again (%zu dialers)",
		          REDIAL_IDLE_MS, n);
}

int
link_open(const struct link_hooks *hooks)
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
		snprintf(lk.instance + 2 * i, 3, "%02x", rnd[i]);
	lk.hooks = *hooks;
	lk.heartbeat_ms = WS_HEARTBEAT_MS;

	if ((rv = nng_req0_open(&lk.req)) != 0)
		goto fail;
	/* A lost request is reported as a failure, never replayed against a restarted broker. */
	if ((rv = nng_socket_set_ms(lk.req, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE)) != 0 ||
	    (rv = nng_socket_set_size(lk.req, NNG_OPT_RECVMAXSZ, WS_REPLY_MAX)) != 0 ||
	    (rv = nng_socket_set_ms(lk.req, NNG_OPT_RECONNMINT, 50)) != 0 ||
	    (rv = nng_socket_set_ms(lk.req, NNG_OPT_RECONNMAXT, 500)) != 0 ||
	    (rv = redial_watch(&lk.req_dial, lk.req, link_dial, NULL, NULL, NULL)) != 0)
		goto fail;
	for (size_t i = 0; i < ws->o.n_rpc; i++)
		if (redial_add(&lk.req_dial, ws->o.rpc_urls[i]) != 0)
			return -1;

	if ((rv = nng_sub0_open(&lk.sub)) != 0 ||
	    (rv = nng_aio_alloc(&lk.sub_aio, NULL, NULL)) != 0)
		goto fail;
	if ((rv = nng_socket_set_int(lk.sub, NNG_OPT_RECVBUF, BROKER_RECVBUF)) != 0 ||
	    (rv = nng_socket_set_size(lk.sub, NNG_OPT_RECVMAXSZ, WS_EVENT_MAX)) != 0 ||
	    (rv = nng_socket_set_ms(lk.sub, NNG_OPT_RECONNMINT, 50)) != 0 ||
	    (rv = nng_socket_set_ms(lk.sub, NNG_OPT_RECONNMAXT, 500)) != 0)
		goto fail;
	if ((rv = redial_watch(&lk.sub_dial, lk.sub, link_dial, NULL, link_sub_pipe_cb, NULL)) != 0)
		goto fail;
	/* Every room's events, filtered by the event hook with one hash lookup. PUB sends every
	 * message to every subscriber whatever it subscribed to (SUB filters on arrival), so this
	 * costs no traffic; and nng 1.5's SUB matches each message against its topics one by
	 * one, so a topic per room made every event cost O(rooms held). */
	n = wire_topic(topic, sizeof(topic), WIRE_TOPIC_FRONTEND, ws->o.id);
	if ((rv = nng_socket_set(lk.sub, NNG_OPT_SUB_SUBSCRIBE, topic, n)) != 0 ||
	    (rv = nng_socket_set(lk.sub, NNG_OPT_SUB_SUBSCRIBE, WIRE_TOPIC_ALL, 2)) != 0 ||
	    (rv = nng_socket_set(lk.sub, NNG_OPT_SUB_SUBSCRIBE, WIRE_TOPIC_ROOMS, 2)) != 0 ||
	    (rv = nng_socket_set(lk.sub, NNG_OPT_SUB_SUBSCRIBE, WIRE_TOPIC_BUNDLE, 2)) != 0)
		goto fail;
	for (size_t i = 0; i < ws->o.n_events; i++)
		if (redial_add(&lk.sub_dial, ws->o.events_urls[i]) != 0)
			return -1;
	return 0;
fail:
	log_error("broker: %s", nng_strerror(rv));
	return -1;
}

/* Adopts the event descriptor into lws and sends the first hello. */
void
link_start(struct lws_context *ctx, struct lws_vhost *vh)
{
	lws_sock_file_fd_type fd;
	int rfd;

	lk.ctx = ctx;
	rpc_open((uint32_t)nng_socket_id(lk.req), ctx);

	if (nng_socket_get_int(lk.sub, NNG_OPT_RECVFD, &rfd) != 0 || (fd.filefd = dup(rfd)) < 0) {
		log_error("broker: no receive descriptor for events");
		return;
	}
	lk.events_wsi =
	    lws_adopt_descriptor_vhost(vh, LWS_ADOPT_RAW_FILE_DESC, fd, "madang-raw", NULL);
	if (lk.events_wsi == NULL) {
		log_error("broker: cannot adopt the event descriptor");
		close(fd.filefd);
		return;
	}
	link_poke();
}

void
link_close(void)
{
	/* Closing the sockets aborts every request in flight; their callbacks then queue them. */
	atomic_store(&lk.closing, true);
	nng_close(lk.req);
	nng_close(lk.sub);
	if (lk.sub_aio != NULL)
		nng_aio_free(lk.sub_aio);
	lk.sub_aio = NULL;
	rpc_close();
}
