/* sp_epipe.c — an LD_PRELOAD shim for the tests of common/redial.c: while the file named by
 * $MADANG_TEST_EPIPE_FILE exists, every SP handshake header that the process writes on the
 * dialing end of a Unix socket (the 8 bytes nng sends first on a new connection: 0, 'S', 'P', 0,
 * protocol, 0, 0) fails with EPIPE, as when the broker closed the connection before it, and one
 * byte is appended to that file. nng 1.5.2 maps EPIPE to NNG_ECLOSED, which its dialer takes for
 * its own close: it never dials again. The failure waits for the listener's own header (until
 * then the write "would block", and nng tries again when the socket is writable, at once): a
 * close before the listener's write would make the listener give up in turn. Every other write
 * goes through untouched. Built without sanitizers, since it is loaded into whichever build is
 * tested; tests/unit/test_redial.c compiles it in. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

/* An SP header written on the unnamed (dialing) end of a Unix socket. */
static int
dialer_header(int fd, const struct msghdr *m)
{
	static const unsigned char head[4] = {0, 'S', 'P', 0};
	struct sockaddr_un sa;
	socklen_t salen = sizeof(sa);
	size_t len = 0;

	for (size_t i = 0; i < (size_t)m->msg_iovlen; i++)
		len += m->msg_iov[i].iov_len;
	if (len != 8 || m->msg_iovlen < 1 || m->msg_iov[0].iov_len < 4 ||
	    memcmp(m->msg_iov[0].iov_base, head, 4) != 0)
		return 0;
	if (getsockname(fd, (struct sockaddr *)&sa, &salen) != 0 || sa.sun_family != AF_UNIX)
		return 0;
	return salen <= offsetof(struct sockaddr_un, sun_path) || sa.sun_path[0] == '\0';
}

ssize_t
sendmsg(int fd, const struct msghdr *m, int flags)
{
	static ssize_t (*real)(int, const struct msghdr *, int);
	const char *file = getenv("MADANG_TEST_EPIPE_FILE");
	char b;
	int t;

	if (real == NULL)
		real = (ssize_t(*)(int, const struct msghdr *, int))dlsym(RTLD_NEXT, "sendmsg");
	if (file == NULL || !dialer_header(fd, m) || access(file, F_OK) != 0)
		return real(fd, m, flags);
	if (recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) != 1) {
		errno = EAGAIN;
		return -1;
	}
	if ((t = open(file, O_WRONLY | O_APPEND)) >= 0) {
		ssize_t w = write(t, "x", 1);
		(void)w;
		close(t);
	}
	errno = EPIPE;
	return -1;
}
