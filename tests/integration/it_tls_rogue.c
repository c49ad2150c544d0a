/* it_tls_rogue.c — a test helper: hostile peers of a tls+tcp:// listener, with no certificate.
 *
 *   it_tls_rogue reset [--count N] HOST PORT
 *   it_tls_rogue idle [--count N] [--wait MS] HOST PORT
 *
 * reset: N connections one after the other, each sending a real TLS ClientHello (OpenSSL's) and
 * reset at once (SO_LINGER 0), before the server's answer. With nng 1.5.2 a burst of these
 * stops the broker's TLS listener for good (broker/listen.c). Exit status 0 when all were made,
 * 1 when a connect did not succeed within IT_CONNECT_MS (the listener's queue is full: nothing
 * accepts; the rest are not tried).
 *
 * idle: N connections that send nothing (each connect may wait IT_IDLE_CONNECT_MS in a full
 * queue), held until the server closes each or MS pass (default 20000); prints "closed K of N,
 * the first after F ms, the last after L ms". The broker shuts such connections down after
 * TLSHELD_LIMIT_MS (broker/tlsheld.h). Exit status 0 when the server closed all N, 1 when not.
 *
 * N is 1 to 1000 (default 100). Exit status 2 for a usage, address or OpenSSL error, or (idle)
 * a connection that could not be made. */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define IT_COUNT_DEFAULT   100
#define IT_COUNT_MAX       1000
#define IT_CONNECT_MS      500   /* reset: a connect that takes longer ends the run */
#define IT_IDLE_CONNECT_MS 10000 /* idle: a connect may wait behind others in the queue */
#define IT_WAIT_DEFAULT    20000
#define IT_WAIT_MAX        120000

static int
usage(void)
{
	fprintf(stderr, "usage: it_tls_rogue reset [--count N] HOST PORT\n"
	                "       it_tls_rogue idle [--count N] [--wait MS] HOST PORT\n");
	return 2;
}

/* A non-blocking TCP connection to ai, made within ms. Returns the descriptor or -1. */
static int
connect_bounded(const struct addrinfo *ai, int ms)
{
	struct pollfd p;
	int fd, err = 0;
	socklen_t len = sizeof(err);

	if ((fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK, 0)) < 0)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS)
		goto fail;
	p = (struct pollfd){.fd = fd, .events = POLLOUT};
	if (poll(&p, 1, ms) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 ||
	    err != 0)
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

/* One connection: the ClientHello goes out (SSL_connect then waits for the server, which a
 * non-blocking socket turns into SSL_ERROR_WANT_READ), then the reset. Returns 0, -1 when the
 * connection could not be made, -2 on an OpenSSL error. */
static int
one(SSL_CTX *ctx, const struct addrinfo *ai)
{
	struct linger lg = {.l_onoff = 1, .l_linger = 0};
	SSL *ssl;
	int fd, rv = 0;

	if ((fd = connect_bounded(ai, IT_CONNECT_MS)) < 0)
		return -1;
	if ((ssl = SSL_new(ctx)) == NULL || SSL_set_fd(ssl, fd) != 1) {
		rv = -2;
	} else {
		int r = SSL_connect(ssl);
		if (r != 1 && SSL_get_error(ssl, r) != SSL_ERROR_WANT_READ)
			rv = -2;
	}
	setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	SSL_free(ssl);
	close(fd);
	return rv;
}

static long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* idle: count connections that send nothing, until the server closes each or wait_ms pass.
 * Returns 0 when it closed all, 1 when not, 2 when one could not be made. */
static int
idle(const struct addrinfo *ai, long count, long wait_ms)
{
	struct pollfd p[IT_COUNT_MAX];
	long start = now_ms(), first = -1, last = -1, open = 0, closed = 0;

	for (long n = 0; n < count; n++) {
		if ((p[n].fd = connect_bounded(ai, IT_IDLE_CONNECT_MS)) < 0) {
			fprintf(stderr, "it_tls_rogue: connection %ld was not made within %d ms\n",
			        n, IT_IDLE_CONNECT_MS);
			for (long k = 0; k < n; k++)
				close(p[k].fd);
			return 2;
		}
		p[n].events = POLLIN;
		open++;
	}
	while (open > 0 && now_ms() - start < wait_ms) {
		if (poll(p, (nfds_t)count, 100) <= 0)
			continue;
		for (long n = 0; n < count; n++) {
			char b[256];
			if (p[n].fd < 0 || p[n].revents == 0)
				continue;
			if (recv(p[n].fd, b, sizeof(b), MSG_DONTWAIT) > 0)
				continue; /* the server spoke: not a close yet */
			close(p[n].fd);
			p[n].fd = -1; /* poll skips it */
			open--;
			closed++;
			last = now_ms() - start;
			if (first < 0)
				first = last;
		}
	}
	for (long n = 0; n < count; n++)
		if (p[n].fd >= 0)
			close(p[n].fd);
	printf("closed %ld of %ld, the first after %ld ms, the last after %ld ms\n", closed, count,
	       first, last);
	return open == 0 ? 0 : 1;
}

/* reset: see the top of the file. Returns its exit status. */
static int
reset(const struct addrinfo *ai, long count)
{
	SSL_CTX *ctx;
	int rv = 0;

	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		ERR_print_errors_fp(stderr);
		return 2;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	for (long n = 0; n < count && rv == 0; n++)
		rv = one(ctx, ai);
	if (rv == -1)
		fprintf(stderr, "it_tls_rogue: a connection was not made within %d ms\n",
		        IT_CONNECT_MS);
	else if (rv == -2)
		ERR_print_errors_fp(stderr);
	SSL_CTX_free(ctx);
	return rv == 0 ? 0 : rv == -1 ? 1 : 2;
}

/* Reads "--name VALUE" at argv[*i] into *v (min..max); returns true when it was there. */
static bool
opt_long(int argc, char **argv, int *i, const char *name, long min, long max, long *v, bool *bad)
{
	char *end;

	if (*i + 1 >= argc || strcmp(argv[*i], name) != 0)
		return false;
	*v = strtol(argv[*i + 1], &end, 10);
	if (*end != '\0' || *v < min || *v > max)
		*bad = true;
	*i += 2;
	return true;
}

int
main(int argc, char **argv)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
	long count = IT_COUNT_DEFAULT, wait_ms = IT_WAIT_DEFAULT;
	bool is_idle, bad = false;
	int i = 2, rv;

	if (argc < 2 || (strcmp(argv[1], "idle") != 0 && strcmp(argv[1], "reset") != 0))
		return usage();
	is_idle = strcmp(argv[1], "idle") == 0;
	while (opt_long(argc, argv, &i, "--count", 1, IT_COUNT_MAX, &count, &bad) ||
	       (is_idle && opt_long(argc, argv, &i, "--wait", 1, IT_WAIT_MAX, &wait_ms, &bad)))
		;
	if (bad || argc - i != 2)
		return usage();
	if (getaddrinfo(argv[i], argv[i + 1], &hints, &ai) != 0) {
		fprintf(stderr, "it_tls_rogue: cannot resolve %s port %s\n", argv[i], argv[i + 1]);
		return 2;
	}
	rv = is_idle ? idle(ai, count, wait_ms) : reset(ai, count);
	freeaddrinfo(ai);
	return rv;
}
