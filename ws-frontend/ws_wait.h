/* ws_wait.h — clients waiting for the broker (issue 20 item 4): a connection opened, a join or
 * a command sent while the broker link is not up (a broker restart, a failover to a standby)
 * waits, up to --broker-wait-ms, instead of failing. When the link is up again every waiter
 * goes on in arrival order (the hooks); when its time is over first, it gets the error
 * broker_unavailable and close 1013 (docs/protocol.md, "When the broker is away").
 *
 * The waiters form one list in arrival order, so their deadlines rise along it: each tick looks
 * only at its head. A session may be listed more than once (each held message lists it); every
 * entry holds a reference.
 *
 * Threads: the lws service thread only. */
#ifndef MADANG_WS_WAIT_H
#define MADANG_WS_WAIT_H

#include <stdbool.h>
#include <stddef.h>

#include "route.h"
#include "session.h"

/* What the waiters do when the link is up again. None may be NULL. */
struct wait_hooks {
	/* Opens the connection s for real (welcome, the path's join) as the route asked. */
	void (*open)(struct ws_session *s, const struct route *rt);
	/* Sends on s's held messages (and its queued joins go with the rooms' re-sync). */
	void (*release)(struct ws_session *s);
	/* The wait is over and the link is still down: answers each message s holds with
	 * broker_unavailable (with its client_id), before s gets the notice and close 1013. */
	void (*expire)(struct ws_session *s);
};

/* Keeps hooks (copied). */
void wait_init(const struct wait_hooks *hooks);
/* s was accepted while the link is not up: its opening (rt, copied) waits. Returns 0, or -1
 * when out of memory (the caller closes s). */
int wait_open(struct ws_session *s, const struct route *rt);
/* s has something waiting for the link (a held message, a join to send again). Returns 0, or
 * -1 when out of memory (nothing then bounds the wait but the link). */
int wait_add(struct ws_session *s);
/* The link is up: every waiter goes on, in arrival order, through the hooks. */
void wait_link_up(void);
/* Each heartbeat: waiters whose time is over while the link is still not up get
 * broker_unavailable and close 1013. */
void wait_tick(void);
/* Waiting entries (tests, /healthz). */
size_t wait_count(void);
/* Drops every entry (shutdown). */
void wait_fini(void);

#endif
