/* rpc.c — blocking broker client: one req0 socket dialing one or several brokers, one nng
 * context per call. */
#include "rpc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/protocol/reqrep0/req.h>

#include "clock.h"
#include "limits.h"
#include "log.h"
#include "wire.h"

int
rpc_socket(nng_socket *sock)
{
	int rv;

	if ((rv = nng_req0_open(sock)) != 0)
		return rv;
	/* A lost request is reported as a failure, never silently replayed against a new broker. */
	if ((rv = nng_socket_set_ms(*sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE)) != 0 ||
	    (rv = nng_socket_set_size(*sock, NNG_OPT_RECVMAXSZ, RPC_REPLY_MAX)) != 0 ||
	    (rv = nng_socket_set_ms(*sock, NNG_OPT_RECONNMINT, RPC_RECONN_MIN_MS)) != 0 ||
	    (rv = nng_socket_set_ms(*sock, NNG_OPT_RECONNMAXT, RPC_RECONN_MAX_MS)) != 0) {
		nng_close(*sock);
		return rv;
	}
	return 0;
}

int
rpc_open_urls(nng_socket *sock, const char *const *urls, size_t n, const struct tls_opts *tls,
              const char *who, char *err, size_t errsz)
{
	int rv;

	if ((rv = rpc_socket(sock)) != 0) {
		snprintf(err, errsz, "%s", nng_strerror(rv));
		return rv;
	}
	for (size_t i = 0; i < n; i++) {
		if ((rv = tls_dial(*sock, urls[i], tls, who, err, errsz, NULL)) != 0) {
			nng_close(*sock);
			return rv;
		}
	}
	return 0;
}

void
rpc_link_event(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	const char *who = arg;
	char *url = NULL;

	if (nng_dialer_get_string(nng_pipe_dialer(p), NNG_OPT_URL, &url) != 0) {
		/* The dialer is gone: the socket's own close does that (tls_dial closes one only
		 * before it starts), or common/redial.c replacing a dialer that had no connection
		 * (one that came in that moment goes with it): the daemon stopping, or a redial,
		 * not a broker lost. */
		log_debug("%s: broker link closed", who);
		return;
	}
	if (ev == NNG_PIPE_EV_ADD_POST)
		log_info("%s: broker link up: %s", who, url);
	else
		log_warn("%s: broker link down: %s", who, url);
	nng_strfree(url);
}

int
rpc_open(nng_socket *sock, const char *url)
{
	char err[256];

	return rpc_open_urls(sock, &url, 1, NULL, "rpc", err, sizeof(err));
}

int
rpc_call_until(nng_socket sock, const char *json, size_t len, cJSON **reply, uint64_t deadline_ms,
               int reply_ms, bool *sent)
{
	nng_ctx ctx;
	nng_aio *aio = NULL;
	nng_msg *msg = NULL;
	const char *why;
	uint64_t now = clock_mono_ms(), left;
	int rv;

	*reply = NULL;
	if (sent != NULL)
		*sent = false;
	if ((rv = nng_ctx_open(&ctx, sock)) != 0)
		return rv;
	if ((rv = nng_aio_alloc(&aio, NULL, NULL)) != 0)
		goto out;
	/* The send completes once a connected broker's pipe took the request: with no broker
	 * connected it waits, up to the deadline. */
	nng_aio_set_timeout(aio, (nng_duration)(deadline_ms > now ? deadline_ms - now : 0));
	if ((rv = nng_msg_alloc(&msg, 0)) != 0)
		goto out;
	if ((rv = nng_msg_append(msg, json, len)) != 0)
		goto out;
	nng_aio_set_msg(aio, msg);
	nng_ctx_send(ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0)
		goto out; /* on failure the message is still ours */
	msg = NULL;
	if (sent != NULL)
		*sent = true;
	now = clock_mono_ms();
	if (now >= deadline_ms) {
		rv = NNG_ETIMEDOUT;
		goto out;
	}
	left = deadline_ms - now;
	if (reply_ms >= 0 && (uint64_t)reply_ms < left)
		left = (uint64_t)reply_ms;
	nng_aio_set_timeout(aio, (nng_duration)left);
	nng_ctx_recv(ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0)
		goto out;
	msg = nng_aio_get_msg(aio);
	*reply = wire_parse_object(nng_msg_body(msg), nng_msg_len(msg), RPC_REPLY_MAX, &why);
	if (*reply == NULL)
		rv = NNG_EPROTO;
out:
	if (msg != NULL)
		nng_msg_free(msg);
	if (aio != NULL)
		nng_aio_free(aio);
	nng_ctx_close(ctx);
	return rv;
}

int
rpc_call_raw(nng_socket sock, const char *json, size_t len, cJSON **reply, int timeout_ms)
{
	/* One deadline for the whole call: sending may wait for a connection, and the reply gets
	 * only what is left of timeout_ms. */
	return rpc_call_until(sock, json, len, reply,
	                      clock_mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0), -1,
	                      NULL);
}

int
rpc_call(nng_socket sock, const cJSON *req, cJSON **reply, int timeout_ms)
{
	char *text = cJSON_PrintUnformatted(req);
	int rv;

	*reply = NULL;
	if (text == NULL)
		return NNG_ENOMEM;
	rv = rpc_call_raw(sock, text, strlen(text), reply, timeout_ms);
	free(text);
	return rv;
}
