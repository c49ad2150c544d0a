/* ws_slot.h — the nng context and aio that carry one of madang-ws's broker requests (ws_rpc.c),
 * kept for the next request once it has completed. Opening a context and allocating an aio for
 * each request, and freeing both after it, cost four allocations, nng's socket lock three times
 * and a system call (nng 1.5.2's nng_aio_alloc asks getrandom for the aio's expiry queue)
 * (docs/performance.md, finding 35). At most WS_SLOTS_KEEP are kept; the others are freed.
 *
 * An aio is reused as nng allows once its callback has handed its result over (nng counts a
 * callback still returning); a context after a reply, a failed send or a timeout alike (a new
 * request on a REQ context replaces whatever the last one left). Threads: the lws thread only;
 * the callback runs on nng's threads and reads slot->job. */
#ifndef MADANG_WS_SLOT_H
#define MADANG_WS_SLOT_H

#include <stdbool.h>
#include <stddef.h>

#include <nng/nng.h>

#define WS_SLOTS_KEEP 64 /* slots kept idle for the next requests (more than a loop turn's) */

struct rpc_slot {
	nng_ctx ctx;
	nng_aio *aio;
	void *job;             /* what the callback gets it for (the caller's), NULL while kept */
	struct rpc_slot *next; /* the kept slots */
};

/* A slot on sock for job, whose aio calls cb with the slot: a kept one, else a new one (cb and
 * sock: the same for every slot). Returns 0, or nng's error. */
int slot_take(nng_socket sock, void (*cb)(void *), void *job, struct rpc_slot **out);

/* Gives back a slot whose aio has completed (no operation of it in progress): kept when keep
 * is true and fewer than WS_SLOTS_KEEP are, else freed. NULL: nothing. */
void slot_give(struct rpc_slot *sl, bool keep);

/* Frees every kept slot (before the socket is closed). */
void slot_drop_all(void);

/* How many are kept now (tests, metrics). */
size_t slot_kept(void);

#endif
