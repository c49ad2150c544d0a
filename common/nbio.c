/* nbio.c — non-blocking send and receive on a kept aio (nbio.h). */
#include "nbio.h"

#include <stddef.h>

int
nbio_send(nng_socket s, nng_aio *aio, nng_msg *msg)
{
	int rv;

	nng_aio_set_timeout(aio, NNG_DURATION_ZERO);
	nng_aio_set_msg(aio, msg);
	nng_send_aio(s, aio);
	nng_aio_wait(aio);
	rv = nng_aio_result(aio);
	nng_aio_set_msg(aio, NULL); /* taken by nng, or given back to the caller */
	return rv == NNG_ETIMEDOUT ? NNG_EAGAIN : rv;
}

int
nbio_recv(nng_socket s, nng_aio *aio, nng_msg **msgp)
{
	int rv;

	*msgp = NULL;
	nng_aio_set_timeout(aio, NNG_DURATION_ZERO);
	nng_recv_aio(s, aio);
	nng_aio_wait(aio);
	if ((rv = nng_aio_result(aio)) == 0) {
		*msgp = nng_aio_get_msg(aio);
		nng_aio_set_msg(aio, NULL);
	}
	return rv == NNG_ETIMEDOUT ? NNG_EAGAIN : rv;
}
