/* ops_history.c — the history window of a room (joins and history requests), paged by count and
 * bytes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "ops.h"
#include "validate.h"
#include "wire.h"

/* Writes (as member key, or as an element when key is NULL) the array of the ring's events
 * (their head written with epoch, the broker's: hist.h) whose seq is in (lo, hi), at most limit of
 * the newest of them (the oldest when !newest), oldest first, leaving out those with seq >= below
 * (the front-end already holds them), and fewer when the events' JSON (with the commas between)
 * would pass max_bytes: then the oldest (the newest when !newest) are left out and *truncated
 * is set. Returns the seq of the window's first event, or hi when the window is empty. */
uint64_t
ops_add_history(struct jsonw *w, const char *key, const char *epoch, struct room *r, uint64_t lo,
                uint64_t hi, size_t limit, bool newest, uint64_t below, size_t max_bytes,
                bool *truncated)
{
	struct sbuf one;
	size_t first = r->ring_len, last = 0, n = 0;
	uint64_t first_seq = hi;

	*truncated = false;
	for (size_t i = 0; i < r->ring_len; i++) {
		uint64_t seq = room_hist_at(r, i)->seq;
		if (seq > lo && seq < hi) {
			if (first == r->ring_len)
				first = i;
			last = i + 1;
		}
	}
	if (first < last) {
		n = last - first;
		if (n > limit) {
			if (newest)
				first = last - limit;
			else
				last = first + limit;
		}
		size_t wend = last; /* the window, before what the front-end holds is left out */
		while (last > first && room_hist_at(r, last - 1)->seq >= below)
			last--;
		size_t bytes = 0;
		for (size_t i = first; i < last; i++)
			bytes += hist_len(room_hist_at(r, i)) + (i > first);
		while (bytes > max_bytes && first < last) {
			size_t drop = newest ? first++ : --last;
			bytes -= hist_len(room_hist_at(r, drop)) + (first < last);
			*truncated = true;
		}
		if (first < wend)
			first_seq = room_hist_at(r, first)->seq;
	}
	sbuf_init(&one);
	jw_arr(w, key);
	for (size_t i = first; i < last; i++) {
		sbuf_reset(&one);
		hist_render(room_hist_at(r, i), r->id, epoch, &one);
		if (one.oom)
			w->b->oom = true;
		jw_raw(w, NULL, one.data, one.len);
	}
	jw_end(w);
	sbuf_fini(&one);
	return first_seq;
}

/* The whole history reply: ok, room_id, epoch, first_seq (the oldest event kept), last_seq (the
 * room's current seq), complete, truncated, and the events (a JSON array built aside). */
static void
history_reply(struct req *q, const struct room *r, uint64_t first, bool complete, bool truncated,
              const struct sbuf *events)
{
	struct jsonw w;

	sbuf_reset(q->out);
	ops_reply_begin(q, &w);
	jw_str(&w, "room_id", r->id);
	jw_str(&w, "epoch", q->b->epoch);
	jw_int(&w, "first_seq", (int64_t)first);
	jw_int(&w, "last_seq", (int64_t)r->seq);
	jw_bool(&w, "complete", complete);
	jw_bool(&w, "truncated", truncated);
	jw_raw(&w, "events", events->data, events->len);
	jw_end(&w);
	if (events->oom)
		q->out->oom = true;
}

/* history {room_id, [after_seq | before_seq], [limit], [max_bytes]} */
void
op_history(struct req *q)
{
	struct room *r = ops_arg_room(q);
	int64_t after = 0, before = 0, limit = 50, max_bytes = (int64_t)q->b->cfg.history_bytes;
	bool has_after, has_before, has_limit, has_max, complete, truncated = false;
	uint64_t lo, hi, first;

	if (r == NULL ||
	    !ops_arg_int_opt(q, "after_seq", 0, INT64_C(1) << 53, &after, &has_after) ||
	    !ops_arg_int_opt(q, "before_seq", 0, INT64_C(1) << 53, &before, &has_before) ||
	    !ops_arg_int_opt(q, "limit", 1, MADANG_HISTORY_PAGE_MAX, &limit, &has_limit) ||
	    !ops_arg_int_opt(q, "max_bytes", BROKER_HISTORY_BYTES_MIN, BROKER_HISTORY_BYTES_MAX,
	                     &max_bytes, &has_max))
		return;
	if (has_after && has_before) {
		ops_reply_error(q, ERR_INVALID_ARGUMENT, "give after_seq or before_seq, not both");
		return;
	}
	first = room_first_seq(r);
	/* Nothing is missing below an ephemeral room's base_seq: it never had those events. */
	if (has_after) {
		lo = (uint64_t)after;
		hi = UINT64_MAX;
		complete = (lo > r->base_seq ? lo : r->base_seq) + 1 >= first || lo >= r->seq;
	} else {
		hi = has_before ? (uint64_t)before : r->seq + 1;
		lo = 0;
		uint64_t want = hi > (uint64_t)limit + 1 ? hi - (uint64_t)limit : 1;
		complete = first <= want || first <= r->base_seq + 1;
	}
	struct sbuf ev;
	sbuf_init(&ev);
	if (q->b->store.history != NULL && !r->ephemeral) {
		/* Durable history: the database holds every event the ring does, and older ones. */
		size_t n = 0;
		uint64_t oldest = 0;
		if (q->b->store.history(q->b->store.arg, r->id, lo, hi, (size_t)limit, !has_after,
		                        (size_t)max_bytes, &ev, &n, &oldest, &truncated) != 0) {
			sbuf_fini(&ev);
			ops_reply_error(q, ERR_INTERNAL, "history storage failed");
			return;
		}
		first = oldest ? oldest : r->seq + 1;
		if (has_after) {
			complete = lo + 1 >= first || lo >= r->seq;
		} else {
			uint64_t want = hi > (uint64_t)limit + 1 ? hi - (uint64_t)limit : 1;
			complete = first <= want;
		}
	} else {
		/* complete and truncated are known once the events are chosen: build them aside. */
		struct jsonw ew;
		jw_begin(&ew, &ev);
		ops_add_history(&ew, NULL, q->b->epoch, r, lo, hi, (size_t)limit, !has_after,
		                UINT64_MAX, (size_t)max_bytes, &truncated);
	}
	history_reply(q, r, first, complete && !truncated, truncated, &ev);
	sbuf_fini(&ev);
}
