/* nbio.h — nng_sendmsg and nng_recvmsg with NNG_FLAG_NONBLOCK, on an aio the caller keeps.
 * nng 1.5.2's own allocate an aio for each call and free it after, and its allocation asks
 * getrandom for the aio's expiry queue: a system call per message on the broker's event stream,
 * on both ends (docs/performance.md, finding 35). Same results as nng's: 0, NNG_EAGAIN when
 * nothing can be sent or received at once, or nng's error. Any thread that owns the aio (one
 * call at a time on it); the aio has no callback. */
#ifndef MADANG_NBIO_H
#define MADANG_NBIO_H

#include <nng/nng.h>

/* Sends msg on s now or not at all. 0: nng owns msg; otherwise it is still the caller's. */
int nbio_send(nng_socket s, nng_aio *aio, nng_msg *msg);

/* Receives one message from s if one is there: 0 and *msgp (the caller's), or NNG_EAGAIN. */
int nbio_recv(nng_socket s, nng_aio *aio, nng_msg **msgp);

#endif
