/* test_ws_core.c — madang-ws's pure core: frames, the per-room framed-event log with member
 * cursors, coalescing in sess_collect, the token bucket, room bookkeeping, address lists. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "../../ws-frontend/bucket.h"
#include "../../ws-frontend/frame.h"
#include "../../ws-frontend/netacl.h"
#include "../../ws-frontend/room.h"
#include "../../ws-frontend/roomlog.h"
#include "../../ws-frontend/session.h"
#include "slab.h"

#define NS_PER_S 1000000000ull

static void
test_frame_headers(void **state)
{
	char payload[70000];
	struct ws_frame *f;

	memset(payload, 'p', sizeof(payload));
	f = ws_frame_text("hi", 2);
	assert_int_equal(f->len, 4);
	assert_int_equal(f->data[0], 0x81);
	assert_int_equal(f->data[1], 2);
	assert_memory_equal(f->data + 2, "hi", 2);
	ws_frame_unref(f);

	f = ws_frame_text(payload, 126);
	assert_int_equal(f->len, 4 + 126);
	assert_int_equal(f->data[1], 126);
	assert_int_equal(f->data[2], 0);
	assert_int_equal(f->data[3], 126);
	ws_frame_unref(f);

	f = ws_frame_text(payload, 65535);
	assert_int_equal(f->data[1], 126);
	assert_int_equal(f->len, 4 + 65535);
	ws_frame_unref(f);

	/* The length is a uint32_t: a payload it cannot count is refused (never read). */
	assert_null(ws_frame_text(payload, (size_t)UINT32_MAX - 9));

	f = ws_frame_text(payload, 65536);
	assert_int_equal(f->len, 10 + 65536);
	assert_int_equal(f->data[1], 127);
	assert_int_equal(f->data[7], 1); /* 0x00010000 big-endian in bytes 2..9 */
	assert_int_equal(f->data[8], 0);
	assert_int_equal(f->data[9], 0);
	ws_frame_unref(f);
}

static void
test_frame_refcount(void **state)
{
	struct ws_frame *f = ws_frame_text("x", 1);

	assert_int_equal(f->refs, 1);
	ws_frame_ref(f);
	assert_int_equal(f->refs, 2);
	ws_frame_unref(f);
	assert_int_equal(f->refs, 1);
	ws_frame_unref(f); /* freed: ASan/valgrind would see a leak or a double free */
}

static struct ws_frame *
frame_of(const char *s)
{
	return ws_frame_text(s, strlen(s));
}

static void
test_roomlog_append_get_and_seq_order(void **state)
{
	struct roomlog l;
	struct ws_frame *f;

	roomlog_init(&l, 10);
	f = frame_of("e10");
	assert_int_equal(roomlog_append(&l, 11, f), -1); /* not the next seq */
	assert_int_equal(roomlog_append(&l, 10, f), 0);
	assert_ptr_equal(roomlog_get(&l, 10), f);
	assert_null(roomlog_get(&l, 9));
	assert_null(roomlog_get(&l, 11));
	assert_int_equal(l.top, 11);
	roomlog_fini(&l);
}

static void
test_roomlog_pending_is_bytes_from_cursor(void **state)
{
	struct roomlog l;

	roomlog_init(&l, 1);
	for (int i = 1; i <= 3; i++) {
		char s[8];
		snprintf(s, sizeof(s), "ev%d", i); /* 3 bytes + 2 header */
		assert_int_equal(roomlog_append(&l, (uint64_t)i, frame_of(s)), 0);
	}
	assert_int_equal(roomlog_pending(&l, 1), 15);
	assert_int_equal(roomlog_pending(&l, 2), 10);
	assert_int_equal(roomlog_pending(&l, 3), 5);
	assert_int_equal(roomlog_pending(&l, 4), 0);
	assert_int_equal(roomlog_pending(&l, 99), 0); /* a cursor beyond top: nothing yet */
	roomlog_trim(&l, 2);
	assert_int_equal(l.base, 2);
	assert_null(roomlog_get(&l, 1));
	assert_int_equal(roomlog_pending(&l, 1), 10); /* below base counts from base */
	roomlog_fini(&l);
}

static void
test_roomlog_grows_and_wraps(void **state)
{
	struct roomlog l;

	roomlog_init(&l, 0);
	/* Append and trim so that the ring wraps many times, then grow while wrapped. */
	for (uint64_t s = 0; s < 1000; s++) {
		char t[24];
		snprintf(t, sizeof(t), "%llu", (unsigned long long)s);
		assert_int_equal(roomlog_append(&l, s, frame_of(t)), 0);
		if (s % 3 == 0)
			roomlog_trim(&l, s > 40 ? s - 40 : 0);
	}
	for (uint64_t s = l.base; s < l.top; s++) {
		char t[24];
		snprintf(t, sizeof(t), "%llu", (unsigned long long)s);
		struct ws_frame *f = roomlog_get(&l, s);
		assert_non_null(f);
		assert_int_equal(f->len, 2 + strlen(t));
		assert_memory_equal(f->data + 2, t, strlen(t));
	}
	roomlog_reset(&l, 5);
	assert_int_equal(roomlog_count(&l), 0);
	assert_int_equal(l.base, 5);
	assert_int_equal(l.top, 5);
	roomlog_fini(&l);
}

static void
test_bucket_burst_then_rate(void **state)
{
	struct bucket b;
	struct bucket_rate r = bucket_rate(10, 20);
	uint64_t t = 5 * NS_PER_S;

	bucket_init(&b, &r, t);
	for (int i = 0; i < 20; i++)
		assert_true(bucket_take(&b, &r, t));
	assert_false(bucket_take(&b, &r, t));
	assert_int_equal(bucket_wait_ms(&b, &r), 100); /* retry_after_ms of rate_limited */
	t += NS_PER_S / 20;
	assert_false(bucket_take(&b, &r, t));
	assert_int_equal(bucket_wait_ms(&b, &r), 50);
	t += NS_PER_S / 20; /* one token back */
	assert_true(bucket_take(&b, &r, t));
	assert_false(bucket_take(&b, &r, t));
	t += 60 * NS_PER_S; /* refills to the burst, no more */
	for (int i = 0; i < 20; i++)
		assert_true(bucket_take(&b, &r, t));
	assert_false(bucket_take(&b, &r, t));
}

static void
test_bytebucket_debt_and_refund(void **state)
{
	struct bytebucket b;
	uint64_t t = 7 * NS_PER_S;

	bytebucket_init(&b, 1000, 2000, t); /* 1000 B/s, 2 s saved up */
	assert_true(bytebucket_admit(&b, t));
	bytebucket_charge(&b, 5000); /* a reservation larger than what is left: debt */
	assert_false(bytebucket_admit(&b, t));
	assert_int_equal(bytebucket_wait_ms(&b), 3001); /* -3000 → +1 byte */
	t += 3 * NS_PER_S;
	assert_false(bytebucket_admit(&b, t)); /* exactly 0: still nothing to spend */
	t += NS_PER_S / 1000;
	assert_true(bytebucket_admit(&b, t));
	bytebucket_charge(&b, -100000); /* a refund never goes above the burst */
	assert_int_equal(b.tokens, 2000);
	assert_true(bytebucket_full(&b, t));
	/* small steps add up (the remainder is kept) */
	bytebucket_charge(&b, 2000);
	for (int i = 0; i < 1000; i++) {
		t += NS_PER_S / 2000; /* half a byte each */
		bytebucket_admit(&b, t);
	}
	assert_int_equal(b.tokens, 500);
	assert_false(bytebucket_full(&b, t));
}

static void
test_addrbudget_per_address_and_sweep(void **state)
{
	static struct addrbudgets t;
	struct bytebucket *a, *b;
	uint64_t now = NS_PER_S;

	a = addrbudget_get(&t, "10.0.0.1", 100, 200, now);
	b = addrbudget_get(&t, "10.0.0.2", 100, 200, now);
	assert_non_null(a);
	assert_ptr_not_equal(a, b);
	assert_ptr_equal(addrbudget_get(&t, "10.0.0.1", 100, 200, now), a);
	assert_int_equal(t.n, 2);
	bytebucket_charge(a, 500);
	addrbudget_sweep(&t, now); /* b is full: freed; a owes: kept */
	assert_int_equal(t.n, 1);
	assert_ptr_equal(addrbudget_get(&t, "10.0.0.1", 100, 200, now), a);
	assert_false(bytebucket_admit(a, now));
	addrbudget_sweep(&t, now + 10 * NS_PER_S); /* paid up */
	assert_int_equal(t.n, 0);
	addrbudget_fini(&t);
}

static void
test_held_messages_bounded_in_order(void **state)
{
	struct ws_session *s = sess_new("h", 1);
	static char big[WS_HELD_BYTES_MAX];
	struct ws_held *h;
	char msg[16];

	assert_non_null(s);
	for (int i = 0; i < WS_HELD_MAX; i++) {
		int n = snprintf(msg, sizeof(msg), "m%d", i);
		assert_int_equal(sess_hold(s, "room1", msg, (size_t)n), 0);
	}
	assert_int_equal(sess_hold(s, "room1", "one more", 8), -1); /* WS_HELD_MAX */
	h = sess_unhold(s);
	assert_string_equal(h->room_id, "room1");
	assert_int_equal(h->len, 2);
	assert_memory_equal(h->buf, "m0", 2);
	free(h);
	/* bytes: what is held already counts */
	assert_int_equal(sess_hold(s, NULL, big, sizeof(big)), -1);
	while ((h = sess_unhold(s)) != NULL)
		free(h);
	assert_null(s->x); /* the extra part goes with the last held message */
	assert_int_equal(sess_hold(s, NULL, big, sizeof(big)), 0);
	assert_int_equal(s->x->held_bytes, sizeof(big));
	assert_int_equal(sess_hold(s, NULL, "x", 1), -1);
	/* the session frees what is still held */
	sess_unref(s);
}

static void
test_bucket_small_steps_accumulate(void **state)
{
	struct bucket b;
	struct bucket_rate r = bucket_rate(10, 1);
	uint64_t t = 0;
	int got = 0;

	bucket_init(&b, &r, t);
	assert_true(bucket_take(&b, &r, t));
	/* 1000 calls 1 ms apart = 1 s: exactly 10 tokens, none lost to rounding. */
	for (int i = 0; i < 1000; i++) {
		t += 1000000;
		if (bucket_take(&b, &r, t))
			got++;
	}
	assert_int_equal(got, 10);
}

/* A session in one room, cursor at 1, with frames 1..3 in the log. */
static void
test_collect_queue_first_then_room_frames(void **state)
{
	struct roomtab rt;
	struct ws_room *r;
	struct ws_session *s = sess_new("00112233445566778899aabbccddeeff", 4);
	struct ws_member *m;
	struct sbuf out;
	struct ws_frame *q = frame_of("joined");

	roomtab_init(&rt);
	r = roomtab_add(&rt, "room1");
	roomlog_reset(&r->log, 1);
	for (int i = 1; i <= 3; i++)
		assert_int_equal(roomlog_append(&r->log, (uint64_t)i, frame_of("abc")), 0);
	m = sess_member_add(s, r, "alice");
	assert_non_null(m);
	assert_int_equal(room_add_member(r, m, 1), 0);
	assert_null(s->oq); /* no queue until a frame is queued (finding 33) */
	assert_int_equal(sess_push(s, q), 0);
	ws_frame_unref(q);
	assert_non_null(s->oq);
	assert_int_equal(sess_pending(s), 8 + 3 * 5);

	sbuf_init(&out);
	/* A soft cap below one frame still moves one whole frame: the queue's first. */
	assert_int_equal(sess_collect(s, &out, 1), 1);
	assert_int_equal(out.len, 8);
	assert_memory_equal(out.data + 2, "joined", 6);
	assert_null(s->oq); /* its last frame out: the queue is gone */
	assert_int_equal(sess_pending(s), 15);
	sbuf_reset(&out);
	assert_int_equal(sess_collect(s, &out, 1 << 20), 3);
	assert_int_equal(out.len, 15);
	assert_int_equal(m->cursor, 4);
	assert_int_equal(sess_pending(s), 0);
	assert_int_equal(sess_collect(s, &out, 1 << 20), 0);

	room_trim(r); /* every member passed everything */
	assert_int_equal(roomlog_count(&r->log), 0);
	sbuf_fini(&out);
	room_del_member(r, m);
	sess_member_del(s, m);
	roomtab_del(&rt, r);
	sess_unref(s);
}

static void
test_collect_waits_for_queue_before_room_frames(void **state)
{
	struct roomtab rt;
	struct ws_room *r;
	struct ws_session *s = sess_new("a", 2);
	struct ws_member *m;
	struct sbuf out;
	struct ws_frame *q1 = frame_of("q1"), *q2 = frame_of("q2");

	roomtab_init(&rt);
	r = roomtab_add(&rt, "r");
	roomlog_reset(&r->log, 7);
	assert_int_equal(roomlog_append(&r->log, 7, frame_of("live")), 0);
	m = sess_member_add(s, r, "u");
	assert_int_equal(room_add_member(r, m, 7), 0);
	sess_push(s, q1);
	sess_push(s, q2);
	sbuf_init(&out);
	/* Cap after the first queued frame: the room frame must not overtake q2. */
	assert_int_equal(sess_collect(s, &out, 4), 1);
	assert_int_equal(m->cursor, 7);
	assert_non_null(s->oq); /* q2 is still in it */
	sbuf_reset(&out);
	assert_int_equal(sess_collect(s, &out, 1000), 2);
	assert_memory_equal(out.data + 2, "q2", 2);
	assert_memory_equal(out.data + 6, "live", 4);
	ws_frame_unref(q1);
	ws_frame_unref(q2);
	sbuf_fini(&out);
	room_del_member(r, m);
	sess_member_del(s, m);
	roomtab_del(&rt, r);
	sess_unref(s);
}

/* Takes two active members out of room r, frees the room and drops both sessions. */
static void
free_two_members(struct roomtab *rt, struct ws_room *r, struct ws_session *a, struct ws_member *ma,
                 struct ws_session *b, struct ws_member *mb)
{
	room_del_member(r, ma);
	room_del_member(r, mb);
	sess_member_del(a, ma);
	sess_member_del(b, mb);
	roomtab_del(rt, r);
	sess_unref(a);
	sess_unref(b);
}

static void
test_shared_frame_survives_until_last_reader(void **state)
{
	struct roomtab rt;
	struct ws_room *r;
	struct ws_session *a = sess_new("a", 1), *b = sess_new("b", 1);
	struct ws_member *ma, *mb;
	struct sbuf out;

	roomtab_init(&rt);
	r = roomtab_add(&rt, "r");
	roomlog_reset(&r->log, 1);
	ma = sess_member_add(a, r, "a");
	mb = sess_member_add(b, r, "b");
	room_add_member(r, ma, 1);
	room_add_member(r, mb, 1);
	roomlog_append(&r->log, 1, frame_of("one"));
	roomlog_append(&r->log, 2, frame_of("two"));
	sbuf_init(&out);
	assert_int_equal(sess_collect(a, &out, 1000), 2);
	room_trim(r);
	assert_int_equal(r->log.base, 1); /* b has read nothing: both frames stay */
	assert_int_equal(sess_pending(b), 10);
	sbuf_reset(&out);
	assert_int_equal(sess_collect(b, &out, 5), 1);
	room_trim(r);
	assert_int_equal(r->log.base, 2);
	sbuf_fini(&out);
	free_two_members(&rt, r, a, ma, b, mb);
}

/* keep: the newest frames stay for joiners after every member passed them, and a join round
 * pins the log where they start. */
static void
test_trim_keeps_newest_for_joiners(void **state)
{
	struct roomtab rt;
	struct ws_room *r;
	struct ws_session *a = sess_new("a", 1), *b = sess_new("b", 1);
	struct ws_member *ma, *mb, *out[2];
	struct sbuf out_buf;

	roomtab_init(&rt);
	r = roomtab_add(&rt, "r");
	r->keep = 3;
	roomlog_reset(&r->log, 10);
	assert_int_equal(room_history_floor(r), 10); /* an empty log */
	ma = sess_member_add(a, r, "a");
	assert_int_equal(room_add_member(r, ma, 10), 0);
	for (uint64_t q = 10; q < 15; q++)
		assert_int_equal(roomlog_append(&r->log, q, frame_of("e")), 0);
	assert_int_equal(room_history_floor(r), 12);
	sbuf_init(&out_buf);
	assert_int_equal(sess_collect(a, &out_buf, 1 << 20), 5);
	room_trim(r); /* a passed everything: the newest 3 stay */
	assert_int_equal(r->log.base, 12);
	assert_int_equal(roomlog_count(&r->log), 3);
	/* A round pins the floor: frames from 12 on stay while it is in flight. */
	mb = sess_member_add(b, r, "b");
	room_join_enqueue(r, mb);
	assert_int_equal(room_join_next(r, out, 2), 1);
	assert_int_equal(r->pin, 12);
	for (uint64_t q = 15; q < 20; q++)
		assert_int_equal(roomlog_append(&r->log, q, frame_of("f")), 0);
	sbuf_reset(&out_buf);
	assert_int_equal(sess_collect(a, &out_buf, 1 << 20), 5);
	room_trim(r);
	assert_int_equal(r->log.base, 12);
	/* The joiner starts inside the kept frames and gets them all, in order. */
	room_join_done(r, mb);
	assert_int_equal(room_add_member(r, mb, 13), 0);
	assert_int_equal(sess_pending(b), 7 * 3);
	room_trim(r);
	assert_int_equal(r->log.base, 13);
	sbuf_reset(&out_buf);
	assert_int_equal(sess_collect(b, &out_buf, 1 << 20), 7);
	room_trim(r);
	assert_int_equal(r->log.base, 17);
	sbuf_fini(&out_buf);
	free_two_members(&rt, r, a, ma, b, mb);
}

/* A room with no join for idle_ms lets the frames kept for joiners go, never one a member or
 * a join still needs, and frees its ring when nothing is left; the next join keeps them again. */
static void
test_quiet_room_lets_kept_frames_go(void **state)
{
	struct roomtab rt;
	struct ws_room *r;
	struct ws_session *a = sess_new("a", 1), *b = sess_new("b", 1);
	struct ws_member *ma, *mb, *out[2];
	struct sbuf buf;

	(void)state;
	roomtab_init(&rt);
	r = roomtab_add(&rt, "r");
	room_warm(r, 3, 1000);
	roomlog_reset(&r->log, 10);
	ma = sess_member_add(a, r, "a");
	assert_int_equal(room_add_member(r, ma, 10), 0);
	for (uint64_t q = 10; q < 15; q++)
		assert_int_equal(roomlog_append(&r->log, q, frame_of("e")), 0);
	sbuf_init(&buf);
	assert_int_equal(sess_collect(a, &buf, 1 << 20), 5);
	room_trim(r);
	assert_int_equal(roomlog_count(&r->log), 3); /* kept for joiners */
	/* Not yet quiet; idle_ms 0 never. */
	assert_false(room_cool(r, 500, 1499));
	assert_false(room_cool(r, 0, 1000000));
	assert_int_equal(roomlog_count(&r->log), 3);
	/* A join queued, or in flight, keeps the room warm however long it takes. */
	mb = sess_member_add(b, r, "b");
	room_join_enqueue(r, mb);
	assert_false(room_cool(r, 500, 9000));
	assert_int_equal(room_join_next(r, out, 2), 1);
	assert_false(room_cool(r, 500, 9000));
	room_join_done(r, mb);
	/* Quiet: the kept frames go and the ring with them; the cursors stay valid. */
	assert_true(room_cool(r, 500, 9000));
	assert_int_equal(r->keep, 0);
	assert_int_equal(roomlog_count(&r->log), 0);
	assert_int_equal(r->log.cap, 0);
	assert_null(r->log.v);
	assert_int_equal(r->log.base, 15);
	assert_int_equal(r->log.top, 15);
	assert_int_equal(room_history_floor(r), 15);
	assert_int_equal(roomlog_pending(&r->log, 12), 0);
	assert_false(room_cool(r, 500, 9000)); /* once */
	/* New events: the member's backlog is kept, nothing more. */
	for (uint64_t q = 15; q < 17; q++)
		assert_int_equal(roomlog_append(&r->log, q, frame_of("f")), 0);
	room_trim(r);
	assert_int_equal(roomlog_count(&r->log), 2); /* a has not read them */
	sbuf_reset(&buf);
	assert_int_equal(sess_collect(a, &buf, 1 << 20), 2);
	room_trim(r);
	assert_int_equal(roomlog_count(&r->log), 0);
	/* The next join keeps the newest frames again. */
	room_warm(r, 3, 9500);
	for (uint64_t q = 17; q < 19; q++)
		assert_int_equal(roomlog_append(&r->log, q, frame_of("g")), 0);
	sbuf_reset(&buf);
	assert_int_equal(sess_collect(a, &buf, 1 << 20), 2);
	room_trim(r);
	assert_int_equal(roomlog_count(&r->log), 2);
	assert_false(room_cool(r, 500, 9999));
	sbuf_fini(&buf);
	room_del_member(r, ma);
	sess_member_del(a, ma);
	sess_member_del(b, mb);
	roomtab_del(&rt, r);
	sess_unref(a);
	sess_unref(b);
}

/* Frames of up to 1 KiB, struct and header included, live in slabs (common/slab.c, its own
 * tests in test_slab.c); larger ones are malloc's. */
static void
test_frame_pool(void **state)
{
	struct slab_stats st0, st;

	(void)state;
	slab_stats(&st0);
	/* Frames on each side of 1 KiB (8 bytes of struct, 4 of header): the same bytes out. */
	for (size_t len = 1000; len <= 1030; len++) {
		char text[1100];
		size_t got;
		struct ws_frame *f;

		memset(text, 'a' + (int)(len % 26), len);
		assert_non_null(f = ws_frame_text(text, len));
		assert_int_equal(f->len, len + 4);
		assert_memory_equal(ws_frame_payload(f, &got), text, len);
		assert_int_equal(got, len);
		assert_true(slab_owns(f) == (8 + 4 + len <= SLAB_ITEM_MAX));
		ws_frame_unref(ws_frame_ref(f));
		ws_frame_unref(f);
	}
	slab_stats(&st);
	assert_int_equal(st.items, st0.items);
}

static void
test_join_rounds_and_pin(void **state)
{
	struct roomtab rt;
	struct ws_room *r;
	struct ws_session *a = sess_new("a", 1), *b = sess_new("b", 1), *c = sess_new("c", 1);
	struct ws_member *ma, *mb, *mc, *out[4];

	roomtab_init(&rt);
	r = roomtab_add(&rt, "r");
	roomlog_reset(&r->log, 1);
	roomlog_append(&r->log, 1, frame_of("x"));
	ma = sess_member_add(a, r, "a");
	mb = sess_member_add(b, r, "b");
	mc = sess_member_add(c, r, "c");
	room_join_enqueue(r, ma);
	room_join_enqueue(r, mb);
	/* One round: everything queued, in order, at most max. */
	assert_int_equal(room_join_next(r, out, 4), 2);
	assert_ptr_equal(out[0], ma);
	assert_ptr_equal(out[1], mb);
	assert_int_equal(r->pin, 2);
	room_join_enqueue(r, mc);
	assert_int_equal(room_join_next(r, out, 4), 0); /* a round is in flight */
	/* With no member, only the pin keeps frames: nothing below the log's top at send time. */
	roomlog_append(&r->log, 2, frame_of("y"));
	room_trim(r);
	assert_int_equal(r->log.base, 2);
	assert_non_null(roomlog_get(&r->log, 2));
	room_join_done(r, ma);
	assert_int_equal(room_join_next(r, out, 4), 0); /* b still in flight */
	/* The client of a join in flight went away: that ends the round too. */
	room_join_remove(r, mb);
	assert_int_equal(room_join_next(r, out, 4), 1);
	assert_ptr_equal(out[0], mc);
	room_join_done(r, mc);
	assert_int_equal(r->joins_in_flight, 0);
	assert_true(room_idle(r));
	sess_member_del(a, ma);
	sess_member_del(b, mb);
	sess_member_del(c, mc);
	roomtab_del(&rt, r);
	sess_unref(a);
	sess_unref(b);
	sess_unref(c);
}

static void
test_member_slots_and_sole_member(void **state)
{
	struct roomtab rt;
	struct ws_session *s = sess_new("s", 2);
	struct ws_member *m1, *m2;

	roomtab_init(&rt);
	struct ws_room *r1 = roomtab_add(&rt, "r1"), *r2 = roomtab_add(&rt, "r2"),
	               *r3 = roomtab_add(&rt, "r3");
	assert_null(sess_sole_member(s));
	m1 = sess_member_add(s, r1, "u");
	assert_ptr_equal(sess_sole_member(s), m1);
	m2 = sess_member_add(s, r2, "u");
	assert_null(sess_sole_member(s));
	assert_null(sess_member_add(s, r3, "u")); /* --max-rooms-per-conn */
	assert_ptr_equal(sess_member(s, "r2"), m2);
	assert_null(sess_member(s, "r3"));
	sess_member_del(s, m1);
	assert_int_equal(s->nrooms, 1);
	assert_ptr_equal(roomtab_get(&rt, "r3"), r3);
	/* The freed slot is reused; the slots never outgrow the session's maximum. */
	m1 = sess_member_add(s, r3, "v");
	assert_non_null(m1);
	assert_int_equal(s->rooms_cap, 2);
	assert_string_equal(m1->user, "v");
	assert_int_equal(sess_member_rename(m1, "a much longer nickname"), 0);
	assert_string_equal(sess_member(s, "r3")->user, "a much longer nickname");
	roomtab_del(&rt, r1);
	roomtab_del(&rt, r2);
	roomtab_del(&rt, r3);
	assert_int_equal(rt.n, 0);
	sess_unref(s); /* frees both members with it */
}

/* Slots start at one, inside the session (most connections are in one room), and double up
 * to the maximum; every member stays findable while they grow. */
static void
test_member_slots_grow_to_the_maximum(void **state)
{
	struct roomtab rt;
	struct ws_session *s = sess_new("s", 5);
	struct ws_room *r[6];
	struct ws_member *m[6];
	char id[8];
	static const size_t caps[] = {1, 2, 4, 4, 5};

	roomtab_init(&rt);
	assert_int_equal(s->rooms_cap, 0);
	for (int i = 0; i < 6; i++) {
		snprintf(id, sizeof(id), "r%d", i);
		r[i] = roomtab_add(&rt, id);
	}
	for (int i = 0; i < 5; i++) {
		m[i] = sess_member_add(s, r[i], "u");
		assert_non_null(m[i]);
		assert_int_equal(s->rooms_cap, caps[i]);
		/* the first slot is the session's own; from the second on, an array */
		if (i == 0)
			assert_ptr_equal(sess_slots(s), &s->slot.one);
		else
			assert_ptr_not_equal(sess_slots(s), &s->slot.one);
		for (int k = 0; k <= i; k++) {
			snprintf(id, sizeof(id), "r%d", k);
			assert_ptr_equal(sess_member(s, id), m[k]);
		}
	}
	assert_null(sess_member_add(s, r[5], "u"));
	assert_int_equal(s->nrooms, 5);
	sess_member_del(s, m[2]);
	assert_non_null(m[5] = sess_member_add(s, r[5], "u"));
	assert_int_equal(s->rooms_cap, 5);
	for (int i = 0; i < 6; i++)
		roomtab_del(&rt, r[i]);
	sess_unref(s);
}

static void
test_sesstab(void **state)
{
	struct sesstab t;
	struct ws_session *a = sess_new("aaaa", 1), *b = sess_new("bbbb", 1);

	sesstab_init(&t);
	sesstab_add(&t, a);
	sesstab_add(&t, b);
	assert_ptr_equal(sesstab_get(&t, "aaaa"), a);
	assert_ptr_equal(sesstab_get(&t, "bbbb"), b);
	assert_null(sesstab_get(&t, "cccc"));
	sesstab_del(&t, a);
	assert_null(sesstab_get(&t, "aaaa"));
	assert_int_equal(t.n, 1);
	sesstab_del(&t, b);
	sess_unref(a);
	sess_unref(b);
}

static void
test_netacl_parse_and_match(void **state)
{
	struct netacl a;
	const char *why;

	assert_int_equal(netacl_parse(&a, "10.0.0.0/8,192.168.1.5,::1,fd00::/8", &why), 0);
	assert_int_equal(a.n, 4);
	assert_true(netacl_contains(&a, "10.200.3.4"));
	assert_true(netacl_contains(&a, "::ffff:10.1.2.3")); /* v4-mapped */
	assert_true(netacl_contains(&a, "192.168.1.5"));
	assert_false(netacl_contains(&a, "192.168.1.6"));
	assert_true(netacl_contains(&a, "::1"));
	assert_true(netacl_contains(&a, "fd12::7"));
	assert_false(netacl_contains(&a, "fe80::1"));
	assert_false(netacl_contains(&a, "not an address"));
	assert_int_equal(netacl_parse(&a, "10.0.0.0/33", &why), -1);
	assert_int_equal(netacl_parse(&a, "10.0.0.1,,", &why), -1);
	assert_int_equal(netacl_parse(&a, "example.com", &why), -1);
	assert_int_equal(netacl_parse(&a, "10.0.0.0/", &why), -1);
}

static void
test_netacl_client_behind_proxies(void **state)
{
	struct netacl t;
	char out[NETACL_ADDR_MAX];
	const char *why;

	assert_int_equal(netacl_parse(&t, "127.0.0.1,10.0.0.0/8", &why), 0);
	netacl_client(&t, "127.0.0.1", "203.0.113.9", out);
	assert_string_equal(out, "203.0.113.9");
	/* rightmost untrusted entry: a client cannot forge what the trusted hops appended */
	netacl_client(&t, "127.0.0.1", "1.1.1.1, 203.0.113.9, 10.0.0.7", out);
	assert_string_equal(out, "203.0.113.9");
	/* an untrusted peer's header is ignored */
	netacl_client(&t, "198.51.100.4", "1.1.1.1", out);
	assert_string_equal(out, "198.51.100.4");
	/* garbage stops the walk at the last good address */
	netacl_client(&t, "127.0.0.1", "junk", out);
	assert_string_equal(out, "127.0.0.1");
	netacl_client(&t, "127.0.0.1", NULL, out);
	assert_string_equal(out, "127.0.0.1");
}

static void
test_ipcount_limits(void **state)
{
	struct ipcount t;

	const char *a1, *a2;
	char longest[NETACL_ADDR_MAX];

	ipcount_init(&t);
	/* Each connection keeps the entry's copy of its address: one per address. */
	assert_non_null(a1 = ipcount_take(&t, "10.0.0.1", 2));
	assert_string_equal(a1, "10.0.0.1");
	assert_ptr_equal(ipcount_take(&t, "10.0.0.1", 2), a1);
	assert_null(ipcount_take(&t, "10.0.0.1", 2));
	assert_non_null(a2 = ipcount_take(&t, "10.0.0.2", 2));
	assert_true(a2 != a1);
	assert_int_equal(ipcount_get(&t, "10.0.0.1"), 2);
	ipcount_drop(&t, "10.0.0.1");
	assert_true(ipcount_take(&t, "10.0.0.1", 2));
	ipcount_drop(&t, "10.0.0.2");
	assert_int_equal(ipcount_get(&t, "10.0.0.2"), 0);
	assert_int_equal(t.addrs, 1);
	ipcount_drop(&t, "never seen"); /* harmless */
	/* The longest address there is (INET6_ADDRSTRLEN - 1 characters) is kept whole. */
	memset(longest, 'f', sizeof(longest) - 1);
	longest[sizeof(longest) - 1] = '\0';
	assert_string_equal(ipcount_take(&t, longest, 1), longest);
	ipcount_fini(&t);
}

/* The tables on common/hmap: sessions by id (madang-ws's broker events name them). */
static void
del_odd_cb(struct ws_session *s, void *arg)
{
	struct sesstab *t = arg;

	if ((s->id[31] - '0') % 2 == 1)
		sesstab_del(t, s);
}

static void
test_sesstab_add_get_del_and_each(void **state)
{
	struct sesstab t;
	struct ws_session *s[10];
	char id[WS_SESSION_LEN + 1];

	(void)state;
	sesstab_init(&t);
	for (int i = 0; i < 10; i++) {
		snprintf(id, sizeof(id), "0000000000000000000000000000000%d", i);
		assert_non_null(s[i] = sess_new(id, 4));
		assert_int_equal(sesstab_add(&t, s[i]), 0);
	}
	assert_int_equal(t.n, 10);
	assert_ptr_equal(sesstab_get(&t, "00000000000000000000000000000003"), s[3]);
	assert_null(sesstab_get(&t, "0000000000000000000000000000000"));
	/* an id already in the table is refused, the first session kept */
	struct ws_session *dup = sess_new("00000000000000000000000000000003", 4);
	assert_int_equal(sesstab_add(&t, dup), -1);
	assert_ptr_equal(sesstab_get(&t, "00000000000000000000000000000003"), s[3]);
	sess_unref(dup);
	sesstab_each(&t, del_odd_cb, &t); /* deleting during the walk */
	assert_int_equal(t.n, 5);
	assert_null(sesstab_get(&t, "00000000000000000000000000000003"));
	assert_ptr_equal(sesstab_get(&t, "00000000000000000000000000000004"), s[4]);
	sesstab_del(&t, s[3]); /* not in the table: harmless */
	assert_int_equal(t.n, 5);
	for (int i = 0; i < 10; i += 2)
		sesstab_del(&t, s[i]);
	assert_int_equal(t.n, 0);
	assert_null(t.set.slots); /* an empty table holds no memory */
	for (int i = 0; i < 10; i++)
		sess_unref(s[i]);
}

/* A room is sized to its id (1 to 64 bytes), and each is found by its whole id. */
static void
test_room_is_sized_to_its_id(void **state)
{
	struct roomtab rt;
	struct ws_room *small, *big;
	char id[MADANG_ROOM_ID_MAX + 1];

	(void)state;
	memset(id, 'a', MADANG_ROOM_ID_MAX);
	id[MADANG_ROOM_ID_MAX] = '\0';
	roomtab_init(&rt);
	assert_non_null(small = roomtab_add(&rt, "r"));
	assert_non_null(big = roomtab_add(&rt, id));
	assert_string_equal(small->id, "r");
	assert_string_equal(big->id, id);
	assert_ptr_equal(roomtab_get(&rt, id), big);
	assert_ptr_equal(roomtab_get(&rt, "r"), small);
	id[MADANG_ROOM_ID_MAX - 1] = '\0';
	assert_null(roomtab_get(&rt, id)); /* one byte short: another id */
	assert_true(slab_item_size(small) + 56 <= slab_item_size(big));
	roomtab_del(&rt, small);
	roomtab_del(&rt, big);
	assert_int_equal(rt.n, 0);
}

/* Rooms by id; delivery_tick frees idle rooms from inside roomtab_each. */
static void
gc_all_but_keep_cb(struct ws_room *r, void *arg)
{
	if (strcmp(r->id, "keep") != 0)
		roomtab_del(arg, r);
}

static void
test_roomtab_add_get_and_delete_while_walking(void **state)
{
	struct roomtab rt;
	char id[16];

	(void)state;
	roomtab_init(&rt);
	for (int i = 0; i < 2000; i++) {
		snprintf(id, sizeof(id), "room%d", i);
		assert_non_null(roomtab_add(&rt, id));
	}
	assert_non_null(roomtab_add(&rt, "keep"));
	assert_int_equal(rt.n, 2001);
	assert_string_equal(roomtab_get(&rt, "room1999")->id, "room1999");
	assert_null(roomtab_get(&rt, "room2000"));
	roomtab_each(&rt, gc_all_but_keep_cb, &rt);
	assert_int_equal(rt.n, 1);
	assert_null(roomtab_get(&rt, "room7"));
	struct ws_room *k = roomtab_get(&rt, "keep");
	assert_non_null(k);
	roomtab_del(&rt, k);
	assert_int_equal(rt.n, 0);
	assert_null(rt.map.slots);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_sesstab_add_get_del_and_each),
	    cmocka_unit_test(test_roomtab_add_get_and_delete_while_walking),
	    cmocka_unit_test(test_frame_headers),
	    cmocka_unit_test(test_frame_refcount),
	    cmocka_unit_test(test_roomlog_append_get_and_seq_order),
	    cmocka_unit_test(test_roomlog_pending_is_bytes_from_cursor),
	    cmocka_unit_test(test_roomlog_grows_and_wraps),
	    cmocka_unit_test(test_bucket_burst_then_rate),
	    cmocka_unit_test(test_bucket_small_steps_accumulate),
	    cmocka_unit_test(test_bytebucket_debt_and_refund),
	    cmocka_unit_test(test_held_messages_bounded_in_order),
	    cmocka_unit_test(test_addrbudget_per_address_and_sweep),
	    cmocka_unit_test(test_collect_queue_first_then_room_frames),
	    cmocka_unit_test(test_collect_waits_for_queue_before_room_frames),
	    cmocka_unit_test(test_shared_frame_survives_until_last_reader),
	    cmocka_unit_test(test_trim_keeps_newest_for_joiners),
	    cmocka_unit_test(test_quiet_room_lets_kept_frames_go),
	    cmocka_unit_test(test_frame_pool),
	    cmocka_unit_test(test_join_rounds_and_pin),
	    cmocka_unit_test(test_member_slots_and_sole_member),
	    cmocka_unit_test(test_member_slots_grow_to_the_maximum),
	    cmocka_unit_test(test_room_is_sized_to_its_id),
	    cmocka_unit_test(test_sesstab),
	    cmocka_unit_test(test_netacl_parse_and_match),
	    cmocka_unit_test(test_netacl_client_behind_proxies),
	    cmocka_unit_test(test_ipcount_limits),
	};
	unsetenv("MADANG_SLAB"); /* these tests check slab items: on, even in the sanitizer suite */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
