/* ws_state.h — what every layer of madang-ws reads: the limits that are not flags, the close
 * codes, the options, the counters, and the two tables (sessions, rooms). Each field has one
 * owner that writes it (named below); the rest only read. Everything else lives in the module
 * that owns it (ws_glue, ws_conn, ws_client, ws_members, ws_delivery, ws_link, ws_rpc, ws_out),
 * behind its header. No lws, libev, nng or cJSON here.
 *
 * Threads: the lws service thread only. */
#ifndef MADANG_WS_STATE_H
#define MADANG_WS_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "jwt.h"
#include "limits.h"
#include "netacl.h"
#include "room.h"
#include "session.h"

struct tls_opts; /* common/tls.h */

/* Limits that are not flags (documented in docs/protocol.md, "Limits"). */
#define WS_FRAME_MAX      (64 * 1024)   /* a client message (all fragments); above: close 1009 */
#define WS_WRITE_CHUNK    (256 * 1024)  /* coalesced bytes per write (and tx_packet_size) */
#define WS_RX_BUFFER      128           /* lws receive chunk, per connection; longer: reassembled */
#define WS_RPC_TIMEOUT_MS 2000          /* a broker request that takes longer has failed */
#define WS_RATE_STRIKES   20            /* rate-limited messages in a row before close 1008 */
#define WS_EVENT_BUDGET   256           /* broker events handled per loop turn */
#define WS_EVENT_MAX      (1024 * 1024) /* a broker event larger than this is dropped */
#define WS_REPLY_MAX      (16 * 1024 * 1024) /* a broker reply larger than this fails */
#define WS_STOP_GRACE_MS  2000               /* SIGTERM: time given to close frames and leaves */
#define WS_STOP_TIMEOUT_S 15   /* --stop-timeout's default: under the unit's TimeoutStopSec */
#define WS_HEARTBEAT_MS   1000 /* until the broker's hello says otherwise */
#define WS_BROKERS_MAX    4    /* URLs in one --rpc or --events list (active and standbys) */
#define WS_BROKER_WAIT_MS_DEFAULT \
	5000                        /* --broker-wait-ms: a client waits this long for the broker */
#define WS_BROKER_WAIT_MS_MAX 60000 /* its range: 0..this */
#define WS_SESSION_RPC_MAX    256   /* a client's requests waiting for the broker; more: busy */
#define WS_BATCH_MAX          48    /* requests per batch (48 x ~4.3 KB < the broker's 256 KiB) */
/* The most bytes the replies of one batch may add up to, judged from each request's bound
 * (rpc_job.reply_bound): one reply over WS_REPLY_MAX makes nng drop the connection, and with
 * it every request in flight (issue 25: batched history replies cut the broker link). */
#define WS_BATCH_REPLY_MAX (WS_REPLY_MAX - 1024 * 1024)
/* The same for the requests of a batch against the broker's MADANG_RPC_MAX (256 KiB): a text of
 * 4096 bytes can take twice that as JSON, so 48 of them did not fit (invalid_request). */
#define WS_BATCH_REQ_MAX  (MADANG_RPC_MAX - 16 * 1024)
#define WS_REQ_SMALL      1024                         /* the bound of a request without text */
#define WS_EVENT_JSON_MAX (2 * MADANG_TEXT_MAX + 1024) /* one stored event as JSON, at most */
#define WS_REPLY_SMALL    (4 * MADANG_TEXT_MAX)        /* the bound of a reply without events */
#define WS_JOIN_USERS_MAX (64 * 1024) /* a join reply's member list, as counted for batching */
/* History replies (the history command): bytes per reply and byte budgets (docs/protocol.md). */
#define WS_HISTORY_BYTES_DEFAULT   (256 * 1024) /* --history-max-bytes: one reply's events */
#define WS_HISTORY_BYTES_MIN       (32 * 1024)  /* the broker's range for max_bytes */
#define WS_HISTORY_BYTES_MAX       (1024 * 1024)
#define WS_HISTORY_RATE_DEFAULT    (1024 * 1024)     /* --history-rate: bytes/s per connection */
#define WS_HISTORY_RATE_IP_DEFAULT (4 * 1024 * 1024) /* --history-rate-per-ip: bytes/s */
#define WS_HISTORY_RATE_MAX        (1024ull * 1024 * 1024)
#define WS_HISTORY_BURST_S         2     /* a budget saves up this many seconds of its rate */
#define WS_HISTORY_PAGE_DEFAULT    50    /* history's limit if none given, under --history 0 */
#define WS_HISTORY_IDLE_DEFAULT    10    /* --history-idle: a room quiet this long (s) */
#define WS_HISTORY_IDLE_MAX        86400 /* --history-idle's largest (a day) */
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
#define WS_CLOSE_MODERATED    4003 /* kicked or banned by a moderator, or refused by a ban */
#define WS_CLOSE_NO_ROOM      4004
#define WS_CLOSE_NICK_TAKEN   4009
#define WS_CLOSE_ROOM_FULL    4029

struct ws_opts {
	const char *listen; /* HOST:PORT */
	char host[256];
	int port;
	const char *rpc_url;            /* --rpc as given: one URL or URL,URL,… */
	const char *events_url;         /* --events as given */
	char *rpc_urls[WS_BROKERS_MAX]; /* --rpc split at commas (n_rpc of them) */
	size_t n_rpc;
	char *events_urls[WS_BROKERS_MAX]; /* --events split at commas (n_events) */
	size_t n_events;
	const struct tls_opts *tls; /* --tls-ca, --tls-cert, --tls-server-name (never NULL) */
	unsigned broker_wait_ms;    /* --broker-wait-ms: connect, join, send wait this long */
	unsigned stop_timeout;      /* --stop-timeout: seconds a stop may take (0: no limit) */
	const char *id;
	const char *origins; /* NULL: Origin must match Host; "*": any */
	const char *hosts;   /* --hosts: accepted Host values, comma-separated; NULL: any */
	int guest_digits;    /* --guest-digits: hex digits after "guest-" on /ws/chat/{room_id} */
	bool reuseport;
	bool libev; /* --event-loop libev */
	size_t max_message;
	uint32_t rate;
	uint32_t burst;
	struct bucket_rate msg_rate; /* rate and burst as every session's bucket reads them */
	uint32_t max_conns_per_ip;
	uint64_t queue_limit;
	int ping_interval;
	struct netacl trusted;
	size_t max_rooms;
	int history;
	uint64_t history_idle_ms; /* --history-idle in ms (0: frames kept for joiners always) */
	size_t history_max_bytes; /* --history-max-bytes */
	uint64_t history_rate;    /* --history-rate, bytes/s per connection */
	uint64_t history_rate_ip; /* --history-rate-per-ip, bytes/s per client address */
	bool verbose;
	bool auth;             /* --jwt-secret-file given: every connection needs ?token= */
	struct jwt_secret jwt; /* its secret */
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

struct ws_shared {
	struct ws_opts o;        /* set by ws_main.c before start-up, read-only afterwards */
	struct ws_counters c;    /* each counter bumped by the module that sees the event */
	struct sesstab sessions; /* added and removed by ws_conn.c (connections) */
	struct roomtab rooms;    /* added by ws_members.c (joins), freed by ws_delivery.c */
	bool stopping;           /* set by ws_glue.c on SIGTERM/SIGINT */
	char epoch[17];          /* the broker's epoch, "" before the first hello (ws_link.c) */
};

/* The one instance (ws_state.c). */
extern struct ws_shared *ws;

/* Request-path and header limits (ws_glue.c, ws_http.c, ws_conn.c). */
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

#endif
