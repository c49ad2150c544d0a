/* ws.h — madang-ws's shell: the process-wide state and the functions its files share.
 *
 * Threads: the lws service thread owns everything in struct ws_app except the completed-RPC
 * queue (done_*), which nng's aio threads append to under done_mu before waking the loop with
 * lws_cancel_service(), and sub_connected, an atomic flag nng's pipe callback sets. No other
 * field is touched off the lws thread. */
#ifndef MADANG_WS_H
#define MADANG_WS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <ev.h>
#include <libwebsockets.h>
#include <nng/nng.h>

#include "jwt.h"
#include "netacl.h"
#include "room.h"
#include "route.h"
#include "sbuf.h"
#include "session.h"
#include "ws_out.h"

/* Limits that are not flags (documented in docs/protocol.md, "Limits"). */
#define WS_FRAME_MAX       (64 * 1024)  /* a client message (all fragments); above: close 1009 */
#define WS_WRITE_CHUNK     (256 * 1024) /* coalesced bytes per write (and tx_packet_size) */
#define WS_RX_BUFFER       256          /* lws receive chunk, per connection; longer: reassembled */
#define WS_RX_KEEP         1024 /* a reassembly buffer larger than this is freed after use */
#define WS_RPC_TIMEOUT_MS  2000 /* a broker request that takes longer has failed */
#define WS_RATE_STRIKES    20   /* rate-limited messages in a row before close 1008 */
#define WS_EVENT_BUDGET    256  /* broker events handled per loop turn */
#define WS_EVENT_MAX       (1024 * 1024)      /* a broker event larger than this is dropped */
#define WS_REPLY_MAX       (16 * 1024 * 1024) /* a broker reply larger than this fails */
#define WS_STOP_GRACE_MS   2000               /* SIGTERM: time given to close frames and leaves */
#define WS_HEARTBEAT_MS    1000               /* until the broker's hello says otherwise */
#define WS_SESSION_RPC_MAX 256  /* a client's requests waiting for the broker; more: busy */
#define WS_BATCH_MAX       48   /* requests per batch (48 x ~4.3 KB < the broker's 256 KiB) */
/* The most bytes the replies of one batch may add up to, judged from each request's bound
 * (rpc_job.reply_bound): one reply over WS_REPLY_MAX makes nng drop the connection, and with
 * it every request in flight (issue 25: batched history replies cut the broker link). */
#define WS_BATCH_REPLY_MAX (WS_REPLY_MAX - 1024 * 1024)
/* The same for the requests of a batch against the broker's MADANG_RPC_MAX (256 KiB): a text of
 * 4096 bytes can take twice that as JSON, so 48 of them did not fit (invalid_request). */
#define WS_BATCH_REQ_MAX   (MADANG_RPC_MAX - 16 * 1024)
#define WS_REQ_SMALL       1024 /* the bound of a request without text */
#define WS_EVENT_JSON_MAX  (2 * MADANG_TEXT_MAX + 1024) /* one stored event as JSON, at most */
#define WS_REPLY_SMALL     (4 * MADANG_TEXT_MAX)        /* the bound of a reply without events */
#define WS_JOIN_USERS_MAX  (64 * 1024) /* a join reply's member list, as counted for batching */
/* History replies (the history command): bytes per reply and byte budgets (docs/protocol.md). */
#define WS_HISTORY_BYTES_DEFAULT   (256 * 1024)      /* --history-max-bytes: one reply's events */
#define WS_HISTORY_BYTES_MIN       (32 * 1024)       /* the broker's range for max_bytes */
#define WS_HISTORY_BYTES_MAX       (1024 * 1024)
#define WS_HISTORY_RATE_DEFAULT    (1024 * 1024)     /* --history-rate: bytes/s per connection */
#define WS_HISTORY_RATE_IP_DEFAULT (4 * 1024 * 1024) /* --history-rate-per-ip: bytes/s */
#define WS_HISTORY_RATE_MAX        (1024ull * 1024 * 1024)
#define WS_HISTORY_BURST_S         2     /* a budget saves up this many seconds of its rate */
#define WS_HISTORY_PAGE_DEFAULT    50    /* history's limit if none given, under --history 0 */
#define WS_HISTORY_SWEEP_MS        10000 /* how often paid-up address budgets are freed */

/* Close codes (RFC 6455 and madang's 4xxx, docs/protocol.md "Close codes"). */
#define WS_CLOSE_UNAUTHORIZED 4001
#define WS_CLOSE_GOING_AWAY   1001
#define WS_CLOSE_UNSUPPORTED  1003
#define WS_CLOSE_POLICY       1008
#define WS_CLOSE_TOO_BIG      1009
#define WS_CLOSE_INTERNAL     1011
#define WS_CLOSE_TRY_LATER    1013
#define WS_CLOSE_BAD_REQUEST  4000
#define WS_CLOSE_NO_ROOM      4004
#define WS_CLOSE_NICK_TAKEN   4009
#define WS_CLOSE_ROOM_FULL    4029

struct ws_opts {
	const char *listen; /* HOST:PORT */
	char host[256];
	int port;
	const char *rpc_url;
	const char *events_url;
	const char *id;
	const char *origins; /* NULL: Origin must match Host; "*": any */
	const char *hosts;   /* --hosts: accepted Host values, comma-separated; NULL: any */
	int guest_digits;    /* --guest-digits: hex digits after "guest-" on /ws/chat/{room_id} */
	bool reuseport;
	bool libev; /* --event-loop libev */
	size_t max_message;
	uint32_t rate;
	uint32_t burst;
	uint32_t max_conns_per_ip;
	uint64_t queue_limit;
	int ping_interval;
	struct netacl trusted;
	size_t max_rooms;
	int history;
	size_t history_max_bytes;  /* --history-max-bytes */
	uint64_t history_rate;     /* --history-rate, bytes/s per connection */
	uint64_t history_rate_ip;  /* --history-rate-per-ip, bytes/s per client address */
	bool verbose;
	bool auth;             /* --jwt-secret-file given: every connection needs ?token= */
	struct jwt_secret jwt; /* its secret */
};

enum broker_state {
	BROKER_DOWN,    /* no answer: hello is retried every heartbeat */
	BROKER_SYNCING, /* hello answered; sync and re-joins in flight */
	BROKER_UP,
};

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

struct ws_counters {
	uint64_t connections;
	uint64_t refused;
	uint64_t slow_consumers;
	uint64_t
	    socket_full; /* writes the client's socket did not take whole (lws keeps the rest) */
	uint64_t rate_limited;
	uint64_t gaps;
	uint64_t events;
	uint64_t resyncs;
	uint64_t history_shared; /* joins whose history came (partly) from a room's log */
};

struct ws_app {
	struct ws_opts o;
	struct lws_context *ctx;
	struct lws_vhost *vh;
	int listen_fd;
	struct lws *listen_wsi;
	struct sesstab sessions;
	struct roomtab rooms;
	struct ws_room *dirty; /* rooms with events not fanned out yet */
	struct ipcount ips;
	uint64_t next_serial;
	struct ws_counters c;
	struct addrbudgets hist_ips; /* history byte budgets by client address (client.c) */
	uint64_t hist_swept_ns;
	/* broker */
	nng_socket req;
	nng_socket sub;
	struct lws *events_wsi;
	atomic_bool sub_connected; /* the event stream has a live pipe (set on nng threads) */
	char instance[17];
	char epoch[17];
	char prev_epoch[17]; /* the epoch before the last hello: re-joins resume from it */
	enum broker_state bstate;
	unsigned heartbeat_ms;
	bool hello_busy, hb_busy, sync_busy;
	/* The broker's last hello reply granted bundles: room events come on "b" (several rooms
	 * per message) and r/<room_id> messages are ignored; else the other way round. */
	bool bundles;
	bool down_notified;
	lws_sorted_usec_list_t tick;
	lws_sorted_usec_list_t keepalive; /* the ping sweep (ws_keepalive) */
	struct ev_loop *ev;               /* --event-loop libev: the loop lws runs on, else NULL */
	struct rpc_job *jobs;                 /* in flight */
	struct rpc_job *out_head, *out_tail;  /* sessions' requests of this loop turn (rpc_flush) */
	size_t njobs;
	pthread_mutex_t done_mu;
	struct rpc_job *done_head, *done_tail;
	/* shutdown */
	bool stopping;
	bool exit_loop;
	bool exiting; /* past the loop: nothing new is sent */
	uint64_t stop_deadline_ms;
	struct lws *signal_wsi;
};

extern struct ws_app *ws;

/* request.c */
/* Sends req (consumed) with done called on the lws thread. j from rpc_job_new. */
void rpc_send(struct rpc_job *j, cJSON *req);
struct rpc_job *rpc_job_new(rpc_done_fn done, struct ws_session *s);
/* Like rpc_send for a job of a session: after the session's earlier requests. Returns -1 (and
 * frees req and j) when WS_SESSION_RPC_MAX requests already wait. */
int rpc_send_ordered(struct rpc_job *j, cJSON *req);
/* Sends this turn's requests, runs the done callbacks of the completed ones (lws thread). */
void rpc_drain(void);
/* Sends this turn's requests: at the end of every loop turn (main.c), and from rpc_drain. */
void rpc_flush(void);
/* Several requests in one broker round trip, applied in order: each sub-job gets its own reply
 * and its done callback, as if sent alone. rpc_batch_add takes over req. */
struct rpc_job *rpc_batch_new(void);
void rpc_batch_add(struct rpc_job *b, struct rpc_job *sub, cJSON *req);
void rpc_batch_send(struct rpc_job *b);
/* Frees a batch that was never sent (and its sub-jobs). */
void rpc_batch_discard(struct rpc_job *b);

/* broker.c */
int broker_open(void);
void broker_close(void);
void broker_start(void);
void broker_events_readable(void);
void broker_tick(void);
/* Registers as soon as possible when not registered (after a pipe event or at start). */
void broker_poke(void);
/* A request object with "op", "frontend" and the session (when s != NULL). */
cJSON *broker_req(const char *op, const struct ws_session *s);
bool broker_up(void);
const char *broker_state_name(void);

/* joins.c */
/* Sends the room's queued joins unless a round is in flight. */
void rooms_pump(struct ws_room *r);

/* rooms.c */
/* The room with this id, created when create is set (NULL: no memory). */
struct ws_room *rooms_get(const char *id, bool create);
/* Fetches the room's events after the log's top from the broker's history. */
void rooms_repair(struct ws_room *r);
int rooms_join(struct ws_session *s, const char *room_id, const char *user, bool has_since,
               uint64_t since, const char *epoch);
void rooms_leave(struct ws_session *s, struct ws_member *m, bool tell_broker, const char *reason);
void rooms_event(const char *body, size_t len);
/* Fans out every room that got events since the last call: once per batch of broker messages,
 * not once per event. */
void rooms_flush(void);
void rooms_resync(void);
void rooms_tick(void);
/* Moves a member's undelivered room frames into its session queue, then takes it out of the
 * room (the frames stay in order, the room may trim). */
void rooms_detach(struct ws_member *m);

/* Per-connection memory lws allocates for us: a session, or an HTTP reply being sent. */
struct ws_pss {
	struct ws_session *s;
	bool counted; /* holds a --max-conns-per-ip slot */
	char addr[NETACL_ADDR_MAX];
	int http_status;
	size_t body_len;
	char *body; /* an HTTP reply being sent (malloc'd: most connections never need one) */
	int64_t token_exp_ms; /* --jwt-secret-file: wall-clock ms when the token expires, or 0 */
	bool guest;           /* /ws/chat/{room_id}: a generated nickname, replaced when taken */
	uint8_t guest_tries;  /* nicknames tried so far (WS_GUEST_TRIES) */
};

#define WS_HTTP_PATH_MAX 512 /* request paths longer than this are refused */
/* Request headers madang-ws reads, each refused when longer (never taken as absent). */
#define WS_ORIGIN_MAX             512  /* Origin: longer → 403 at the handshake */
#define WS_HOST_MAX               300  /* Host: longer → 403 at the handshake */
#define WS_XFF_MAX                1024 /* X-Forwarded-For: longer → 431 at the handshake */
#define WS_HTTP_HEADERS_TOO_LARGE 431  /* not in lws's enum http_status */
#define WS_HTTP_HEADER_DATA       4096 /* all of a request's headers (lws max_http_header_data) */
#define WS_QUERY_ARG_MAX          (JWT_MAX_LEN + 8) /* one ?name=value; a longer value → close 4000 */
#define WS_GUEST_PREFIX           "guest-"
#define WS_GUEST_TRIES            16   /* /ws/chat/{room_id}: nicknames tried when one is taken */
#define WS_HEALTH_MAX             1024 /* the /healthz body */

/* http.c */
/* Header h whole into buf: its length (0 when absent or empty), or -1 when it does not fit
 * (the caller refuses the request). */
int http_header(struct lws *wsi, enum lws_token_indexes h, char *buf, size_t size);
/* The handshake's Host against --hosts, its Origin against --origins or else the Host header.
 * False with *why (for the log) when refused. */
bool http_origin_ok(struct lws *wsi, const char **why);
/* Answers a plain HTTP GET (/healthz, else 404); the body goes out in HTTP_WRITEABLE. */
int http_request(struct lws *wsi, struct ws_pss *p, const char *uri);

/* conn.c */
int ws_established(struct lws *wsi, struct ws_pss *p);
void ws_closed(struct ws_pss *p);
int ws_receive(struct lws *wsi, struct ws_session *s, const char *in, size_t len);
/* The reap pass, once per loop turn: each client the output layer flagged as a slow consumer
 * leaves its rooms (the broker told) and is closed with 1008. */
void conn_reap(void);
/* Something (a frame or a pong) came from the client: it is alive. */
void ws_heard(struct ws_session *s);
/* The broker's "probe" (a newcomer wants this member's nickname): unless the client was heard
 * from in the last WS_PROBE_WAIT_MS, ping it now; the keep-alive sweep cuts it (its leave frees
 * the name) when nothing came back WS_PROBE_WAIT_MS later. */
#define WS_PROBE_WAIT_MS 2000
void ws_probe(struct ws_session *s);
/* Pings the clients silent for --ping-interval, cuts those silent for twice as long, closes
 * those whose token has expired (4001). */
void ws_keepalive(void);
/* /ws/chat/{room_id}: after the broker refused member m's generated nickname as taken, picks
 * another one and queues the join again. False when s is not a guest or out of tries. */
bool ws_guest_retry(struct ws_session *s, struct ws_member *m);

/* server.c */
int server_init(void);
void server_fini(void);
void ws_stop(void);

/* client.c */
void client_message(struct ws_session *s, const char *buf, size_t len);
void client_opened(struct ws_session *s, const struct route *rt);
/* A join of s is over: its held messages go on (failed_room: that join was refused with err
 * and msg, and the messages held for it get that error). */
void client_release(struct ws_session *s, const char *failed_room, const char *err,
                    const char *msg);

#endif
