/* linkstate.h — the state machine of madang-ws's link to the broker, pure: which request the
 * link sends (hello, sync, heartbeat) and what it concludes from each outcome, with the clock,
 * the sockets and the clients left to ws_link.c. No I/O, no globals; the caller owns the state.
 *
 *   DOWN ──hello ok──► SYNCING ──sync ok──► UP ──heartbeat refused / new epoch──► hello again
 *    ▲                    │  (unknown_frontend: hello again)   │
 *    └──── no answer, refused ─────────────────────────────────┘
 *
 * Registration waits for the event stream's connection: what the broker publishes for our
 * re-synced members before that would be lost. */
#ifndef MADANG_WS_LINKSTATE_H
#define MADANG_WS_LINKSTATE_H

#include <stdbool.h>

enum link_state {
	LINK_DOWN,    /* no answer: hello is retried every heartbeat */
	LINK_SYNCING, /* hello answered; sync and re-joins in flight */
	LINK_UP,
};

struct linkstate {
	enum link_state state;
	bool hello_busy, sync_busy, hb_busy; /* each request in flight */
	bool down_notified;                  /* the clients were told the broker is gone */
	unsigned hellos; /* hellos sent so far: a client request remembers it when it is made */
};

/* What the caller does next. */
enum link_action {
	LINK_NOTHING,
	LINK_SEND_HELLO,     /* send hello (hello_busy is set) */
	LINK_SEND_SYNC,      /* send sync (sync_busy is set) */
	LINK_SEND_HEARTBEAT, /* send heartbeat (hb_busy is set) */
	LINK_LOST,           /* the broker is lost: linkstate_lost, then log and tell */
	LINK_SYNCED,         /* up again: every member joins again */
};

/* How a request ended. */
enum link_outcome {
	LINK_OK,
	LINK_NOT_SENT,         /* never sent (no memory): the next tick tries again */
	LINK_NO_ANSWER,        /* sent, no reply */
	LINK_REFUSED,          /* refused, or a malformed reply */
	LINK_UNKNOWN_FRONTEND, /* refused: the broker does not know this front-end */
	LINK_NEW_EPOCH,        /* heartbeat: the broker's epoch is not ours */
};

/* The heartbeat tick (stream: the event stream is connected). */
enum link_action linkstate_tick(struct linkstate *ls, bool stopping, bool stream);
/* The event stream connected, or start-up: hello at once when down and idle. */
enum link_action linkstate_poke(struct linkstate *ls, bool stopping, bool stream);
enum link_action linkstate_hello_done(struct linkstate *ls, bool stopping, enum link_outcome o);
enum link_action linkstate_sync_done(struct linkstate *ls, bool stopping, bool stream,
                                     enum link_outcome o);
enum link_action linkstate_heartbeat_done(struct linkstate *ls, bool stopping, bool stream,
                                          enum link_outcome o);

/* A request was refused with unknown_frontend while the link is up (the broker restarted, or
 * a standby took over, before a heartbeat noticed): register again now. */
enum link_action linkstate_refused(struct linkstate *ls, bool stopping, bool stream);

/* What a client request the broker refused does (linkstate_refusal). */
enum link_refusal {
	LINK_ANSWER,         /* a real refusal: the client gets it */
	LINK_RETRY,          /* nothing was applied: it goes again once the link is up */
	LINK_RETRY_REGISTER, /* the same, and the link registers again first (linkstate_refused) */
};

/* A client request made when ls->hellos was sent_hellos was refused: unknown_frontend (the
 * broker does not know this front-end) or not_member (it does not know the member). Either
 * applied nothing. unknown_frontend is retried, and registers again only if no hello went out
 * since the request was made (else that registration already answers it). not_member is retried
 * while the link is not up, or when a hello went out since the request was made: the broker
 * may have taken it between that hello and the sync that re-declared the members, and its
 * reply may be handled after the sync's (the link is up again by then). Else it is answered. */
enum link_refusal linkstate_refusal(const struct linkstate *ls, unsigned sent_hellos,
                                    bool unknown_frontend, bool not_member);

/* linkstate_lost's result bits. */
#define LINK_LOST_WAS_UP 1 /* it was not down: log it */
#define LINK_LOST_NOTIFY 2 /* the clients were not told yet: tell them once */
/* Marks the broker lost (DOWN). Returns LINK_LOST_* bits. */
unsigned linkstate_lost(struct linkstate *ls);

#endif
