/* ws_glue.c — madang-ws's lws context and loop plumbing (ws_glue.h): the protocol callbacks
 * (dispatching to ws_conn.c and ws_http.c), our own listening socket (shared with SO_REUSEPORT
 * when asked), signals read from a signalfd inside the loop, the tick, the end-of-turn work,
 * and the clean stop on SIGTERM/SIGINT. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "sdnotify.h"
#include "slab.h"
#include "stopguard.h"
#include <ev.h>
#include <libwebsockets.h>

#include "ws_conn.h"
#include "ws_delivery.h"
#include "ws_glue.h"
#include "ws_http.h"
#include "ws_link.h"
#include "policy.h"
#include "ws_out.h"
#include "ws_rpc.h"
#include "ws_state.h"

/* libwebsockets allocates through this (lws_set_allocator): what it keeps per connection (the
 * wsi, its WebSocket part, the receive buffer, our ws_pss: four pieces, 1,360 bytes) goes into
 * slabs, without malloc's headers and apart from what a handshake allocates and frees
 * (docs/performance.md, finding 32); its larger buffers stay malloc's. */
static void *
lws_alloc_cb(void *ptr, size_t size, const char *reason)
{
	(void)reason;
	return slab_realloc(ptr, size);
}

static struct {
	struct lws_context *ctx;
	struct lws_vhost *vh;
	int listen_fd;
	struct lws *listen_wsi;
	struct lws *signal_wsi;
	lws_sorted_usec_list_t tick;
	lws_sorted_usec_list_t keepalive; /* the ping sweep (conn_keepalive) */
	lws_sorted_usec_list_t held;      /* requests held back (rpc_flush) go by then */
	struct ev_loop *ev;               /* --event-loop libev: the loop lws runs on, else NULL */
	bool exit_loop;
	uint64_t stop_deadline_ms;
} gl = {.listen_fd = -1};

static void glue_stop(void);

/* Connections the kernel completes before we accept them. A full queue drops SYNs, and the
 * client retries only after a second or more: size it for a storm of reconnections (the kernel
 * caps it at net.core.somaxconn). */
#define LISTEN_BACKLOG 4096

/* --- the protocol callback ------------------------------------------------------------ */

static int
ws_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	/* The session of a WebSocket connection (ws_http.h); lws calls some reasons on a wsi of its
	 * own, never with one of ours. */
	struct ws_session *s = wsi != NULL ? lws_get_opaque_user_data(wsi) : NULL;
	char uri[WS_HTTP_PATH_MAX];

	switch (reason) {
	case LWS_CALLBACK_HTTP: {
		/* No GET path: another method (405). A path too long for uri: 414. */
		int n = http_header(wsi, WSI_TOKEN_GET_URI, uri, sizeof(uri));
		if (n <= 0) {
			if (lws_return_http_status(wsi,
			                           n < 0 ? HTTP_STATUS_REQ_URI_TOO_LONG
			                                 : HTTP_STATUS_METHOD_NOT_ALLOWED,
			                           NULL))
				return -1;
			return lws_http_transaction_completed(wsi) ? -1 : 0;
		}
		return http_request(wsi, uri) != 0 ? -1 : 0;
	}
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return http_reply_write(wsi);

	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE: {
		/* Handshake checks: a WebSocket path, the headers we read whole, an allowed Host
		 * and Origin. */
		char xff[WS_XFF_MAX];
		const char *why;
		int n;
		if (in == NULL || strcmp(in, "websocket") != 0)
			return -1;
		n = http_header(wsi, WSI_TOKEN_GET_URI, uri, sizeof(uri));
		if (n < 0) {
			ws->c.refused++;
			lws_return_http_status(wsi, HTTP_STATUS_REQ_URI_TOO_LONG, NULL);
			return -1;
		}
		if (n == 0 || (strcmp(uri, "/ws") != 0 && strncmp(uri, "/ws/", 4) != 0)) {
			lws_return_http_status(wsi, HTTP_STATUS_NOT_FOUND, NULL);
			return -1;
		}
		if (http_header(wsi, WSI_TOKEN_X_FORWARDED_FOR, xff, sizeof(xff)) < 0) {
			ws->c.refused++;
			log_info("ws: handshake refused: X-Forwarded-For too long");
			lws_return_http_status(wsi, WS_HTTP_HEADERS_TOO_LARGE, NULL);
			return -1;
		}
		if (!http_origin_ok(wsi, &why)) {
			ws->c.refused++;
			log_info("ws: handshake refused: %s", why);
			lws_return_http_status(wsi, HTTP_STATUS_FORBIDDEN, NULL);
			return -1;
		}
		return 0;
	}
	case LWS_CALLBACK_ESTABLISHED:
		return conn_established(wsi);
	case LWS_CALLBACK_SERVER_WRITEABLE:
		if (s == NULL)
			return -1;
		return out_writable(wsi, s);
	case LWS_CALLBACK_RECEIVE:
		if (s == NULL)
			return -1;
		return conn_receive(wsi, s, in, len);
	case LWS_CALLBACK_RECEIVE_PONG:
		if (s != NULL)
			conn_heard(s);
		break;
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		/* The client's close answers ours: lws must not echo it (a second close frame is a
		 * protocol error for browsers), just close the connection. */
		if (s != NULL && s->close_sent)
			return 1;
		break;
	case LWS_CALLBACK_CLOSED:
		conn_closed(wsi);
		break;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		rpc_drain();
		break;
	case LWS_CALLBACK_HTTP_DROP_PROTOCOL:
	case LWS_CALLBACK_WSI_DESTROY:
		http_reply_drop(wsi);
		break;
	default:
		break;
	}
	return lws_callback_http_dummy(wsi, reason, user, in, len);
}

/* --- raw descriptors: the listener, the broker's events, signals ----------------------- */

static void
ws_accept(void)
{
	int one = 1;

	for (int i = 0; i < 256; i++) {
		lws_sock_file_fd_type fd;
		int c = accept4(gl.listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (c < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				log_warn("ws: accept: %s", strerror(errno));
			return;
		}
		/* Small frames go out at once (lws leaves adopted sockets as they are). */
		if (setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
			log_warn("ws: TCP_NODELAY: %s", strerror(errno));
		fd.sockfd = c;
		if (lws_adopt_descriptor_vhost(gl.vh, LWS_ADOPT_SOCKET | LWS_ADOPT_HTTP, fd, NULL,
		                               NULL) == NULL)
			log_warn("ws: could not adopt a connection"); /* lws closed it */
	}
}

static void
ws_signal(void)
{
	struct signalfd_siginfo si;

	while (read(lws_get_socket_fd(gl.signal_wsi), &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (!ws->stopping)
			log_info("ws: signal %u, shutting down", si.ssi_signo);
		glue_stop();
	}
}

static int
raw_callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
	switch (reason) {
	case LWS_CALLBACK_RAW_RX_FILE:
		if (wsi == gl.listen_wsi)
			ws_accept();
		else if (link_is_events(wsi))
			link_events_readable();
		else if (wsi == gl.signal_wsi)
			ws_signal();
		break;
	case LWS_CALLBACK_RAW_CLOSE_FILE:
		if (wsi == gl.listen_wsi)
			gl.listen_wsi = NULL;
		else if (link_is_events(wsi))
			link_events_closed();
		else if (wsi == gl.signal_wsi)
			gl.signal_wsi = NULL;
		break;
	case LWS_CALLBACK_EVENT_WAIT_CANCELLED:
		rpc_drain();
		link_poke();
		break;
	default:
		break;
	}
	return 0;
}

/* No per-connection memory of ours from lws: per_session_data_size 0 (ws_http.h). */
static const struct lws_protocols ws_protocols[] = {
    {"madang", ws_callback, 0, WS_RX_BUFFER, 0, NULL, WS_WRITE_CHUNK + 64},
    {"madang-raw", raw_callback, 0, 0, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static lws_retry_bo_t ws_retry;

static void flush_requests(void);

static void
ws_held_cb(lws_sorted_usec_list_t *sul)
{
	(void)sul;
	flush_requests();
}

/* Sends the loop turn's broker requests. Those held back for a request in flight (policy_hold)
 * go with its reply, or by the deadline rpc_flush gave, even if nothing else wakes the loop. */
static void
flush_requests(void)
{
	uint64_t wait_ns = rpc_flush();
	bool due = !lws_dll2_is_detached(&gl.held.list);

	/* One already due is never later than this (the deadline only moves on): it tries again.
	 * Nothing held back (the reply came first): no wake-up for it. */
	if (wait_ns > 0 && !due)
		lws_sul_schedule(gl.ctx, 0, &gl.held, ws_held_cb,
		                 (lws_usec_t)((wait_ns + 999) / 1000));
	else if (wait_ns == 0 && due)
		lws_sul_cancel(&gl.held);
}

static void
ws_tick_cb(lws_sorted_usec_list_t *sul)
{
	link_heartbeat();
	delivery_tick();
	if (ws->stopping) {
		if ((ws->sessions.n == 0 && rpc_pending() == 0) ||
		    clock_mono_ms() >= gl.stop_deadline_ms)
			gl.exit_loop = true;
		lws_sul_schedule(gl.ctx, 0, sul, ws_tick_cb, 50 * LWS_US_PER_MS);
		return;
	}
	lws_sul_schedule(gl.ctx, 0, sul, ws_tick_cb,
	                 (lws_usec_t)link_heartbeat_ms() * LWS_US_PER_MS);
}

/* The sweep runs four times per ping interval, at most once a second: every client is pinged
 * every 1 to 1.25 intervals, and one that stays silent is cut within 2.25. */
static lws_usec_t
keepalive_period(void)
{
	lws_usec_t us = (lws_usec_t)ws->o.ping_interval * LWS_US_PER_SEC / 4;

	return us > LWS_US_PER_SEC ? LWS_US_PER_SEC : us;
}

static void
ws_keepalive_cb(lws_sorted_usec_list_t *sul)
{
	if (!ws->stopping)
		conn_keepalive();
	lws_sul_schedule(gl.ctx, 0, sul, ws_keepalive_cb, keepalive_period());
}

static void
stop_one(struct ws_session *s, void *arg)
{
	(void)arg;
	out_close(s, WS_CLOSE_GOING_AWAY, "server shutting down", false);
}

static void
glue_stop(void)
{
	if (ws->stopping)
		return;
	ws->stopping = true;
	gl.stop_deadline_ms = clock_mono_ms() + WS_STOP_GRACE_MS;
	stopguard_arm(ws->o.stop_timeout, "ws", "the close of the connections");
	sd_notify_send("STOPPING=1");
	if (gl.listen_wsi != NULL) {
		lws_set_timeout(gl.listen_wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
	}
	sesstab_each(&ws->sessions, stop_one, NULL);
	lws_sul_schedule(gl.ctx, 0, &gl.tick, ws_tick_cb, 10 * LWS_US_PER_MS);
}

static int
ws_listen_socket(void)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
	                         .ai_socktype = SOCK_STREAM,
	                         .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *res = NULL;
	char port[16];
	int fd = -1, one = 1, rv;

	snprintf(port, sizeof(port), "%d", ws->o.port);
	if ((rv = getaddrinfo(ws->o.host[0] ? ws->o.host : NULL, port, &hints, &res)) != 0) {
		log_error("ws: cannot resolve %s: %s", ws->o.listen, gai_strerror(rv));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    (ws->o.reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) ||
	    bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, LISTEN_BACKLOG) != 0) {
		log_error("ws: cannot listen on %s: %s", ws->o.listen, strerror(errno));
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* --event-loop libev: lws runs on our ev loop, and lws_service() returns only when the loop
 * is broken. What glue_run does after each poll() turn runs here, before each wait of the ev
 * loop: the iteration's broker requests go out, then the writes its frames asked for
 * (out_flush_writes), and the loop ends when madang-ws is done.
 *
 * Writes are latency-first (policy_pace): the frames of an iteration go out when it ends while
 * the loop has time to spare (it waited for events 20 % of the recent time or more). When it
 * is saturated the next flush waits (ws_flush_timer), at 95 % busy and more as long as the last
 * flush took: frames gather meanwhile and each send() carries several. Without that pause
 * fanout at 1M deliveries/s fell behind by over a second, and a storm of connections sends
 * each join notice on its own (docs/performance.md, findings 23, 24 and 27). The busy share is
 * measured here: from each wake-up of the loop (ws_ev_wake) to its next wait, against the
 * waits. */
static ev_prepare ws_ev_turn;
static ev_check ws_ev_wake;
static ev_timer ws_flush_timer;
static struct {
	struct pace_load busy; /* time from each wake-up (ws_ev_wake) to the next wait */
	uint64_t woke_ns;      /* monotonic ns the loop last woke up (0: not yet) */
	uint64_t slept_ns;     /* monotonic ns the loop last went to wait (0: not yet) */
	uint64_t flushed_ns;   /* monotonic ns the last flush ended (0: none yet) */
	uint64_t flush_cost;   /* ns the last flush took */
	bool flush_time;       /* MADANG_WS_PACING=flush-time: the rule before finding 27 */
} pace;

static void
ws_flush_paced(struct ev_loop *loop)
{
	struct pace_in in;
	uint64_t now, wait, done;

	if (!out_writes_pending())
		return;
	now = clock_mono_ns();
	in.busy_pct = policy_load_pct(&pace.busy);
	in.last_flush_ns = pace.flush_cost;
	in.since_flush_ns = pace.flushed_ns != 0 ? now - pace.flushed_ns : 0;
	in.sessions = out_writes_listed();
	in.flush_time = pace.flush_time;
	if ((wait = policy_pace(&in)) > 0) {
		if (!ev_is_active(&ws_flush_timer)) {
			ev_timer_set(&ws_flush_timer, (double)wait / 1e9, 0.);
			ev_timer_start(loop, &ws_flush_timer);
		}
		return;
	}
	if (ev_is_active(&ws_flush_timer))
		ev_timer_stop(loop, &ws_flush_timer);
	out_flush_writes();
	done = clock_mono_ns();
	pace.flush_cost = done - now;
	pace.flushed_ns = done;
}

static void
ws_flush_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)w;
	(void)revents;
	ws_flush_paced(loop);
}

/* After each wait (first of the iteration's callbacks): the wait was idle time. */
static void
ws_ev_wake_cb(struct ev_loop *loop, ev_check *w, int revents)
{
	uint64_t now = clock_mono_ns();

	(void)loop;
	(void)w;
	(void)revents;
	if (pace.slept_ns != 0)
		policy_load_add(&pace.busy, 0, now - pace.slept_ns);
	pace.woke_ns = now;
}

static void
ws_ev_turn_cb(struct ev_loop *loop, ev_prepare *w, int revents)
{
	uint64_t now;

	(void)w;
	(void)revents;
	conn_reap();
	flush_requests();
	ws_flush_paced(loop);
	if (gl.exit_loop)
		ev_break(loop, EVBREAK_ALL);
	/* Before each wait: the time since the wake-up was work. */
	now = clock_mono_ns();
	if (pace.woke_ns != 0)
		policy_load_add(&pace.busy, now - pace.woke_ns, 0);
	pace.slept_ns = now;
}

int
glue_init(void)
{
	static void *foreign_loops[1];
	struct lws_context_creation_info info;
	lws_sock_file_fd_type fd;
	sigset_t mask;
	int sfd;

	memset(&info, 0, sizeof(info));
	/* No validity timers of lws's own (a zero hangup time turns them off): ws_keepalive
	 * pings instead. */
	memset(&ws_retry, 0, sizeof(ws_retry));
	info.port = CONTEXT_PORT_NO_LISTEN;
	info.protocols = ws_protocols;
	info.options = LWS_SERVER_OPTION_VALIDATE_UTF8;
	info.retry_and_idle_policy = &ws_retry;
	info.timeout_secs = 10; /* handshake and HTTP */
	/* What the query-string reader (ws_conn.c) sizes its scratch buffer by. */
	info.max_http_header_data = WS_HTTP_HEADER_DATA;
	info.vhost_name = "madang-ws";
	info.user = ws;
	if (ws->o.libev) {
		/* epoll instead of poll(): a turn costs O(ready sockets), not O(all of them). */
		if ((gl.ev = ev_loop_new(EVFLAG_AUTO)) == NULL) {
			log_error("ws: cannot create the libev loop");
			return -1;
		}
		ev_prepare_init(&ws_ev_turn, ws_ev_turn_cb);
		ev_prepare_start(gl.ev, &ws_ev_turn);
		ev_unref(gl.ev); /* the watcher alone does not keep the loop running */
		ev_check_init(&ws_ev_wake, ws_ev_wake_cb);
		ev_set_priority(&ws_ev_wake, EV_MAXPRI); /* the other callbacks count as work */
		ev_check_start(gl.ev, &ws_ev_wake);
		ev_unref(gl.ev);
		ev_init(&ws_flush_timer, ws_flush_timer_cb);
		/* For A/B measurements only (bench/run.sh's madang-flush-time): the old pacing. */
		pace.flush_time = getenv("MADANG_WS_PACING") != NULL &&
		                  strcmp(getenv("MADANG_WS_PACING"), "flush-time") == 0;
		if (pace.flush_time)
			log_info("ws: MADANG_WS_PACING=flush-time: writes paced by the last "
			         "flush's cost");
		foreign_loops[0] = gl.ev;
		info.foreign_loops = foreign_loops;
		info.options |= LWS_SERVER_OPTION_LIBEV;
	}
	lws_set_log_level(LLL_ERR | LLL_WARN, NULL);
	lws_set_allocator(lws_alloc_cb);
	if ((gl.ctx = lws_create_context(&info)) == NULL) {
		log_error(
		    "ws: lws_create_context failed%s",
		    ws->o.libev
		        ? " (--event-loop libev, the default, needs the libwebsockets-evlib-ev "
		          "package; --event-loop poll does not)"
		        : "");
		return -1;
	}
	if ((gl.vh = lws_get_vhost_by_name(gl.ctx, "madang-ws")) == NULL) {
		log_error("ws: no vhost");
		return -1;
	}
	if (out_init(ws->o.queue_limit, ws->o.libev) != 0)
		return -1;

	/* Signals arrive as a readable descriptor inside the loop. They are blocked in every
	 * thread (nng's threads inherit the mask, ws_main.c blocks them before nng starts). */
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if ((sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
		log_error("ws: signalfd: %s", strerror(errno));
		return -1;
	}
	fd.filefd = sfd;
	if ((gl.signal_wsi = lws_adopt_descriptor_vhost(gl.vh, LWS_ADOPT_RAW_FILE_DESC, fd,
	                                                "madang-raw", NULL)) == NULL) {
		log_error("ws: cannot adopt the signal descriptor");
		return -1;
	}

	if ((gl.listen_fd = ws_listen_socket()) < 0)
		return -1;
	fd.filefd = gl.listen_fd;
	if ((gl.listen_wsi = lws_adopt_descriptor_vhost(gl.vh, LWS_ADOPT_RAW_FILE_DESC, fd,
	                                                "madang-raw", NULL)) == NULL) {
		log_error("ws: cannot adopt the listening socket");
		return -1;
	}
	lws_sul_schedule(gl.ctx, 0, &gl.tick, ws_tick_cb,
	                 (lws_usec_t)link_heartbeat_ms() * LWS_US_PER_MS);
	lws_sul_schedule(gl.ctx, 0, &gl.keepalive, ws_keepalive_cb, keepalive_period());
	link_start(gl.ctx, gl.vh);
	return 0;
}

int
glue_run(void)
{
	/* On poll, lws_service is one loop turn: one poll() and the callbacks of what it found.
	 * The requests the clients made in it then go out together, without another turn. On
	 * libev, lws_service runs the ev loop until ws_ev_turn_cb breaks it, and the same work is
	 * done there before each wait. */
	while (!gl.exit_loop) {
		if (lws_service(gl.ctx, 0) < 0)
			return -1;
		conn_reap();
		flush_requests();
	}
	return 0;
}

void
glue_fini(void)
{
	if (gl.ctx != NULL)
		lws_context_destroy(gl.ctx);
	gl.ctx = NULL;
	out_fini();
	if (gl.ev != NULL) {
		ev_ref(gl.ev);
		ev_prepare_stop(gl.ev, &ws_ev_turn);
		ev_ref(gl.ev);
		ev_check_stop(gl.ev, &ws_ev_wake);
		ev_timer_stop(gl.ev, &ws_flush_timer);
		ev_loop_destroy(gl.ev);
		gl.ev = NULL;
	}
}
