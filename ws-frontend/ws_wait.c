/* ws_wait.c — clients waiting for the broker (ws_wait.h). */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "cmd.h"
#include "log.h"
#include "ws_link.h"
#include "ws_out.h"
#include "ws_state.h"
#include "ws_wait.h"

struct waiter {
	struct waiter *next;
	struct ws_session *s; /* a reference */
	uint64_t deadline_ms; /* monotonic */
	struct route *rt;     /* the opening that waits, or NULL */
};

static struct {
	struct wait_hooks hk;
	struct waiter *head, *tail;
	size_t n;
} wt;

void
wait_init(const struct wait_hooks *hooks)
{
	wt.hk = *hooks;
}

size_t
wait_count(void)
{
	return wt.n;
}

/* Appends a waiter for s (rt: its opening, or NULL). Returns 0 or -1 (no memory). */
static int
wait_push(struct ws_session *s, const struct route *rt)
{
	struct waiter *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return -1;
	if (rt != NULL && (w->rt = malloc(sizeof(*rt))) == NULL) {
		free(w);
		return -1;
	}
	if (rt != NULL)
		memcpy(w->rt, rt, sizeof(*rt));
	w->s = sess_ref(s);
	w->deadline_ms = clock_mono_ns() / 1000000u + ws->o.broker_wait_ms;
	if (wt.tail != NULL)
		wt.tail->next = w;
	else
		wt.head = w;
	wt.tail = w;
	wt.n++;
	return 0;
}

int
wait_open(struct ws_session *s, const struct route *rt)
{
	return wait_push(s, rt);
}

int
wait_add(struct ws_session *s)
{
	return wait_push(s, NULL);
}

/* Takes the head off the list. */
static struct waiter *
wait_pop(void)
{
	struct waiter *w = wt.head;

	if (w != NULL) {
		wt.head = w->next;
		if (wt.head == NULL)
			wt.tail = NULL;
		wt.n--;
	}
	return w;
}

static void
waiter_free(struct waiter *w)
{
	sess_unref(w->s);
	free(w->rt);
	free(w);
}

void
wait_link_up(void)
{
	/* The hooks may list sessions again (the link may go at once): only those listed now. */
	size_t n = wt.n;

	for (size_t i = 0; i < n; i++) {
		struct waiter *w = wait_pop();
		struct ws_session *s = w->s;
		if (s->wsi != NULL && s->close_code == 0) {
			if (w->rt != NULL)
				wt.hk.open(s, w->rt);
			if (s->wsi != NULL && s->close_code == 0)
				wt.hk.release(s);
		}
		waiter_free(w);
	}
}

void
wait_tick(void)
{
	uint64_t now = clock_mono_ns() / 1000000u;

	if (link_up()) { /* listed while up: go on now */
		wait_link_up();
		return;
	}
	while (wt.head != NULL && wt.head->deadline_ms <= now) {
		struct waiter *w = wait_pop();
		struct ws_session *s = w->s;
		if (s->wsi != NULL && s->close_code == 0) {
			if (w->rt != NULL)
				ws->c.refused++;
			log_info("ws: session %llu waited %u ms for the broker: closed 1013",
			         (unsigned long long)s->serial, ws->o.broker_wait_ms);
			wt.hk.expire(s);
			out_send_error(s, WS_ERR_BROKER_UNAVAILABLE,
			               "the chat service is unavailable; try again later", NULL,
			               NULL, NULL);
			out_close(s, WS_CLOSE_TRY_LATER,
			          "chat service unavailable, try again later", true);
		}
		waiter_free(w);
	}
}

void
wait_fini(void)
{
	struct waiter *w;

	while ((w = wait_pop()) != NULL)
		waiter_free(w);
}
