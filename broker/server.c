/* server.c — nng I/O for madang-broker.
 *
 * Threads: nng's own threads run the aio callbacks (slot_cb). They touch only the slot they are
 * called for and the work queue (under srv.mu). The state thread (server_run's caller) is the only
 * one that touches the broker state: it takes received requests off the queue, applies them,
 * publishes events and hands the reply back to the slot's context. */
#include "server.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "bundle.h"
#include "clock.h"
#include "hmap.h"
#include "ipc.h"
#include "listen.h"
#include "limits.h"
#include "log.h"
#include "nbio.h"
#include "sdnotify.h"
#include "stopguard.h"
#include "store.h"
#include "tls.h"
#include "wire.h"

#define SRV_RECV_MAX     (4u * 1024 * 1024) /* larger requests make nng drop the connection */
#define SRV_TICK_MS      50
#define SRV_PUB_QUEUE    1024 /* event messages queued per subscriber before pub drops the oldest */
#define SRV_PUB_COALESCE (64 * 1024) /* bytes of events sent as one pub message at most */
#define SRV_PUB_TOPICS   4096        /* topics with pending events before an early flush */
#define SRV_PRUNE_MS     200         /* how often old history is pruned, a little at a time */
#define SRV_PRUNE_BUDGET 500         /* events deleted per prune step at most */
#define SRV_REJOIN_MS    1000        /* pause before a broker that lost its session rejoins */

enum { SRV_STOPPED = 1, SRV_REJOIN = 2 }; /* serve()'s results besides 0 and -1 */

enum slot_state { SLOT_RECV, SLOT_SEND };

struct slot {
	nng_ctx ctx;
	nng_aio *aio;
	enum slot_state state;
	nng_msg *req;
	struct slot *next; /* in the work queue */
};

struct pubq {
	char topic[WIRE_TOPIC_MAX + 1]; /* "r/room1\n" */
	struct sbuf buf;                /* "r/room1\njson\njson…" */
};

static struct {
	nng_socket rep, pub;
	nng_aio *pub_aio;          /* pub_send's, kept (common/nbio.h) */
	struct listen_watch lw[2]; /* events, rpc (listen.h) */
	int ipc_mode;
	const struct tls_opts *tls;
	struct slot *slots;
	int nslots;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct slot *head, *tail; /* received requests waiting for the state thread */
	atomic_bool stop;
	uint64_t pub_fail;
	/* Events of one drain, coalesced per topic (state thread only). */
	struct hmap pending; /* topic -> struct pubq */
	struct pubq **outq;  /* in order of first appearance */
	size_t nout, outcap;
	/* How room topics go out (broker_event_modes, refreshed every drain), and the bundle
	 * being built from consecutive room topics of outq. */
	bool room_topics, bundles;
	struct sbuf bundle;
} srv = {.mu = PTHREAD_MUTEX_INITIALIZER};

void
server_stop(void)
{
	atomic_store(&srv.stop, true);
	pthread_mutex_lock(&srv.mu);
	pthread_cond_signal(&srv.cv);
	pthread_mutex_unlock(&srv.mu);
}

static bool
stopping_cb(void)
{
	return atomic_load(&srv.stop);
}

/* Runs on nng threads. */
static void
slot_cb(void *arg)
{
	struct slot *s = arg;
	int rv = nng_aio_result(s->aio);

	if (s->state == SLOT_SEND) {
		if (rv != 0) {
			nng_msg_free(nng_aio_get_msg(s->aio));
			nng_aio_set_msg(s->aio, NULL);
		}
		s->state = SLOT_RECV;
		if (!atomic_load(&srv.stop))
			nng_ctx_recv(s->ctx, s->aio);
		return;
	}
	if (rv != 0) {
		if (rv != NNG_ECLOSED && !atomic_load(&srv.stop))
			nng_ctx_recv(s->ctx, s->aio);
		return;
	}
	s->req = nng_aio_get_msg(s->aio);
	nng_aio_set_msg(s->aio, NULL);
	s->next = NULL;
	pthread_mutex_lock(&srv.mu);
	if (srv.tail)
		srv.tail->next = s;
	else
		srv.head = s;
	srv.tail = s;
	pthread_cond_signal(&srv.cv);
	pthread_mutex_unlock(&srv.mu);
}

static void
pub_send(const char *data, size_t len)
{
	nng_msg *m;

	if (nng_msg_alloc(&m, len) != 0) {
		srv.pub_fail++;
		return;
	}
	memcpy(nng_msg_body(m), data, len);
	if (nbio_send(srv.pub, srv.pub_aio, m) != 0) {
		nng_msg_free(m);
		srv.pub_fail++;
	}
}

static void
bundle_send(void)
{
	if (srv.bundle.len > 0)
		pub_send(srv.bundle.data, srv.bundle.len);
	sbuf_reset(&srv.bundle);
}

/* One room topic's coalesced events "r/<id>\njson…": on that topic, and/or appended to the
 * bundle "b\nr/<id>\njson…\nr/<id2>\njson…" (at most SRV_PUB_COALESCE bytes but for a single
 * room's part), which front-ends that take bundles receive instead: one nng message for every
 * room of a drain rather than one per room. */
static void
pub_room(const struct pubq *p)
{
	if (srv.room_topics)
		pub_send(p->buf.data, p->buf.len);
	if (!srv.bundles)
		return;
	if (!bundle_fits(&srv.bundle, p->buf.len, SRV_PUB_COALESCE))
		bundle_send();
	bundle_add_room(&srv.bundle, p->buf.data, p->buf.len);
	if (srv.bundle.oom) {
		srv.pub_fail++;
		sbuf_fini(&srv.bundle);
	}
}

static bool
is_room_topic(const char *topic)
{
	return topic[0] == WIRE_TOPIC_ROOM && topic[1] == '/';
}

/* Sends every coalesced topic buffer, in the order the topics first appeared; a run of room
 * topics goes out as one bundle (which keeps that order too). */
static void
pub_flush(void)
{
	for (size_t i = 0; i < srv.nout; i++) {
		struct pubq *p = srv.outq[i];
		if (is_room_topic(p->topic)) {
			pub_room(p);
		} else {
			bundle_send();
			pub_send(p->buf.data, p->buf.len);
		}
		hmap_del(&srv.pending, p->topic);
		sbuf_fini(&p->buf);
		free(p);
	}
	bundle_send();
	srv.nout = 0;
}

/* Drops every coalesced event unsent: their batch was not made durable. */
static void
pub_discard(void)
{
	for (size_t i = 0; i < srv.nout; i++) {
		hmap_del(&srv.pending, srv.outq[i]->topic);
		sbuf_fini(&srv.outq[i]->buf);
		free(srv.outq[i]);
	}
	srv.nout = 0;
	sbuf_reset(&srv.bundle);
}

/* broker_publish_fn, state thread only. Events are coalesced per topic until the end of the
 * current drain: one pub message "topic\njson\njson…" carries every event of that topic in
 * order, which costs nng one message instead of one per event (see docs/broker-protocol.md). */
static void
publish_cb(void *arg, const char *topic, size_t tlen, const char *json, size_t jlen)
{
	char key[WIRE_TOPIC_MAX + 1];
	struct pubq *p;

	(void)arg;
	if (tlen > WIRE_TOPIC_MAX)
		return;
	memcpy(key, topic, tlen);
	key[tlen] = '\0';
	if ((p = hmap_get(&srv.pending, key)) != NULL) {
		if (p->buf.len + 1 + jlen > SRV_PUB_COALESCE) {
			if (is_room_topic(p->topic)) {
				pub_room(p);
				bundle_send();
			} else {
				pub_send(p->buf.data, p->buf.len);
			}
			sbuf_reset(&p->buf);
			sbuf_add(&p->buf, topic, tlen);
		} else {
			sbuf_addc(&p->buf, '\n');
		}
		sbuf_add(&p->buf, json, jlen);
		return;
	}
	if (srv.nout >= SRV_PUB_TOPICS)
		pub_flush();
	if (srv.nout == srv.outcap) {
		size_t cap = srv.outcap ? srv.outcap * 2 : 64;
		struct pubq **q = realloc(srv.outq, cap * sizeof(*q));
		if (q == NULL) {
			srv.pub_fail++;
			return;
		}
		srv.outq = q;
		srv.outcap = cap;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		srv.pub_fail++;
		return;
	}
	memcpy(p->topic, key, tlen + 1);
	sbuf_add(&p->buf, topic, tlen);
	sbuf_add(&p->buf, json, jlen);
	if (p->buf.oom || hmap_put(&srv.pending, p->topic, p) != 0) {
		sbuf_fini(&p->buf);
		free(p);
		srv.pub_fail++;
		return;
	}
	srv.outq[srv.nout++] = p;
}

static int
make_epoch(char out[17])
{
	unsigned char r[8];

	if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r))
		return -1;
	for (int i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", r[i]);
	return 0;
}

static int
sockets_open(const struct server_config *cfg)
{
	char err[256];
	int rv;

	if (ipc_listen_prepare(cfg->rpc_url, err, sizeof(err)) != 0 ||
	    ipc_listen_prepare(cfg->events_url, err, sizeof(err)) != 0) {
		log_error("broker: refusing the socket directory: %s", err);
		return -1;
	}
	if (listen_clear_stale(cfg->rpc_url) != 0 || listen_clear_stale(cfg->events_url) != 0)
		return -1;
	if ((rv = nng_pub0_open(&srv.pub)) != 0 ||
	    (rv = nng_socket_set_int(srv.pub, NNG_OPT_SENDBUF, SRV_PUB_QUEUE)) != 0 ||
	    (rv = nng_aio_alloc(&srv.pub_aio, NULL, NULL)) != 0) {
		log_error("broker: cannot open the event socket: %s", nng_strerror(rv));
		return -1;
	}
	srv.ipc_mode = cfg->ipc_mode;
	srv.tls = cfg->tls;
	if (listen_open(&srv.lw[0], srv.pub, cfg->events_url, LISTEN_SUB0_PEER, srv.ipc_mode,
	                srv.tls) != 0)
		return -1;
	if ((rv = nng_rep0_open(&srv.rep)) != 0 ||
	    (rv = nng_socket_set_size(srv.rep, NNG_OPT_RECVMAXSZ, SRV_RECV_MAX)) != 0) {
		log_error("broker: cannot open the request socket: %s", nng_strerror(rv));
		return -1;
	}
	if (listen_open(&srv.lw[1], srv.rep, cfg->rpc_url, NNG_REQ0_SELF, srv.ipc_mode, srv.tls) !=
	    0)
		return -1;
	srv.nslots = cfg->inflight;
	if ((srv.slots = calloc((size_t)srv.nslots, sizeof(*srv.slots))) == NULL)
		return -1;
	for (int i = 0; i < srv.nslots; i++) {
		struct slot *s = &srv.slots[i];
		if ((rv = nng_ctx_open(&s->ctx, srv.rep)) != 0 ||
		    (rv = nng_aio_alloc(&s->aio, slot_cb, s)) != 0) {
			log_error("broker: cannot set up request contexts: %s", nng_strerror(rv));
			return -1;
		}
		s->state = SLOT_RECV;
		nng_ctx_recv(s->ctx, s->aio);
	}
	return 0;
}

static void
sockets_close(void)
{
	for (size_t i = 0; i < sizeof(srv.lw) / sizeof(srv.lw[0]); i++)
		listen_probe_stop(&srv.lw[i]);
	/* Closing rep aborts every pending receive; nng_aio_free waits for the callbacks. */
	nng_close(srv.rep);
	for (int i = 0; i < srv.nslots; i++) {
		if (srv.slots[i].aio)
			nng_aio_free(srv.slots[i].aio);
	}
	for (struct slot *s = srv.head; s != NULL; s = s->next)
		nng_msg_free(s->req);
	free(srv.slots);
	srv.slots = NULL;
	srv.nslots = 0;
	srv.head = srv.tail = NULL;
	if (srv.pub_aio != NULL)
		nng_aio_free(srv.pub_aio);
	srv.pub_aio = NULL;
	nng_close(srv.pub);
	for (size_t i = 0; i < sizeof(srv.lw) / sizeof(srv.lw[0]); i++)
		listen_fini(&srv.lw[i]);
}

/* Applies every queued request in arrival order, keeping each reply in its slot. Nothing is sent
 * yet: the caller first makes the batch durable (when there is a store), then publishes, then
 * replies. */
static void
drain(struct broker *b, struct sbuf *reply, struct slot *list)
{
	for (struct slot *s = list; s != NULL; s = s->next) {
		nng_msg *m = s->req;
		broker_handle(b, nng_msg_body(m), nng_msg_len(m), clock_wall_ms(), clock_mono_ms(),
		              reply);
		nng_msg_clear(m);
		if (nng_msg_append(m, reply->data, reply->len) != 0) {
			nng_msg_free(m);
			s->req = NULL;
			log_error("broker: out of memory for a reply");
		}
	}
}

/* Sends the replies kept by drain() and puts the slots back to receiving. */
static void
reply_all(struct slot *list)
{
	while (list != NULL) {
		struct slot *s = list;
		list = s->next;
		if (s->req == NULL) {
			s->state = SLOT_RECV;
			nng_ctx_recv(s->ctx, s->aio);
			continue;
		}
		s->state = SLOT_SEND;
		nng_aio_set_msg(s->aio, s->req);
		s->req = NULL;
		nng_ctx_send(s->ctx, s->aio);
	}
}

/* The store's name for the log: the data directory, or PostgreSQL and the cluster. */
static const char *
store_name(const struct server_config *cfg, char *buf, size_t size)
{
	if (cfg->store_uri != NULL)
		snprintf(buf, size, "PostgreSQL (cluster %s)", cfg->cluster);
	else
		snprintf(buf, size, "%s", cfg->data_dir ? cfg->data_dir : "none (in memory)");
	return buf;
}

/* Opens the store (--data or --store), waits for the cluster's lead (--store), takes the epoch,
 * and restores the rooms and recent history; a new database is seeded with the configured rooms
 * in the transaction that stores its epoch. Returns 0, SRV_STOPPED (stopped while waiting), or
 * -1 (logged). */
static int
store_setup(const struct server_config *cfg, struct broker *b, struct store **st,
            int (*add_rooms)(struct broker *b, void *arg), void *arg, size_t ring, bool rejoin)
{
	struct store_config sc = {.dir = cfg->data_dir,
	                          .uri = cfg->store_uri,
	                          .cluster = cfg->cluster,
	                          .sync = cfg->sync,
	                          .keep = cfg->keep,
	                          .keep_days = cfg->keep_days,
	                          .audit_days = cfg->audit_days,
	                          .reconnect = rejoin};
	struct broker_store hooks;
	char err[512] = "", name[128];
	bool is_new;
	char epoch[17];
	int rv;

	store_name(cfg, name, sizeof(name));
	if (store_open(&sc, stopping_cb, st, err, sizeof(err)) != 0) {
		if (!err[0])
			return SRV_STOPPED;
		log_error("broker: %s", err);
		return -1;
	}
	if ((rv = store_lead(*st, stopping_cb, err, sizeof(err))) != 0) {
		if (rv > 0)
			return SRV_STOPPED;
		log_error("broker: %s: %s", name, err);
		return -1;
	}
	memcpy(epoch, broker_epoch(b), sizeof(epoch));
	store_hooks(*st, &hooks);
	broker_set_store(b, &hooks);
	if (store_begin(*st) != 0 || store_epoch(*st, epoch, &is_new) != 0) {
		log_error("broker: cannot read the epoch from %s: %s", name, store_error(*st));
		return -1;
	}
	if (broker_set_epoch(b, epoch) != 0) {
		log_error("broker: out of memory taking the epoch of %s", name);
		return -1;
	}
	broker_set_term(b, store_term(*st));
	if (is_new && add_rooms(b, arg) != 0)
		return -1;
	if (store_commit(*st) != 0) {
		log_error("broker: cannot %s %s: %s", is_new ? "seed" : "read", name,
		          store_error(*st));
		return -1;
	}
	if (is_new) {
		log_info("broker: created a new database in %s", name);
		return 0;
	}
	if (store_restore(*st, b, ring, err, sizeof(err)) != 0) {
		log_error("broker: %s: %s", name, err);
		return -1;
	}
	return 0;
}

/* Serves once: sets up the store (a standby waits in there), listens, and runs the state loop.
 * Returns 0 after a clean stop, SRV_REJOIN when the PostgreSQL session was lost or a commit
 * failed there (the caller starts over as a standby), or -1. */
static int
serve(const struct server_config *cfg, struct broker_config *bcfg,
      int (*add_rooms)(struct broker *b, void *arg), void *arg, bool rejoin)
{
	struct broker *b = NULL;
	struct store *st = NULL;
	struct sbuf reply;
	char epoch[17], name[128], status[256];
	int rv = -1;
	/* A PostgreSQL store that fails once set up is left for a standby to take over. */
	const int fail_rv = cfg->store_uri != NULL ? SRV_REJOIN : -1;

	sbuf_init(&reply);
	store_name(cfg, name, sizeof(name));
	if (make_epoch(epoch) != 0) {
		log_error("broker: getrandom failed: %s", strerror(errno));
		return -1;
	}
	if ((b = broker_create(bcfg, epoch, publish_cb, NULL)) == NULL) {
		log_error("broker: out of memory");
		return -1;
	}
	if (cfg->data_dir != NULL || cfg->store_uri != NULL) {
		if ((rv = store_setup(cfg, b, &st, add_rooms, arg, bcfg->history, rejoin)) != 0) {
			if (rv == SRV_STOPPED)
				rv = 0;
			else if (st != NULL)
				rv = fail_rv;
			goto out;
		}
		memcpy(epoch, broker_epoch(b), sizeof(epoch));
	} else if (add_rooms(b, arg) != 0) {
		goto out;
	}
	rv = -1;
	if (sockets_open(cfg) != 0)
		goto out_sockets;
	log_info("broker: started: rpc %s, events %s, epoch %s, %zu rooms, history %zu, "
	         "front-end timeout %llu ms, data %s",
	         cfg->rpc_url, cfg->events_url, epoch, broker_room_count(b), bcfg->history,
	         (unsigned long long)bcfg->frontend_timeout_ms, name);
	if (cfg->store_uri != NULL)
		snprintf(status, sizeof(status), "READY=1\nSTATUS=active (cluster %s, term %llu)",
		         cfg->cluster, (unsigned long long)store_term(st));
	else
		snprintf(status, sizeof(status), "READY=1\nSTATUS=serving");
	sd_notify_send(status);

	rv = 0;
	uint64_t last_tick = clock_mono_ms(), last_prune = last_tick;
	while (!atomic_load(&srv.stop)) {
		struct slot *list;
		struct timespec until;

		pthread_mutex_lock(&srv.mu);
		if (srv.head == NULL && !atomic_load(&srv.stop)) {
			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += SRV_TICK_MS * 1000000L;
			if (until.tv_nsec >= 1000000000L) {
				until.tv_sec++;
				until.tv_nsec -= 1000000000L;
			}
			pthread_cond_timedwait(&srv.cv, &srv.mu, &until);
		}
		list = srv.head;
		srv.head = srv.tail = NULL;
		pthread_mutex_unlock(&srv.mu);

		uint64_t now = clock_mono_ms();
		bool tick = now - last_tick >= SRV_TICK_MS;
		if (list == NULL && !tick)
			continue;
		/* An idle active makes sure, now and then, that its session (and lead) still
		 * exists, so that it stops serving reads soon after losing it. */
		if (st != NULL && list == NULL && store_ping(st, now) != 0) {
			log_error(
			    "broker: lost the database session: %s: acknowledging nothing more",
			    store_error(st));
			rv = fail_rv;
			break;
		}
		/* Group commit: the whole batch (and the tick's expiries) becomes durable before
		 * any of its events is published or any of its requests acknowledged. */
		if (st != NULL && store_begin(st) != 0) {
			log_error("broker: storage failed: %s: stopping", store_error(st));
			for (struct slot *s = list; s != NULL; s = s->next) {
				nng_msg_free(s->req);
				s->req = NULL;
			}
			reply_all(list);
			rv = fail_rv;
			break;
		}
		broker_event_modes(b, &srv.room_topics, &srv.bundles);
		drain(b, &reply, list);
		if (tick) {
			broker_tick(b, clock_wall_ms(), clock_mono_ms());
			if (st != NULL && now - last_prune >= SRV_PRUNE_MS) {
				if (store_prune(st, clock_wall_ms(), SRV_PRUNE_BUDGET) < 0)
					log_warn("broker: %s", store_error(st));
				last_prune = now;
			}
			listen_check(srv.lw, sizeof(srv.lw) / sizeof(srv.lw[0]), now);
			last_tick = now;
		}
		if (st != NULL && store_commit(st) != 0) {
			/* Nothing of this batch was published or acknowledged: stopping now keeps
			 * the promise that nobody saw an event the broker could forget. */
			log_error("broker: cannot commit to %s: %s: stopping without acknowledging "
			          "the last %s",
			          name, store_error(st), list ? "requests" : "tick");
			for (struct slot *s = list; s != NULL; s = s->next) {
				nng_msg_free(s->req);
				s->req = NULL;
			}
			reply_all(list);
			rv = fail_rv;
			break;
		}
		broker_event_modes(b, &srv.room_topics, &srv.bundles);
		pub_flush();
		reply_all(list);
	}
	if (rv != 0) {
		pub_discard();
		goto out_sockets;
	}
	log_info("broker: stopping: %zu rooms, %zu members, %zu front-ends", broker_room_count(b),
	         broker_member_count(b), broker_frontend_count(b));
	sd_notify_send("STOPPING=1");
	/* Tell the front-ends at once, so that they report the broker unavailable without waiting
	 * for a heartbeat to time out; give the message a moment to leave. */
	char bye[64];
	int n =
	    snprintf(bye, sizeof(bye), "{\"type\":\"broker_stopping\",\"epoch\":\"%s\"}", epoch);
	publish_cb(NULL, WIRE_TOPIC_ALL, strlen(WIRE_TOPIC_ALL), bye, (size_t)n);
	pub_flush();
	struct timespec pause = {0, 50 * 1000000L};
	nanosleep(&pause, NULL);
	rv = 0;
out_sockets:
	/* The store first: nothing is applied after the loop, and it lets a standby take the lead
	 * (PostgreSQL) or leaves a checkpointed database (SQLite) whatever nng_close does next.
	 * nng 1.5.2's nng_close can deadlock (common/stopguard.h): the guard bounds the wait. */
	broker_set_store(b, &(const struct broker_store){NULL});
	store_close(st);
	st = NULL;
	stopguard_cleanup(cfg->stop_timeout, "broker", "nng_close", rv == 0 ? 0 : 1);
	sockets_close();
out:
	broker_destroy(b);
	store_close(st);
	sbuf_fini(&reply);
	sbuf_fini(&srv.bundle);
	return rv;
}

int
server_run(const struct server_config *cfg, struct broker_config *bcfg,
           int (*add_rooms)(struct broker *b, void *arg), void *arg)
{
	struct timespec pause = {SRV_REJOIN_MS / 1000, (SRV_REJOIN_MS % 1000) * 1000000L};
	bool rejoin = false;
	int rv;

	while ((rv = serve(cfg, bcfg, add_rooms, arg, rejoin)) == SRV_REJOIN) {
		/* Everything of the lost session is forgotten (sockets closed, state dropped): a
		 * standby may already be serving from the database. The guard of that close is
		 * lifted before the stop flag is read: a stop asked for later arms it again, one
		 * asked for before ends server_run here. */
		stopguard_disarm();
		if (atomic_load(&srv.stop))
			return 0;
		log_warn("broker: rejoining cluster %s as a standby in %d ms", cfg->cluster,
		         SRV_REJOIN_MS);
		sd_notify_send("STATUS=standby (lost the database session)");
		nanosleep(&pause, NULL);
		rejoin = true;
	}
	return rv;
}
