/* it_tls_reset.c — a test helper: the hostile peer of a tls+tcp:// listener that needs no
 * certificate. Each of its connections sends a real TLS ClientHello (OpenSSL's) and is reset at
 * once (SO_LINGER 0), before the server's answer. With nng 1.5.2 a burst of these stops the
 * broker's TLS listener for good (broker/listen.c; tests/suites/73-tls.sh).
 *
 *   it_tls_reset [--count N] HOST PORT
 *
 * N connections (default 300, at most 100000), one after the other, each connect bounded by
 * IT_CONNECT_MS. Exit status: 0 when all were made, 1 when a connect timed out or was refused
 * (the listener's queue is full: nothing accepts; the rest are not tried), 2 for a usage or
 * OpenSSL error. */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#define IT_COUNT_DEFAULT 300
#define IT_COUNT_MAX     100000
#define IT_CONNECT_MS    500

static int
usage(void)
{
	fprintf(stderr, "usage: it_tls_reset [--count N] HOST PORT\n");
	return 2;
}

/* A non-blocking TCP connection to ai, made within IT_CONNECT_MS. Returns the descriptor or
 * -1. */
static int
connect_bounded(const struct addrinfo *ai)
{
	struct pollfd p;
	int fd, err = 0;
	socklen_t len = sizeof(err);

	if ((fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK, 0)) < 0)
		return -1;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EINPROGRESS)
		goto fail;
	p = (struct pollfd){.fd = fd, .events = POLLOUT};
	if (poll(&p, 1, IT_CONNECT_MS) != 1 ||
	    getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0)
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

	if ((fd = connect_bounded(ai)) < 0)
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

int
main(int argc, char **argv)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
	long count = IT_COUNT_DEFAULT;
	int i = 1, rv = 0;
	SSL_CTX *ctx;

	if (argc == 5 && strcmp(argv[1], "--count") == 0) {
		char *end;
		count = strtol(argv[2], &end, 10);
		if (*end != '\0' || count < 1 || count > IT_COUNT_MAX)
			return usage();
		i = 3;
	}
	if (argc - i != 2)
		return usage();
	if (getaddrinfo(argv[i], argv[i + 1], &hints, &ai) != 0) {
		fprintf(stderr, "it_tls_reset: cannot resolve %s port %s\n", argv[i], argv[i + 1]);
		return 2;
	}
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL) {
		ERR_print_errors_fp(stderr);
		freeaddrinfo(ai);
		return 2;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	for (long n = 0; n < count && rv == 0; n++)
		rv = one(ctx, ai);
	if (rv == -1)
		fprintf(stderr, "it_tls_reset: a connection was not made within %d ms\n",
		        IT_CONNECT_MS);
	else if (rv == -2)
		ERR_print_errors_fp(stderr);
	SSL_CTX_free(ctx);
	freeaddrinfo(ai);
	return rv == 0 ? 0 : rv == -1 ? 1 : 2;
}
