/* lg_worker.c — one load-generator thread: an epoll loop over its share of the connections that
 * connects them (paced; the connection I/O itself is in lg_conn.c), reads their frames, sends its
 * senders' messages on the open-loop schedule and accounts for every delivery it receives. It
 * touches only its own lg_worker and connections; the coordinator reads the atomics and, after the
 * thread has ended, everything. */
#include "loadgen.h"
#include "lg_ws.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_EVENTS  512
#define SCRATCH_MIN (256 * 1024)
#define MAX_FRAME   (64u * 1024 * 1024)
#define SEND_BUDGET 4096 /* messages sent per loop turn at most, so reading keeps up */

static const char msg_magic[] = "LG1 ";

static void
become_ready(struct lg_worker *w, struct lg_conn *c, uint64_t now)
{
	if (c->ready)
		return;
	c->ready = 1;
	lg_hist_add(&w->ready, now - c->t_start);
	if (now > w->t_last_ready)
		w->t_last_ready = now;
	atomic_fetch_add(&w->done_connecting, 1);
}

/* A chat message came back: account for it. Returns 0 when p holds no load-generator message. */
static int
on_chat(struct lg_worker *w, struct lg_conn *c, const uint8_t *p, size_t len, uint64_t now)
{
	const struct lg_run *run = w->run;
	const struct lg_opts *o = &run->o;
	const uint8_t *m = lg_find(p, len, msg_magic, sizeof(msg_magic) - 1);
	const uint8_t *end = p + len;
	uint64_t v[3] = {0, 0, 0};
	uint32_t sender, seq, d;
	struct lg_track *t;

	if (m == NULL)
		return 0;
	m += sizeof(msg_magic) - 1;
	if ((size_t)(end - m) < 17 || memcmp(m, run->run_tag, 16) != 0 || m[16] != ' ') {
		w->c.foreign++;
		return 1;
	}
	m += 17;
	for (int i = 0; i < 3; i++) {
		if (m >= end || *m < '0' || *m > '9') {
			w->c.foreign++;
			return 1;
		}
		while (m < end && *m >= '0' && *m <= '9')
			v[i] = v[i] * 10 + (uint64_t)(*m++ - '0');
		if (m < end && *m == ' ')
			m++;
	}
	sender = (uint32_t)v[0];
	seq = (uint32_t)v[1];
	if (!c->measured || sender >= o->senders || sender % o->rooms != c->id % o->rooms ||
	    seq == 0) {
		w->c.foreign++;
		return 1;
	}
	t = &c->track[sender / o->rooms];
	if (seq > t->max_seen) {
		d = seq - t->max_seen;
		t->window = d >= 64 ? 1 : (t->window << d) | 1;
		t->max_seen = seq;
	} else if ((d = t->max_seen - seq) >= 64) {
		w->c.stale++; /* too old to tell a duplicate from a late one: counted as late */
		w->c.out_of_order++;
	} else if (t->window & ((uint64_t)1 << d)) {
		w->c.duplicated++;
		return 1;
	} else {
		t->window |= (uint64_t)1 << d;
		w->c.out_of_order++;
	}
	t->unique++;
	w->c.unique++;
	atomic_store_explicit(&w->unique_live, w->c.unique, memory_order_relaxed);
	if (v[2] >= run->t_measure && v[2] < run->t_end) {
		w->c.in_window++;
		lg_hist_add(&w->latency, now > v[2] ? now - v[2] : 0);
	}
	return 1;
}

static void
on_text(struct lg_worker *w, struct lg_conn *c, const uint8_t *p, size_t len, uint64_t now)
{
	w->c.frames_in++;
	if (!c->ready && memmem(p, len, "\"joined\"", 8) != NULL) {
		become_ready(w, c, now);
		return;
	}
	if (w->run->o.dump > 0 && atomic_fetch_sub(&w->run->dump_left, 1) > 0)
		fprintf(stderr, "conn %u: %.*s\n", c->id, len > 300 ? 300 : (int)len,
		        (const char *)p);
	if (on_chat(w, c, p, len, now) == 0 && memmem(p, len, "\"type\":\"error\"", 14) != NULL) {
		char what[120];

		w->c.errors++;
		snprintf(what, sizeof(what), "%.*s", len > 100 ? 100 : (int)len, (const char *)p);
		lg_note_error(w, c->id, "error event: ", what);
	}
}

/* Handles one complete frame; returns -1 when the connection has ended. */
static int
on_frame(struct lg_worker *w, struct lg_conn *c, const struct lg_ws_hdr *h, uint8_t *p,
         uint64_t now)
{
	size_t len = (size_t)h->len;

	if (h->masked)
		lg_ws_unmask(p, h->len, h->mask);
	switch (h->opcode) {
	case LG_WS_PING:
		w->c.pings++;
		return lg_conn_send_frame(w, c, LG_WS_PONG, p, len);
	case LG_WS_PONG:
		return 0;
	case LG_WS_CLOSE: {
		char what[64];
		unsigned code = len >= 2 ? (unsigned)p[0] << 8 | p[1] : 1005;

		snprintf(what, sizeof(what), "%u %.*s", code,
		         len > 2 ? (int)(len - 2 > 40 ? 40 : len - 2) : 0, (const char *)p + 2);
		lg_note_error(w, c->id, "server closed: ", what);
		if (!c->close_sent)
			lg_conn_send_frame(w, c, LG_WS_CLOSE, p, len >= 2 ? 2 : 0);
		w->c.closed_by_server++;
		lg_conn_end(w, c);
		return -1;
	}
	case LG_WS_TEXT:
	case LG_WS_BINARY:
		if (c->frag_op != 0) {
			w->c.protocol_errors++;
			lg_note_error(w, c->id, "", "new message inside a fragmented one");
			lg_conn_end(w, c);
			return -1;
		}
		if (h->fin) {
			on_text(w, c, p, len, now);
			return 0;
		}
		c->frag_op = (uint8_t)h->opcode;
		c->fraglen = 0;
		/* fall through */
	case LG_WS_CONT:
		if (c->frag_op == 0 || (size_t)c->fraglen + len > MAX_FRAME ||
		    lg_grow(&c->frag, &c->fragcap, (size_t)c->fraglen + len) != 0) {
			w->c.protocol_errors++;
			lg_note_error(w, c->id, "", "bad or oversized continuation");
			lg_conn_end(w, c);
			return -1;
		}
		memcpy(c->frag + c->fraglen, p, len);
		c->fraglen += (uint32_t)len;
		if (h->fin) {
			on_text(w, c, c->frag, c->fraglen, now);
			c->frag_op = 0;
			free(c->frag);
			c->frag = NULL;
			c->fraglen = c->fragcap = 0;
		}
		return 0;
	default:
		w->c.protocol_errors++;
		lg_note_error(w, c->id, "", "unknown opcode");
		lg_conn_end(w, c);
		return -1;
	}
}

static void
on_readable(struct lg_worker *w, struct lg_conn *c, uint64_t now)
{
	size_t have = c->rlen, off = 0;
	ssize_t n;

	if (w->scratch_cap < have + SCRATCH_MIN) {
		uint8_t *nb = realloc(w->scratch, have + SCRATCH_MIN);

		if (nb == NULL) {
			lg_conn_end(w, c);
			return;
		}
		w->scratch = nb;
		w->scratch_cap = have + SCRATCH_MIN;
	}
	if (have)
		memcpy(w->scratch, c->rbuf, have);
	n = recv(c->fd, w->scratch + have, w->scratch_cap - have, 0);
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return;
		if (!c->close_sent)
			lg_note_error(w, c->id, "",
			              n == 0 ? "server closed the TCP connection"
			                     : strerror(errno));
		if (c->state == LG_OPEN && !c->close_sent)
			w->c.closed_by_server++;
		lg_conn_end(w, c);
		return;
	}
	now = lg_now();
	w->c.bytes_in += (uint64_t)n;
	have += (size_t)n;
	if (c->state == LG_HANDSHAKE) {
		long used = lg_parse_upgrade(w, c, w->scratch, have);

		if (used < 0) {
			lg_conn_end(w, c);
			return;
		}
		if (used == 0)
			goto keep;
		off = (size_t)used;
		c->state = LG_OPEN;
		w->inflight--;
		w->c.made++;
		w->t_last_open = now;
		lg_hist_add(&w->connect, now - c->t_start);
		if (w->run->o.ready_on_open)
			become_ready(w, c, now);
	}
	while (off < have) {
		struct lg_ws_hdr h;
		int rv = lg_ws_parse_header(w->scratch + off, have - off, &h);

		if (rv < 0 || (rv > 0 && h.len > MAX_FRAME)) {
			w->c.protocol_errors++;
			lg_note_error(w, c->id, "", "invalid frame header");
			lg_conn_end(w, c);
			return;
		}
		if (rv == 0 || have - off - h.hdr_len < h.len)
			break;
		if (on_frame(w, c, &h, w->scratch + off + h.hdr_len, now) != 0)
			return;
		off += h.hdr_len + (size_t)h.len;
	}
keep:
	c->rlen = 0;
	if (off < have) {
		if (lg_grow(&c->rbuf, &c->rcap, have - off) != 0) {
			lg_conn_end(w, c);
			return;
		}
		memmove(c->rbuf, w->scratch + off, have - off);
		c->rlen = (uint32_t)(have - off);
	} else if (c->rcap > 4096) {
		free(c->rbuf);
		c->rbuf = NULL;
		c->rcap = 0;
	}
}

/* Sends every message whose scheduled time has come (open loop: a late loop catches up, and the
 * latency still counts from the scheduled time). Returns the next scheduled time, 0 when done. */
static uint64_t
send_due(struct lg_worker *w, uint64_t now, uint64_t *k, uint32_t *j, uint32_t *seqs)
{
	struct lg_run *run = w->run;
	const struct lg_opts *o = &run->o;
	char text[4096];
	unsigned budget = SEND_BUDGET;

	for (;;) {
		uint64_t at = run->t0 + *k * run->period_ns + w->send_offset[*j];
		struct lg_conn *c = &w->conns[w->senders[*j]];
		uint32_t id = c->id;
		int n;

		if (at >= run->t_end)
			return 0;
		if (at > now || budget-- == 0)
			return at;
		if (c->state == LG_OPEN && c->measured) {
			uint32_t seq = seqs[*j] + 1;

			if (o->json_messages > 0)
				n = snprintf(text, sizeof(text),
				             "{\"type\":\"message\",\"text\":\"%s%s %u %u %llu ",
				             msg_magic, run->run_tag, id, seq,
				             (unsigned long long)at);
			else
				n = snprintf(text, sizeof(text), "%s%s %u %u %llu ", msg_magic,
				             run->run_tag, id, seq, (unsigned long long)at);
			while ((size_t)n < o->size && (size_t)n < sizeof(text) - 64)
				text[n++] = 'x';
			if (o->json_messages > 0)
				n += snprintf(text + n, sizeof(text) - (size_t)n,
				              "\",\"client_id\":\"%u-%u\"}", id, seq);
			lg_hist_add(&w->send_lag, now - at);
			if (lg_conn_send_frame(w, c, LG_WS_TEXT, text, (size_t)n) == 0) {
				seqs[*j] = seq;
				atomic_store_explicit(&run->sent[id], seq, memory_order_relaxed);
				w->c.sent++;
			} else {
				w->c.send_skipped++;
			}
		} else {
			w->c.send_skipped++;
		}
		if (++*j == w->nsenders) {
			*j = 0;
			++*k;
		}
	}
}

static void
check_timeouts(struct lg_worker *w, uint64_t now)
{
	uint64_t limit = (uint64_t)(w->run->o.handshake_timeout * 1e9);

	for (uint32_t i = 0; i < w->nconns; i++) {
		struct lg_conn *c = &w->conns[i];

		if (c->fd >= 0 && !c->ready && now - c->t_start > limit) {
			lg_note_error(w, c->id, "",
			              c->state == LG_OPEN ? "no \"joined\" event in time"
			                                  : "connect/upgrade timed out");
			lg_conn_end(w, c);
		}
	}
}

static void
close_all(struct lg_worker *w)
{
	static const uint8_t bye[2] = {0x03, 0xe8}; /* 1000 */

	for (uint32_t i = 0; i < w->nconns; i++) {
		struct lg_conn *c = &w->conns[i];

		if (c->fd < 0)
			continue;
		if (c->state == LG_OPEN && c->wlen == 0) {
			c->close_sent = 1;
			lg_conn_send_frame(w, c, LG_WS_CLOSE, bye, sizeof(bye));
		}
		if (c->fd >= 0) {
			epoll_ctl(w->ep, EPOLL_CTL_DEL, c->fd, NULL);
			close(c->fd);
			c->fd = -1;
		}
		lg_conn_release(c);
	}
}

void *
lg_worker_main(void *arg)
{
	struct lg_worker *w = arg;
	struct lg_run *run = w->run;
	const struct lg_opts *o = &run->o;
	struct epoll_event evs[MAX_EVENTS];
	uint64_t t_connect0 = lg_now(), next_check = 0, k = 0, next_send = 0;
	uint32_t j = 0, *seqs = calloc(w->nsenders ? w->nsenders : 1, sizeof(*seqs));
	uint32_t inflight_cap = o->inflight / o->threads ? o->inflight / o->threads : 1;
	double crate = o->connect_rate > 0 ? o->connect_rate / o->threads : 0;
	int snapshot = 0, sending = 0;

	prctl(PR_SET_TIMERSLACK, 1000UL, 0, 0, 0);
	for (;;) {
		int phase = atomic_load(&run->phase);
		uint64_t now = lg_now(), wake = now + 20000000; /* at least every 20 ms */
		struct timespec ts;
		int n;

		if (phase == LG_PH_STOP)
			break;
		/* Connect phase: start connections, paced and bounded in flight. */
		while (phase == LG_PH_CONNECT && w->next_connect < w->nconns &&
		       w->inflight < inflight_cap) {
			uint64_t at = crate > 0
			                  ? t_connect0 + (uint64_t)(w->next_connect * 1e9 / crate)
			                  : now;
			if (at > now) {
				if (at < wake)
					wake = at;
				break;
			}
			lg_conn_start(w, &w->conns[w->next_connect++], now);
		}
		if (now >= next_check) {
			check_timeouts(w, now);
			next_check = now + 100000000;
		}
		if (phase >= LG_PH_RUN && !snapshot) {
			/* Receivers are the connections ready when sending begins. */
			for (uint32_t i = 0; i < w->nconns; i++) {
				struct lg_conn *c = &w->conns[i];

				if (c->state == LG_OPEN && c->ready) {
					c->measured = 1;
					atomic_fetch_add(&run->room_measured[c->id % o->rooms], 1);
				}
			}
			snapshot = 1;
			atomic_store(&w->snapshot_done, 1);
		}
		if (snapshot == 1 && atomic_load(&run->go)) {
			snapshot = 2;
			sending = 1;
		}
		if (sending) {
			if (w->nsenders == 0 || (next_send = send_due(w, now, &k, &j, seqs)) == 0) {
				sending = 0;
				atomic_store(&w->sending_done, 1);
			} else if (next_send < wake) {
				wake = next_send;
			}
		}
		now = lg_now();
		wake = wake > now ? wake - now : 0;
		ts.tv_sec = (time_t)(wake / 1000000000u);
		ts.tv_nsec = (long)(wake % 1000000000u);
		n = epoll_pwait2(w->ep, evs, MAX_EVENTS, &ts, NULL);
		if (n < 0)
			continue;
		now = lg_now();
		for (int i = 0; i < n; i++) {
			struct lg_conn *c = &w->conns[evs[i].data.u64];

			if (c->fd < 0)
				continue;
			if (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
				lg_conn_writable(w, c);
				if (c->fd < 0)
					continue;
			}
			if (evs[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP))
				on_readable(w, c, now);
		}
	}
	close_all(w);
	free(seqs);
	return NULL;
}
