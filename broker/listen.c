/* listen.c — madang-broker's listeners, and the watch that replaces one nng stopped.
 *
 * nng 1.5.2's listener stops accepting for good when a connection fails in nng's handshake with
 * NNG_ECLOSED ("no further action", core/listener.c): a peer that connects and closes at once
 * can make the handshake's first write meet EPIPE, which nng maps to NNG_ECLOSED. Any local user
 * who may connect to the ipc socket could so stop the broker from taking front-ends (a burst of
 * such connections does it: tests/integration/it_broker.c); worse, nng's transport still
 * completes the handshake of later connections, so their peers believe they are connected and
 * wait for answers for ever. nng tells nothing of it (its error counts also grow with every
 * peer that goes away), so the broker probes each listener every LISTEN_PROBE_EVERY_MS: it
 * connects as a peer would, and the listener is alive once its count of accepted connections
 * grows. Not within LISTEN_PROBE_WAIT_MS: the broker closes the listener, with the connections
 * it holds (their peers dial again at once), and listens anew.
 *
 * tls+tcp:// listeners stop the same way: a TLS ClientHello followed at once by a reset makes
 * the broker's reply meet EPIPE (tests/suites/73-tls.sh), and that needs no certificate. Their
 * probe needs none either: it offers a ClientHello the broker must refuse (probe_hello). nng
 * hands a refused handshake up to the listener (NNG_EPEERAUTH, counted as "auth") only while
 * the listener is accepting, so a listener that counts the refusal is alive. The TLS watch
 * (common/tls.h) is told, and does not log the probe's refusal as a stranger's. A connection
 * that never starts its TLS handshake is shut down after TLSHELD_LIMIT_MS (tlsheld.h).
 *
 * Everything here runs on the state thread (listen.h). */
#include "listen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "clock.h"
#include "ipc.h"
#include "log.h"

/* For ipc:// URLs: a socket file left by a broker that was killed makes nng's listen fail with
 * "Address in use". If nothing accepts connections on it, it is stale: remove it. If something
 * does, another broker is running there: refuse to start (returns -1). */
int
listen_clear_stale(const char *url)
{
	const char *path = ipc_url_path(url);
	struct sockaddr_un sa;
	struct stat st;
	int fd, rv;

	if (path == NULL || strlen(path) >= sizeof(sa.sun_path) || stat(path, &st) != 0 ||
	    !S_ISSOCK(st.st_mode))
		return 0;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return 0;
	rv = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	if (rv == 0) {
		log_error("broker: %s is in use by a running process (another madang-broker?)",
		          path);
		return -1;
	}
	if (errno == ECONNREFUSED) {
		log_info("broker: removing stale socket %s", path);
		unlink(path);
	}
	return 0;
}

/* Listens on url. An ipc:// socket file gets ipc_mode, never the umask's: it is bound under
 * umask 0177 and chmod'ed by nng (NNG_OPT_IPC_PERMISSIONS) before it accepts. */
static int
listen_url(nng_socket sock, const char *url, int ipc_mode, const struct tls_opts *tls,
           nng_listener *out)
{
	nng_listener l;
	char err[512];
	mode_t old;
	int rv;

	if ((rv = nng_listener_create(&l, sock, url)) != 0)
		return rv;
	if (ipc_url_path(url) != NULL &&
	    (rv = nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS, ipc_mode)) != 0)
		return rv;
	/* tls+tcp://: a client certificate signed by --tls-ca is required (common/tls.h). */
	if (tls_url_is_tls(url) && (rv = tls_listener_config(l, tls, err, sizeof(err))) != 0) {
		log_error("broker: %s", err);
		return rv;
	}
	old = umask(0177);
	rv = nng_listener_start(l, 0);
	umask(old);
	if (rv == 0 && tls_url_is_tls(url))
		tls_watch_listener(l, url, "broker");
	if (rv == 0)
		*out = l;
	else
		nng_listener_close(l);
	return rv;
}

/* A listener's counter name from a snapshot of nng's statistics; 0 when absent. */
static uint64_t
listener_stat(nng_stat *all, nng_listener l, const char *name)
{
	for (nng_stat *c = nng_stat_child(all); c != NULL; c = nng_stat_next(c)) {
		nng_stat *id = nng_stat_find(c, "id");
		if (strcmp(nng_stat_name(c), "listener") != 0 || id == NULL ||
		    nng_stat_value(id) != (uint64_t)nng_listener_id(l))
			continue;
		nng_stat *v = nng_stat_find(c, name);
		return v != NULL ? nng_stat_value(v) : 0;
	}
	return 0;
}

/* Listens on w's URL anew (struct listen_watch): closes the old listener, which also ends the
 * connections it took (and the ones its transport holds without its listener taking them: their
 * peers would otherwise wait on them for ever), and for ipc:// removes the socket file; then
 * listens again. Returns 0 or an nng error (logged; listen_check tries again at the next
 * probe time). */
static int
listener_renew(struct listen_watch *w)
{
	nng_listener l;
	int rv;

	if (nng_listener_id(w->l) > 0) {
		tls_unwatch_listener(w->l);
		nng_listener_close(w->l);
	}
	w->l = (nng_listener)NNG_LISTENER_INITIALIZER;
	if (ipc_url_path(w->url) != NULL)
		unlink(ipc_url_path(w->url));
	if ((rv = listen_url(w->sock, w->url, w->ipc_mode, w->tls, &l)) != 0) {
		log_error("broker: cannot listen on %s again: %s", w->url, nng_strerror(rv));
		return rv;
	}
	w->l = l;
	return 0;
}

/* Opens a non-blocking connection to w's listener as a peer would: its ipc path, or the address
 * its TCP socket is bound to (a wildcard: the loopback address of its family). Returns the
 * descriptor, or -1 when the connection failed at once (nothing listens, its queue is full). */
static int
probe_connect(const struct listen_watch *w)
{
	const char *path = ipc_url_path(w->url);
	struct sockaddr_storage ss;
	socklen_t len;
	nng_sockaddr na;
	int fd;

	memset(&ss, 0, sizeof(ss));
	if (path != NULL) {
		struct sockaddr_un *sa = (struct sockaddr_un *)&ss;
		if (strlen(path) >= sizeof(sa->sun_path))
			return -1;
		sa->sun_family = AF_UNIX;
		strcpy(sa->sun_path, path);
		len = sizeof(*sa);
	} else if (nng_listener_get_addr(w->l, NNG_OPT_LOCADDR, &na) != 0) {
		return -1;
	} else if (na.s_family == NNG_AF_INET) {
		struct sockaddr_in *sa = (struct sockaddr_in *)&ss;
		sa->sin_family = AF_INET;
		sa->sin_port = na.s_in.sa_port; /* both in network order */
		sa->sin_addr.s_addr =
		    na.s_in.sa_addr != 0 ? na.s_in.sa_addr : htonl(INADDR_LOOPBACK);
		len = sizeof(*sa);
	} else if (na.s_family == NNG_AF_INET6) {
		struct sockaddr_in6 *sa = (struct sockaddr_in6 *)&ss;
		sa->sin6_family = AF_INET6;
		sa->sin6_port = na.s_in6.sa_port;
		memcpy(&sa->sin6_addr, na.s_in6.sa_addr, sizeof(sa->sin6_addr));
		if (IN6_IS_ADDR_UNSPECIFIED(&sa->sin6_addr))
			sa->sin6_addr = in6addr_loopback;
		len = sizeof(*sa);
	} else {
		return -1;
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&ss, len) != 0 && errno != EINPROGRESS) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Ends w's probe: alive, or not (then the broker listens anew). */
static void
probe_end(struct listen_watch *w, bool alive, uint64_t now)
{
	if (w->probe_fd >= 0)
		close(w->probe_fd);
	w->probe_fd = -1;
	w->probe_at = now + LISTEN_PROBE_EVERY_MS;
	if (alive)
		return;
	if (w->probe_answered != 0)
		log_warn("broker: %s did not take a connection within %d ms: listening anew (nng "
		         "1.5.2 stops accepting after a peer closed a connection in its handshake)",
		         w->url, LISTEN_PROBE_WAIT_MS);
	else
		log_warn("broker: %s did not take a connection within %d ms, nor answer it: "
		         "listening anew",
		         w->url, LISTEN_PROBE_QUEUE_MS);
	listener_renew(w);
}

/* The TLS probe's bytes: one TLS record holding a TLS 1.2 ClientHello (an all-zero random, no
 * session, no extensions) whose one cipher suite is TLS_NULL_WITH_NULL_NULL, which no TLS
 * library serves. The broker's TLS (mbedTLS in nng) answers with a handshake_failure alert and
 * fails the handshake with MBEDTLS_ERR_SSL_NO_USABLE_CIPHERSUITE, NNG_EPEERAUTH for nng: the
 * listener counts it as "auth" and goes on accepting at once. */
/* clang-format off */
static const unsigned char probe_hello[] = {
	0x16, 0x03, 0x01, 0x00, 0x2d, /* record: handshake, TLS 1.0 framing, 45 bytes */
	0x01, 0x00, 0x00, 0x29,       /* ClientHello, 41 bytes */
	0x03, 0x03,                   /* client_version: TLS 1.2 */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* random: 32 bytes */
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
	0x00,                         /* session_id: none */
	0x00, 0x02, 0x00, 0x00,       /* cipher_suites: TLS_NULL_WITH_NULL_NULL */
	0x01, 0x00,                   /* compression_methods: null */
};
/* clang-format on */
_Static_assert(sizeof(probe_hello) == 5 + 0x2d && 0x2d == 4 + 0x29, "probe_hello's lengths");

/* The listener's count of what shows it accepting: its accepted connections, and for
 * tls+tcp:// also its refused TLS handshakes (probe_hello's). */
static uint64_t
probe_count(nng_stat *all, const struct listen_watch *w)
{
	uint64_t n = listener_stat(all, w->l, "accept");

	return tls_url_is_tls(w->url) ? n + listener_stat(all, w->l, "auth") : n;
}

/* Sends the probe's bytes unless they went out already: the peer protocol's SP header, or for
 * tls+tcp:// probe_hello (then the TLS watch expects its refusal). */
static void
probe_send(struct listen_watch *w)
{
	unsigned char h[8] = {
	    0, 'S', 'P', 0, (unsigned char)(w->peer >> 8), (unsigned char)(w->peer & 0xff), 0, 0};
	bool tls = tls_url_is_tls(w->url);
	const void *b = tls ? (const void *)probe_hello : (const void *)h;
	size_t len = tls ? sizeof(probe_hello) : sizeof(h);

	if (w->sent)
		return;
	w->sent = send(w->probe_fd, b, len, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)len;
	if (w->sent && tls)
		tls_watch_expect(w->l);
}

/* Gives w's connections their TLS handshake time limit (tlsheld.h), on the port its listener
 * is bound to. */
static void
held_sweep(struct listen_watch *w, uint64_t now)
{
	nng_sockaddr na;
	uint16_t port = 0;

	if (nng_listener_id(w->l) <= 0 || nng_listener_get_addr(w->l, NNG_OPT_LOCADDR, &na) != 0)
		return;
	if (na.s_family == NNG_AF_INET)
		port = na.s_in.sa_port;
	else if (na.s_family == NNG_AF_INET6)
		port = na.s_in6.sa_port;
	if (port != 0)
		tlsheld_sweep(w->held, ntohs(port), w->url, now);
}

/* True once nng's transport has answered the probe (its SP header, a TLS alert, or a close):
 * it took the connection off the kernel's queue. */
static bool
probe_answered(const struct listen_watch *w)
{
	char b;
	ssize_t r = recv(w->probe_fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);

	return r >= 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != ENOTCONN);
}

/* A probe connects as a peer would and sends its bytes (probe_send; a TCP connection still
 * being made takes them at a later tick); the listener is alive once its count grows
 * (probe_count). nng's transport answers even when its listener stopped accepting, so what it
 * sends back tells only that the transport took the connection; from then the listener has
 * LISTEN_PROBE_WAIT_MS to count it. Under a flood of connections the kernel's queue can hold
 * the probe for seconds before nng takes it: a probe with no answer at all fails only after
 * LISTEN_PROBE_QUEUE_MS. A listener that could not listen again is retried at its next probe
 * time. */
void
listen_check(struct listen_watch *ws, size_t n, uint64_t now)
{
	nng_stat *all = NULL;

	for (size_t i = 0; i < n; i++) {
		struct listen_watch *w = &ws[i];

		if (w->held != NULL)
			held_sweep(w, now);
		if (w->probe_fd < 0 && now < w->probe_at)
			continue;
		if (w->probe_fd < 0 && nng_listener_id(w->l) <= 0) {
			w->probe_at = now + LISTEN_PROBE_EVERY_MS;
			listener_renew(w);
			continue;
		}
		if (all == NULL && nng_stats_get(&all) != 0)
			return;
		if (w->probe_fd < 0) {
			w->took = probe_count(all, w);
			if ((w->probe_fd = probe_connect(w)) < 0) {
				probe_end(w, false, now);
				continue;
			}
			w->sent = false;
			w->probe_answered = 0;
			w->probe_deadline = now + LISTEN_PROBE_QUEUE_MS;
			probe_send(w);
			continue;
		}
		probe_send(w);
		if (probe_count(all, w) > w->took) {
			probe_end(w, true, now);
			continue;
		}
		if (w->probe_answered == 0 && probe_answered(w)) {
			w->probe_answered = now;
			w->probe_deadline = now + LISTEN_PROBE_WAIT_MS;
		}
		if (now >= w->probe_deadline)
			probe_end(w, false, now);
	}
	if (all != NULL)
		nng_stats_free(all);
}

int
listen_open(struct listen_watch *w, nng_socket sock, const char *url, uint16_t peer, int ipc_mode,
            const struct tls_opts *tls)
{
	int rv;

	*w = (struct listen_watch){.sock = sock,
	                           .url = url,
	                           .peer = peer,
	                           .ipc_mode = ipc_mode,
	                           .tls = tls,
	                           .probe_fd = -1,
	                           .probe_at = clock_mono_ms()};
	if (tls_url_is_tls(url) && (rv = tlsheld_open(&w->held, sock)) != 0) {
		log_error("broker: cannot watch the TLS handshakes on %s: %s", url,
		          nng_strerror(rv));
		return -1;
	}
	if ((rv = listen_url(sock, url, ipc_mode, tls, &w->l)) != 0) {
		log_error("broker: cannot listen on %s: %s", url, nng_strerror(rv));
		return -1;
	}
	return 0;
}

void
listen_probe_stop(struct listen_watch *w)
{
	if (w->url != NULL && w->probe_fd >= 0)
		close(w->probe_fd);
	w->probe_fd = -1;
}

void
listen_fini(struct listen_watch *w)
{
	tlsheld_close(w->held);
	w->held = NULL;
}
