/* ws_link.h — madang-ws's link to the broker (docs/broker-protocol.md): the two nng sockets,
 * the front-end lifecycle (hello, heartbeat, sync) and the event stream read inside the lws
 * loop. The link knows nothing of rooms: it hands each event message, the end of each batch
 * of them, and the outcome of a sync to the hooks it is given.
 *
 * Threads: the lws service thread, except the pipe callback (an nng thread), which only sets
 * an atomic flag and wakes the loop. */
#ifndef MADANG_WS_LINK_H
#define MADANG_WS_LINK_H

#include <stdbool.h>
#include <stddef.h>

#include "linkstate.h"
#include "session.h"

struct lws;
struct lws_vhost;
struct lws_context;

/* What the link calls; arg is given back to every hook. None may be NULL. */
struct link_hooks {
	/* One pub message from the event stream (topic line and events, not NUL-terminated; the
	 * memory is the link's, valid during the call). */
	void (*event)(void *arg, const char *body, size_t len);
	/* After each batch of event messages (at most WS_EVENT_BUDGET per loop turn). */
	void (*events_done)(void *arg);
	/* The broker could not take back member m of session s after a restart (err: its error
	 * code, never NULL): the member must go, without telling the broker. */
	void (*member_lost)(void *arg, struct ws_session *s, struct ws_member *m, const char *err);
	/* hello and sync are done: the broker is up (again), in epoch ws->epoch; every room
	 * must re-join its members from prev_epoch ("" when there was none). */
	void (*synced)(void *arg, const char *prev_epoch);
	/* Each heartbeat tick, after the link's own work. */
	void (*tick)(void *arg);
	void *arg;
};

/* Opens and dials the sockets and the request side (ws_rpc.h), keeping hooks (copied).
 * Returns 0 or -1 (logged). */
int link_open(const struct link_hooks *hooks);
/* Adopts the event descriptor into lws (vh of ctx) and sends the first hello. */
void link_start(struct lws_context *ctx, struct lws_vhost *vh);
/* Closes the sockets; every request in flight is dropped without its callback. */
void link_close(void);
/* The event descriptor's RAW_RX_FILE: reads up to WS_EVENT_BUDGET messages. */
void link_events_readable(void);
/* True when wsi is the event descriptor (ws_glue.c routes raw callbacks by it). Its close
 * forgets it. */
bool link_is_events(const struct lws *wsi);
void link_events_closed(void);
/* The heartbeat: hello while down, heartbeat while up (every heartbeat_ms). */
void link_heartbeat(void);
/* The heartbeat period in ms (the broker's hello may change it). */
unsigned link_heartbeat_ms(void);
/* Registers as soon as possible when not registered (after a pipe event or at start). */
void link_poke(void);
/* A request was refused with unknown_frontend: the broker does not know us (it restarted, or
 * a standby took over) although the link is up. Registers again at once (hello, sync). */
void link_reregister(void);
/* The hellos sent so far: a client request remembers it when it is made (link_refusal). */
unsigned link_hellos(void);
/* What a client request made at link_hellos() == sent_hellos and refused with err does:
 * answered, retried, or retried after registering again (linkstate_refusal). */
enum link_refusal link_refusal(unsigned sent_hellos, const char *err);
/* True when hello and sync are done and the broker answers. */
bool link_up(void);
/* "up", "syncing" or "down" (/healthz). */
const char *link_state_name(void);
/* True when the broker sends room events bundled ("b") rather than per room. */
bool link_bundles(void);

#endif
