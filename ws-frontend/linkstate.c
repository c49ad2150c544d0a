/* linkstate.c — the broker link's state machine, pure (linkstate.h). */
#include "linkstate.h"

/* hello goes out: an UP link is re-syncing from now on. */
static enum link_action
start_hello(struct linkstate *ls)
{
	if (ls->state == LINK_UP)
		ls->state = LINK_SYNCING;
	ls->hello_busy = true;
	ls->hellos++;
	return LINK_SEND_HELLO;
}

/* hello now if the event stream is connected, else down until the next tick or pipe event. */
static enum link_action
hello_when_ready(struct linkstate *ls, bool stream)
{
	if (stream)
		return start_hello(ls);
	ls->state = LINK_DOWN;
	return LINK_NOTHING;
}

enum link_action
linkstate_tick(struct linkstate *ls, bool stopping, bool stream)
{
	if (stopping || ls->hello_busy || ls->sync_busy)
		return LINK_NOTHING;
	if (ls->state != LINK_UP)
		return stream ? start_hello(ls) : LINK_NOTHING;
	if (ls->hb_busy)
		return LINK_NOTHING;
	ls->hb_busy = true;
	return LINK_SEND_HEARTBEAT;
}

enum link_action
linkstate_poke(struct linkstate *ls, bool stopping, bool stream)
{
	if (stopping || ls->state != LINK_DOWN || ls->hello_busy || ls->sync_busy || !stream)
		return LINK_NOTHING;
	return start_hello(ls);
}

enum link_action
linkstate_hello_done(struct linkstate *ls, bool stopping, enum link_outcome o)
{
	ls->hello_busy = false;
	if (stopping || o == LINK_NOT_SENT)
		return LINK_NOTHING;
	if (o != LINK_OK)
		return LINK_LOST;
	ls->state = LINK_SYNCING;
	ls->sync_busy = true;
	return LINK_SEND_SYNC;
}

enum link_action
linkstate_sync_done(struct linkstate *ls, bool stopping, bool stream, enum link_outcome o)
{
	ls->sync_busy = false;
	if (stopping)
		return LINK_NOTHING;
	if (o == LINK_UNKNOWN_FRONTEND)
		return hello_when_ready(ls, stream);
	if (o != LINK_OK)
		return LINK_LOST;
	ls->state = LINK_UP;
	ls->down_notified = false;
	return LINK_SYNCED;
}

enum link_action
linkstate_heartbeat_done(struct linkstate *ls, bool stopping, bool stream, enum link_outcome o)
{
	ls->hb_busy = false;
	if (stopping || ls->state != LINK_UP || o == LINK_NOT_SENT || o == LINK_OK)
		return LINK_NOTHING;
	if (o == LINK_NO_ANSWER)
		return LINK_LOST;
	return hello_when_ready(ls, stream); /* refused, or a new epoch: register again */
}

enum link_action
linkstate_refused(struct linkstate *ls, bool stopping, bool stream)
{
	if (stopping || ls->state != LINK_UP || ls->hello_busy || ls->sync_busy)
		return LINK_NOTHING;
	return hello_when_ready(ls, stream);
}

enum link_refusal
linkstate_refusal(const struct linkstate *ls, unsigned sent_hellos, bool unknown_frontend,
                  bool not_member)
{
	bool hello_since = ls->hellos != sent_hellos;

	if (unknown_frontend)
		return hello_since ? LINK_RETRY : LINK_RETRY_REGISTER;
	if (not_member && (ls->state != LINK_UP || hello_since))
		return LINK_RETRY;
	return LINK_ANSWER;
}

unsigned
linkstate_lost(struct linkstate *ls)
{
	unsigned bits = 0;

	if (ls->state != LINK_DOWN)
		bits |= LINK_LOST_WAS_UP;
	ls->state = LINK_DOWN;
	if (!ls->down_notified) {
		ls->down_notified = true;
		bits |= LINK_LOST_NOTIFY;
	}
	return bits;
}
