/* ws_slot.c — kept nng contexts and aios for broker requests (ws_slot.h). */
#include "ws_slot.h"

#include <stdbool.h>
#include <stdlib.h>

static struct {
	struct rpc_slot *head;
	size_t n;
} kept;

static void
slot_free(struct rpc_slot *sl)
{
	if (sl->aio != NULL)
		nng_aio_free(sl->aio);
	nng_ctx_close(sl->ctx);
	free(sl);
}

int
slot_take(nng_socket sock, void (*cb)(void *), void *job, struct rpc_slot **out)
{
	struct rpc_slot *sl = kept.head;
	int rv;

	*out = NULL;
	if (sl != NULL) {
		kept.head = sl->next;
		kept.n--;
	} else {
		if ((sl = calloc(1, sizeof(*sl))) == NULL)
			return NNG_ENOMEM;
		if ((rv = nng_ctx_open(&sl->ctx, sock)) != 0) {
			free(sl);
			return rv;
		}
		if ((rv = nng_aio_alloc(&sl->aio, cb, sl)) != 0) {
			slot_free(sl);
			return rv;
		}
	}
	sl->job = job;
	sl->next = NULL;
	*out = sl;
	return 0;
}

void
slot_give(struct rpc_slot *sl, bool keep)
{
	if (sl == NULL)
		return;
	sl->job = NULL;
	if (!keep || kept.n >= WS_SLOTS_KEEP) {
		slot_free(sl);
		return;
	}
	/* The last message it held is its taker's (a reply) or nng's (a request sent): a kept
	 * slot points to none. */
	nng_aio_set_msg(sl->aio, NULL);
	sl->next = kept.head;
	kept.head = sl;
	kept.n++;
}

void
slot_drop_all(void)
{
	while (kept.head != NULL) {
		struct rpc_slot *sl = kept.head;
		kept.head = sl->next;
		slot_free(sl);
	}
	kept.n = 0;
}

size_t
slot_kept(void)
{
	return kept.n;
}
