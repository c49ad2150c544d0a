/* test_tlsheld.c — broker/tlsheld.c against real sockets: this process plays the broker, holding
 * the accepted end of loopback TCP connections on a port, as nng holds the connections of a
 * tls+tcp:// listener before their handshake. The pipes come from a real nng pair over
 * tcp://127.0.0.1 on that same kind of port, so their peers' addresses are nng's own. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "broker/tlsheld.h"

/* A listening loopback TCP socket; its port (host order) in *port. */
static int
listener(uint16_t *port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(fd, 16), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* A client connection to port, and its accepted end in *server. */
static int
connection(int lfd, uint16_t port, int *server)
{
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_port = htons(port),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int c = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(c >= 0);
	assert_int_equal(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_true((*server = accept(lfd, NULL, NULL)) >= 0);
	return c;
}

/* True when the peer of client c has shut its end down (c reads end of file). */
static bool
shut_down(int c)
{
	char b;

	return recv(c, &b, 1, MSG_DONTWAIT) == 0;
}

static void
test_connections_that_are_no_pipe_are_shut_down_after_the_limit(void **state)
{
	struct tlsheld *h;
	nng_socket rep;
	uint16_t port;
	int lfd = listener(&port), srv[3], cli[3];

	(void)state;
	assert_int_equal(nng_rep0_open(&rep), 0);
	assert_int_equal(tlsheld_open(&h, rep), 0);
	for (int i = 0; i < 2; i++)
		cli[i] = connection(lfd, port, &srv[i]);
	/* Sweeps at least TLSHELD_SWEEP_MS apart. The first sees two; the second a third, and none
	 * is due yet; the third finds the first two due, and the fourth the last. */
	assert_int_equal(tlsheld_sweep(h, port, "tls+tcp://test", 1000), 0);
	cli[2] = connection(lfd, port, &srv[2]);
	assert_int_equal(tlsheld_sweep(h, port, "tls+tcp://test", 1000 + TLSHELD_LIMIT_MS - 1000),
	                 0);
	assert_false(shut_down(cli[0]));
	assert_int_equal(tlsheld_sweep(h, port, "tls+tcp://test", 1000 + TLSHELD_LIMIT_MS), 2);
	assert_true(shut_down(cli[0]));
	assert_true(shut_down(cli[1]));
	assert_false(shut_down(cli[2]));
	assert_int_equal(tlsheld_sweep(h, port, "tls+tcp://test", TLSHELD_LIMIT_MS * 2), 1);
	assert_true(shut_down(cli[2]));
	/* Shut down once: the descriptors stay open (theirs to close), and are not counted again.
	 */
	assert_int_equal(tlsheld_sweep(h, port, "tls+tcp://test", TLSHELD_LIMIT_MS * 3), 0);
	/* The listening socket itself is never one of them: it still accepts. */
	int s, c = connection(lfd, port, &s);
	close(c);
	close(s);
	for (int i = 0; i < 3; i++) {
		close(cli[i]);
		close(srv[i]);
	}
	close(lfd);
	nng_close(rep);
	tlsheld_close(h);
}

static void
test_sweeps_are_at_most_one_a_period(void **state)
{
	struct tlsheld *h;
	nng_socket rep;
	uint16_t port;
	int lfd = listener(&port), s, c;

	(void)state;
	assert_int_equal(nng_rep0_open(&rep), 0);
	assert_int_equal(tlsheld_open(&h, rep), 0);
	assert_int_equal(tlsheld_sweep(h, port, "tls+tcp://test", 1000), 0); /* sees nothing */
	c = connection(lfd, port, &s);
	/* Before TLSHELD_SWEEP_MS has passed, the call does nothing: the connection is first seen
	 * at the next sweep, and its limit runs from then. */
	assert_int_equal(tlsheld_sweep(h, port, "tls+tcp://test", 1000 + TLSHELD_SWEEP_MS - 1), 0);
	assert_int_equal(tlsheld_sweep(h, port, "tls+tcp://test", 1000 + TLSHELD_SWEEP_MS), 0);
	assert_int_equal(tlsheld_sweep(h, port, "tls+tcp://test",
	                               1000 + TLSHELD_SWEEP_MS + TLSHELD_LIMIT_MS - 1),
	                 0);
	assert_false(shut_down(c));
	assert_int_equal(tlsheld_sweep(h, port, "tls+tcp://test",
	                               1000 + 2 * TLSHELD_SWEEP_MS + TLSHELD_LIMIT_MS),
	                 1);
	assert_true(shut_down(c));
	close(c);
	close(s);
	close(lfd);
	nng_close(rep);
	tlsheld_close(h);
}

/* A connection that became a pipe is left alone, however long it lives; the socket's other
 * connections on the port are not. The pipe is nng's own (req dialing rep over tcp://), so its
 * peer is as nng reports it. */
static void
test_a_pipe_is_left_alone(void **state)
{
	struct tlsheld *h;
	nng_socket rep, req;
	nng_listener l;
	nng_sockaddr sa;
	char url[64];
	uint16_t port;
	int lfd = listener(&port), c, n;

	(void)state;
	close(lfd); /* a free port for nng */
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%u", port);
	assert_int_equal(nng_rep0_open(&rep), 0);
	assert_int_equal(tlsheld_open(&h, rep), 0);
	assert_int_equal(nng_listener_create(&l, rep, url), 0);
	assert_int_equal(nng_listener_start(l, 0), 0);
	assert_int_equal(nng_listener_get_addr(l, NNG_OPT_LOCADDR, &sa), 0);
	assert_int_equal(nng_req0_open(&req), 0);
	assert_int_equal(nng_dial(req, url, NULL, 0), 0);
	/* The pipe's event comes on an nng thread after the dial: a request answered shows it. */
	assert_int_equal(nng_send(req, "x", 1, 0), 0);
	char *buf;
	size_t len;
	assert_int_equal(nng_recv(rep, &buf, &len, NNG_FLAG_ALLOC), 0);
	nng_free(buf, len);
	/* A raw connection to the same port: nng's transport takes it and waits for its header (up
	 * to nng's own 10 s), so it is no pipe. */
	struct sockaddr_in a = {.sin_family = AF_INET,
	                        .sin_port = htons(port),
	                        .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	c = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
	/* nng's transport sends its SP header once it has accepted the connection. */
	struct timeval tv = {.tv_sec = 5};
	char hdr[8];
	assert_int_equal(setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	assert_int_equal(recv(c, hdr, sizeof(hdr), MSG_WAITALL), (ssize_t)sizeof(hdr));
	assert_int_equal(tlsheld_sweep(h, port, "tcp://test", 1000), 0);
	n = tlsheld_sweep(h, port, "tcp://test", 1000 + TLSHELD_LIMIT_MS);
	assert_int_equal(n, 1); /* the raw one, not the pipe */
	/* The pipe still works. */
	assert_int_equal(nng_send(req, "y", 1, 0), 0);
	assert_int_equal(nng_recv(rep, &buf, &len, NNG_FLAG_ALLOC), 0);
	nng_free(buf, len);
	close(c);
	nng_close(req);
	nng_close(rep);
	tlsheld_close(h);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_connections_that_are_no_pipe_are_shut_down_after_the_limit),
	    cmocka_unit_test(test_sweeps_are_at_most_one_a_period),
	    cmocka_unit_test(test_a_pipe_is_left_alone),
	};
	return cmocka_run_group_tests_name("tlsheld", tests, NULL, NULL);
}
