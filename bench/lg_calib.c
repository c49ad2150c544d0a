/* lg_calib.c — `madang-loadgen --calibrate`: what this machine charges, right now, for the three
 * things a chat delivery is made of, so that a benchmark run can say how fast the machine was
 * (the figures of one build move by an order of magnitude with the state of a shared machine):
 *   syscall_us     one trivial system call (getppid)
 *   send_us        one 200-byte send() on a loopback TCP connection, the receiver's side included
 *                  (the reader drains every 64 sends)
 *   wakeup_rtt_us  one round trip between two threads through a pair of pipes: two sleeps and
 *                  two wake-ups, what a hand-off between nng's threads and a caller costs
 * Each figure is the median of five rounds, each round bounded in count and in time. */
#include "loadgen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#define CAL_ROUNDS     5
#define CAL_ROUND_NS   200000000ull /* a round stops after this long, whatever its count */
#define CAL_SYSCALLS   100000
#define CAL_SENDS      10000
#define CAL_SEND_BYTES 200
#define CAL_RTTS       2000

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double
median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static double
round_syscall(void)
{
	uint64_t t0 = lg_now(), t;
	int i;

	for (i = 0; i < CAL_SYSCALLS; i++) {
		syscall(SYS_getppid);
		if ((i & 1023) == 1023 && lg_now() - t0 > CAL_ROUND_NS)
			break;
	}
	t = lg_now() - t0;
	return (double)t / 1000.0 / (i < CAL_SYSCALLS ? i + 1 : i);
}

/* A connected loopback TCP pair: *w the writer (TCP_NODELAY), *r the reader (non-blocking). */
static int
tcp_pair(int *w, int *r)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	int l = socket(AF_INET, SOCK_STREAM, 0), one = 1;

	*w = *r = -1;
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(l, 1) != 0 ||
	    getsockname(l, (struct sockaddr *)&a, &al) != 0)
		goto fail;
	if ((*r = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0)) < 0)
		goto fail;
	if (connect(*r, (struct sockaddr *)&a, sizeof(a)) != 0 && errno != EINPROGRESS)
		goto fail;
	if ((*w = accept(l, NULL, NULL)) < 0)
		goto fail;
	setsockopt(*w, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	close(l);
	return 0;
fail:
	if (l >= 0)
		close(l);
	if (*r >= 0)
		close(*r);
	*w = *r = -1;
	return -1;
}

static double
round_send(void)
{
	char buf[CAL_SEND_BYTES], sink[65536];
	int w, r, i;
	uint64_t t0, t;

	if (tcp_pair(&w, &r) != 0)
		return -1;
	memset(buf, 'x', sizeof(buf));
	t0 = lg_now();
	for (i = 0; i < CAL_SENDS; i++) {
		if (send(w, buf, sizeof(buf), 0) != (ssize_t)sizeof(buf))
			break;
		if ((i & 63) == 63) {
			while (recv(r, sink, sizeof(sink), 0) > 0)
				;
			if (lg_now() - t0 > CAL_ROUND_NS) {
				i++;
				break;
			}
		}
	}
	t = lg_now() - t0;
	close(w);
	close(r);
	return i > 0 ? (double)t / 1000.0 / i : -1;
}

struct echo {
	int in, out;
};

static void *
echo_main(void *arg)
{
	struct echo *e = arg;
	char c;

	while (read(e->in, &c, 1) == 1 && c != 'q')
		if (write(e->out, &c, 1) != 1)
			break;
	return NULL;
}

static double
round_wakeup(void)
{
	int to[2], from[2], i;
	struct echo e;
	pthread_t th;
	uint64_t t0, t;
	char c = 'x';

	if (pipe(to) != 0)
		return -1;
	if (pipe(from) != 0) {
		close(to[0]);
		close(to[1]);
		return -1;
	}
	e.in = to[0];
	e.out = from[1];
	if (pthread_create(&th, NULL, echo_main, &e) != 0) {
		i = -1;
		goto out;
	}
	t0 = lg_now();
	for (i = 0; i < CAL_RTTS; i++) {
		if (write(to[1], &c, 1) != 1 || read(from[0], &c, 1) != 1)
			break;
		if ((i & 63) == 63 && lg_now() - t0 > CAL_ROUND_NS) {
			i++;
			break;
		}
	}
	t = lg_now() - t0;
	c = 'q';
	if (write(to[1], &c, 1) == 1)
		pthread_join(th, NULL);
	else
		pthread_detach(th);
out:
	close(to[0]);
	close(to[1]);
	close(from[0]);
	close(from[1]);
	return i > 0 ? (double)t / 1000.0 / i : -1;
}

int
lg_calibrate(void)
{
	double sc[CAL_ROUNDS], sn[CAL_ROUNDS], wk[CAL_ROUNDS];

	for (int k = 0; k < CAL_ROUNDS; k++) {
		sc[k] = round_syscall();
		sn[k] = round_send();
		wk[k] = round_wakeup();
		if (sn[k] < 0 || wk[k] < 0) {
			fprintf(stderr, "madang-loadgen: calibration failed: %s\n",
			        strerror(errno));
			return 1;
		}
	}
	printf("{\"tool\":\"madang-loadgen\",\"calibration\":{\"syscall_us\":%.3f,\"send_us\":%.2f,"
	       "\"wakeup_rtt_us\":%.1f}}\n",
	       median(sc, CAL_ROUNDS), median(sn, CAL_ROUNDS), median(wk, CAL_ROUNDS));
	return 0;
}
