/* redial.c — keeps a socket's dialers dialing the broker (redial.h). */
#include "redial.h"

#include "clock.h"
#include "tls.h"

void
redial_pipe_event(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct redial *r = arg;

	/* nng reports a pipe's removal only if it reported its ADD_PRE: the count pairs up in
	 * whatever order two pipes' events come (with several URLs, an old broker's pipe may be
	 * reported gone after a new one's arrival). */
	if (ev == NNG_PIPE_EV_ADD_PRE)
		atomic_fetch_add(&r->pipes, 1);
	else if (ev == NNG_PIPE_EV_REM_POST && atomic_fetch_sub(&r->pipes, 1) == 1)
		atomic_store(&r->idle_since, clock_mono_ms());
	if (r->hook != NULL && ev != NNG_PIPE_EV_ADD_PRE)
		r->hook(p, ev, r->hook_arg);
}

int
redial_watch(struct redial *r, nng_socket sock, redial_dial_fn dial, void *dial_arg,
             nng_pipe_cb hook, void *hook_arg)
{
	static const nng_pipe_ev evs[] = {NNG_PIPE_EV_ADD_PRE, NNG_PIPE_EV_ADD_POST,
	                                  NNG_PIPE_EV_REM_POST};
	int rv;

	r->sock = sock;
	r->dial = dial;
	r->dial_arg = dial_arg;
	r->hook = hook;
	r->hook_arg = hook_arg;
	r->n = 0;
	r->replaced = 0;
	atomic_store(&r->pipes, 0);
	atomic_store(&r->idle_since, clock_mono_ms());
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if ((rv = nng_pipe_notify(sock, evs[i], redial_pipe_event, r)) != 0)
			return rv;
	return 0;
}

int
redial_add(struct redial *r, const char *url)
{
	nng_dialer d = NNG_DIALER_INITIALIZER;
	int rv;

	if (r->n == REDIAL_URLS_MAX)
		return NNG_ENOSPC;
	if ((rv = r->dial(r->dial_arg, r->sock, url, &d)) != 0)
		return rv;
	r->urls[r->n] = url;
	r->dialers[r->n++] = d;
	return 0;
}

int
redial_pipes(struct redial *r)
{
	return atomic_load(&r->pipes);
}

bool
redial_live(struct redial *r)
{
	return atomic_load(&r->pipes) > 0;
}

size_t
redial_check(struct redial *r, uint64_t now_ms)
{
	size_t done = 0;

	if (redial_live(r) || now_ms < atomic_load(&r->idle_since) + REDIAL_IDLE_MS)
		return 0;
	for (size_t i = 0; i < r->n; i++) {
		nng_dialer d = NNG_DIALER_INITIALIZER;
		if (nng_dialer_id(r->dialers[i]) > 0) {
			tls_unwatch_dialer(r->dialers[i]);
			nng_dialer_close(r->dialers[i]);
			r->dialers[i] = (nng_dialer)NNG_DIALER_INITIALIZER;
		}
		if (r->dial(r->dial_arg, r->sock, r->urls[i], &d) == 0) {
			r->dialers[i] = d;
			done++;
		}
	}
	r->replaced += done;
	atomic_store(&r->idle_since, now_ms);
	return done;
}
