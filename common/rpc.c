/* rpc.c — blocking broker client: one nng context per call. */
#include "rpc.h"

#include <stdlib.h>
#include <string.h>

#include <nng/protocol/reqrep0/req.h>

#include "clock.h"
#include "limits.h"
#include "wire.h"

int
rpc_open(nng_socket *sock, const char *url)
{
	int rv;

	if ((rv = nng_req0_open(sock)) != 0)
		return rv;
	/* A lost request is reported as a timeout, never silently replayed against a new broker. */
	if ((rv = nng_socket_set_ms(*sock, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE)) != 0)
		goto fail;
	if ((rv = nng_socket_set_size(*sock, NNG_OPT_RECVMAXSZ, 16u * 1024 * 1024)) != 0)
		goto fail;
	nng_socket_set_ms(*sock, NNG_OPT_RECONNMINT, 50);
	nng_socket_set_ms(*sock, NNG_OPT_RECONNMAXT, 1000);
	if ((rv = nng_dial(*sock, url, NULL, NNG_FLAG_NONBLOCK)) != 0)
		goto fail;
	return 0;
fail:
	nng_close(*sock);
	return rv;
}

int
rpc_call_raw(nng_socket sock, const char *json, size_t len, cJSON **reply, int timeout_ms)
{
	nng_ctx ctx;
	nng_aio *aio = NULL;
	nng_msg *msg = NULL;
	const char *why;
	int rv;

	/* One deadline for the whole call: sending may wait for a connection, and the reply gets
	 * only what is left of timeout_ms. */
	uint64_t deadline = clock_mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);

	*reply = NULL;
	if ((rv = nng_ctx_open(&ctx, sock)) != 0)
		return rv;
	if ((rv = nng_aio_alloc(&aio, NULL, NULL)) != 0)
		goto out;
	nng_aio_set_timeout(aio, timeout_ms);
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
	uint64_t now = clock_mono_ms();
	if (now >= deadline) {
		rv = NNG_ETIMEDOUT;
		goto out;
	}
	nng_aio_set_timeout(aio, (nng_duration)(deadline - now));
	nng_ctx_recv(ctx, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) != 0)
		goto out;
	msg = nng_aio_get_msg(aio);
	*reply = wire_parse_object(nng_msg_body(msg), nng_msg_len(msg), 16u * 1024 * 1024, &why);
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
