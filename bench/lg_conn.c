/* lg_conn.c — one load-generator connection's I/O: the non-blocking connect (optionally from one
 * of several 127.0.0.x source addresses), the HTTP upgrade and its Sec-WebSocket-Accept check,
 * buffered masked writes, and the end of a connection with its accounting. Called only from the
 * worker thread that owns the connection. */
#include "loadgen.h"
#include "lg_ws.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_WBUF      (256u * 1024 * 1024) /* unsent bytes per connection: beyond, it is closed */
#define MAX_HTTP_RESP 8192                 /* upgrade response headers */

static uint64_t
rng_next(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return *s = x;
}

/* Keeps the first problem of the run for the report: "conn ID: PREFIXWHAT". */
void
lg_note_error(struct lg_worker *w, uint32_t id, const char *prefix, const char *what)
{
	if (w->first_error[0] == '\0')
		snprintf(w->first_error, sizeof(w->first_error), "conn %u: %s%s", id, prefix, what);
}

int
lg_grow(uint8_t **buf, uint32_t *cap, size_t need)
{
	size_t ncap = *cap ? *cap : 256;
	uint8_t *nb;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	if (ncap > UINT32_MAX)
		return -1;
	if ((nb = realloc(*buf, ncap)) == NULL)
		return -1;
	*buf = nb;
	*cap = (uint32_t)ncap;
	return 0;
}

static void
set_events(struct lg_worker *w, struct lg_conn *c, int want_out)
{
	struct epoll_event ev = {.events = EPOLLIN | (want_out ? EPOLLOUT : 0),
	                         .data.u64 = (uint64_t)(c - w->conns)};

	if (c->want_out == want_out)
		return;
	c->want_out = (uint8_t)want_out;
	epoll_ctl(w->ep, EPOLL_CTL_MOD, c->fd, &ev);
}

void
lg_conn_release(struct lg_conn *c)
{
	free(c->rbuf);
	free(c->wbuf);
	free(c->frag);
	c->rbuf = c->wbuf = c->frag = NULL;
	c->rlen = c->rcap = c->woff = c->wlen = c->wcap = c->fraglen = c->fragcap = 0;
}

/* Ends a connection for good. One that never opened counts as failed; one that never became
 * ready counts as done connecting (the coordinator waits for every connection to be done). */
void
lg_conn_end(struct lg_worker *w, struct lg_conn *c)
{
	if (c->fd >= 0) {
		epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
	}
	if (c->state == LG_CONNECTING || c->state == LG_HANDSHAKE)
		w->inflight--;
	if (c->state != LG_OPEN && c->state != LG_CLOSED)
		w->c.failed++;
	else if (c->state == LG_OPEN && !c->ready)
		w->c.not_joined++;
	if (!c->ready)
		atomic_fetch_add(&w->done_connecting, 1);
	c->state = c->state == LG_OPEN ? LG_CLOSED : LG_FAILED;
	c->ready = 1; /* never counted again */
	lg_conn_release(c);
}

static void
conn_flush(struct lg_worker *w, struct lg_conn *c)
{
	while (c->woff < c->wlen) {
		ssize_t n = send(c->fd, c->wbuf + c->woff, c->wlen - c->woff, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == EINTR)
				continue;
			lg_note_error(w, c->id, "send: ", strerror(errno));
			lg_conn_end(w, c);
			return;
		}
		w->c.bytes_out += (uint64_t)n;
		c->woff += (uint32_t)n;
	}
	if (c->woff == c->wlen) {
		c->woff = c->wlen = 0;
		set_events(w, c, 0);
	} else {
		set_events(w, c, 1);
	}
}

/* Queues bytes for c and writes what the kernel takes now. Returns -1 when c is gone. */
static int
conn_write(struct lg_worker *w, struct lg_conn *c, const void *data, size_t len)
{
	const uint8_t *p = data;

	if (c->fd < 0)
		return -1;
	if (c->wlen == 0) {
		ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			lg_note_error(w, c->id, "send: ", strerror(errno));
			lg_conn_end(w, c);
			return -1;
		}
		if (n > 0) {
			w->c.bytes_out += (uint64_t)n;
			p += n;
			len -= (size_t)n;
		}
		if (len == 0)
			return 0;
	}
	if (c->wlen + len > MAX_WBUF) {
		lg_note_error(w, c->id, "", "output backlog over 256 MiB, closing");
		lg_conn_end(w, c);
		return -1;
	}
	if (c->woff > 0 && c->woff == c->wlen)
		c->woff = c->wlen = 0;
	if (lg_grow(&c->wbuf, &c->wcap, (size_t)c->wlen + len) != 0) {
		lg_conn_end(w, c);
		return -1;
	}
	memcpy(c->wbuf + c->wlen, p, len);
	c->wlen += (uint32_t)len;
	set_events(w, c, 1);
	return 0;
}

int
lg_conn_send_frame(struct lg_worker *w, struct lg_conn *c, int opcode, const void *payload,
                size_t len)
{
	uint8_t stackbuf[2048];
	uint8_t *buf = stackbuf;
	size_t n;
	int rv;

	if (len + LG_WS_MAX_HDR > sizeof(stackbuf) && (buf = malloc(len + LG_WS_MAX_HDR)) == NULL)
		return -1;
	n = lg_ws_frame(buf, opcode, payload, len, (uint32_t)rng_next(&w->rng));
	rv = conn_write(w, c, buf, n);
	if (buf != stackbuf)
		free(buf);
	return rv;
}

static void
ws_key_for(const struct lg_run *run, uint32_t id, char out[25])
{
	uint8_t raw[16];

	memcpy(raw, &run->run_id, 8);
	memcpy(raw + 8, &id, 4);
	memset(raw + 12, 0x5a, 4);
	lg_base64(raw, sizeof(raw), out);
}

/* Starts the TCP connection of c. */
void
lg_conn_start(struct lg_worker *w, struct lg_conn *c, uint64_t now)
{
	const struct lg_opts *o = &w->run->o;
	struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.u64 = (uint64_t)(c - w->conns)};
	int one = 1;

	c->t_start = now;
	c->state = LG_CONNECTING;
	w->inflight++;
	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0) {
		lg_note_error(w, c->id, "socket: ", strerror(errno));
		lg_conn_end(w, c);
		return;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (o->source_addrs > 1) {
		struct sockaddr_in src = {.sin_family = AF_INET};

		src.sin_addr.s_addr = htonl(0x7f000001u + c->id % o->source_addrs);
		setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(c->fd, (struct sockaddr *)&src, sizeof(src)) != 0) {
			lg_note_error(w, c->id, "bind: ", strerror(errno));
			lg_conn_end(w, c);
			return;
		}
	}
	if (connect(c->fd, (const struct sockaddr *)&o->server, sizeof(o->server)) != 0 &&
	    errno != EINPROGRESS) {
		lg_note_error(w, c->id, "connect: ", strerror(errno));
		lg_conn_end(w, c);
		return;
	}
	c->want_out = 1;
	if (epoll_ctl(w->ep, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
		lg_note_error(w, c->id, "epoll_ctl: ", strerror(errno));
		lg_conn_end(w, c);
	}
}

static void
send_upgrade(struct lg_worker *w, struct lg_conn *c)
{
	const struct lg_run *run = w->run;
	const struct lg_opts *o = &run->o;
	char key[25], req[512];
	int n;

	ws_key_for(run, c->id, key);
	n = snprintf(req, sizeof(req),
	             "GET %s/%s%u/u%u HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
	             "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
	             "Sec-WebSocket-Version: 13\r\n\r\n",
	             o->base_path, o->room_prefix, c->id % o->rooms, c->id, o->host, key);
	c->state = LG_HANDSHAKE;
	conn_write(w, c, req, (size_t)n);
}

/* Parses the server's answer to the upgrade; returns bytes consumed, 0 for more, -1 on failure. */
long
lg_parse_upgrade(struct lg_worker *w, struct lg_conn *c, const uint8_t *p, size_t len)
{
	const uint8_t *end = memmem(p, len, "\r\n\r\n", 4);
	const char *line, *stop;
	char key[25], expect[29];
	int accept_ok = 0;

	if (end == NULL) {
		if (len > MAX_HTTP_RESP) {
			lg_note_error(w, c->id, "", "HTTP response too long");
			return -1;
		}
		return 0;
	}
	stop = (const char *)end + 2;
	if (len < 12 || memcmp(p, "HTTP/1.1 101", 12) != 0) {
		char what[48];
		const uint8_t *eol = memchr(p, '\r', (size_t)(end - p) + 1);

		snprintf(what, sizeof(what), "%.*s", (int)(eol - p > 40 ? 40 : eol - p), p);
		lg_note_error(w, c->id, "upgrade refused: ", what);
		return -1;
	}
	ws_key_for(w->run, c->id, key);
	lg_ws_accept_for(key, expect);
	for (line = (const char *)p; line < stop;) {
		const char *eol = memchr(line, '\n', (size_t)(stop - line));

		if (eol == NULL)
			break;
		if (strncasecmp(line, "sec-websocket-accept:", 21) == 0) {
			const char *v = line + 21;

			while (*v == ' ' || *v == '\t')
				v++;
			accept_ok = eol - v >= 28 && memcmp(v, expect, 28) == 0;
		}
		line = eol + 1;
	}
	if (!accept_ok) {
		lg_note_error(w, c->id, "", "missing or wrong Sec-WebSocket-Accept");
		return -1;
	}
	return (long)((const uint8_t *)end + 4 - p);
}

void
lg_conn_writable(struct lg_worker *w, struct lg_conn *c)
{
	if (c->state == LG_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);

		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err != 0) {
			lg_note_error(w, c->id, "connect: ", strerror(err));
			lg_conn_end(w, c);
			return;
		}
		set_events(w, c, 0);
		send_upgrade(w, c);
		return;
	}
	conn_flush(w, c);
}
