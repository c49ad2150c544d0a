/* closer.c — test helper: a listener on a Unix socket path that accepts every connection and
 * closes it at once, as a broker killed at that moment would, so that nng 1.5.2's dialers give
 * up (common/redial.h). Usage: closer PATH QUIET_MS MAX_MS. It runs until no connection has
 * come for QUIET_MS after the first one (exit 0: the dialers stopped dialing), or for MAX_MS in
 * all (exit 1: they still dial), then removes PATH and prints how many it closed. */
#define _POSIX_C_SOURCE 200809L
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int
main(int argc, char **argv)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	long long start = now_ms(), last = 0, quiet, max;
	int l, n = 0, rc;

	if (argc != 4 || strlen(argv[1]) >= sizeof(sa.sun_path)) {
		fprintf(stderr, "usage: closer PATH QUIET_MS MAX_MS\n");
		return 2;
	}
	quiet = atoll(argv[2]);
	max = atoll(argv[3]);
	strcpy(sa.sun_path, argv[1]);
	if ((l = socket(AF_UNIX, SOCK_STREAM, 0)) < 0 ||
	    bind(l, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(l, 64) != 0) {
		perror("closer");
		return 2;
	}
	for (;;) {
		long long t = now_ms();
		struct pollfd p = {.fd = l, .events = POLLIN};
		if (n > 0 && t - last >= quiet) {
			rc = 0;
			break;
		}
		if (t - start >= max) {
			rc = 1;
			break;
		}
		/* A blocking accept right after poll: the close comes as soon as it can, before the
		 * dialer's handshake write as often as not. */
		if (poll(&p, 1, 10) == 1) {
			int c = accept(l, NULL, NULL);
			if (c >= 0) {
				close(c);
				n++;
				last = now_ms();
			}
		}
	}
	close(l);
	unlink(argv[1]);
	printf("%d\n", n);
	return rc;
}
