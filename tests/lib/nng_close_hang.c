/* nng_close_hang.c — an LD_PRELOAD shim for the stop-guard tests: nng_close never returns, as
 * when nng 1.5.2 deadlocks in it (common/stopguard.h; seen in madang-broker, its main thread in
 * nng_close and nng's reaper waiting on a condition variable). Built without sanitizers, since
 * it is loaded into whichever build is tested. */
#include <signal.h>
#include <unistd.h>

#include <nng/nng.h>

int
nng_close(nng_socket s)
{
	(void)s;
	for (;;)
		pause();
}
