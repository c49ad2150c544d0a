/* listen.c — opening or adopting madang-api's FastCGI listening socket. */
#include "listen.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define HOST_MAX 255

/* Accepted TCP sockets inherit these from the listener (Linux copies them), so a peer that
 * connects and then stalls inside libfcgi's FCGX_Accept_r (which reads the request's params
 * before madang-api sees the connection) is dropped after API_IO_TIMEOUT_S instead of holding
 * a worker forever. (libfcgi itself drops a unix-socket peer that sends nothing for 2 s.) */
static void
set_io_timeouts(int fd)
{
	struct timeval tv = {.tv_sec = API_IO_TIMEOUT_S, .tv_usec = 0};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

/* Every worker polls the socket and then accepts: non-blocking, so that the losers of a race
 * get EAGAIN instead of blocking in accept() where shutdown could not reach them. */
static int
set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0)
		return -1;
	set_io_timeouts(fd);
	return 0;
}

static int
open_unix(const char *path, int backlog, char *err, size_t errsz)
{
	struct sockaddr_un sa;
	size_t len = strlen(path);
	struct stat st;
	int fd;

	if (len == 0 || len > API_LISTEN_PATH_MAX) {
		snprintf(err, errsz, "unix socket path must have 1 to %d bytes",
		         API_LISTEN_PATH_MAX);
		return -1;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, len);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		snprintf(err, errsz, "socket: %s", strerror(errno));
		return -1;
	}
	if (lstat(path, &st) == 0) {
		if (!S_ISSOCK(st.st_mode)) {
			snprintf(err, errsz, "%s exists and is not a socket", path);
			goto fail;
		}
		if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			snprintf(err, errsz, "%s is in use by another process", path);
			goto fail;
		}
		close(fd); /* a failed connect leaves the socket unusable for bind */
		if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
			snprintf(err, errsz, "socket: %s", strerror(errno));
			return -1;
		}
		if (unlink(path) != 0) {
			snprintf(err, errsz, "removing stale %s: %s", path, strerror(errno));
			goto fail;
		}
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		snprintf(err, errsz, "bind %s: %s", path, strerror(errno));
		goto fail;
	}
	/* The web server runs as another user; who may connect is decided by the directory. */
	if (chmod(path, 0666) != 0 || listen(fd, backlog) != 0 || set_nonblock(fd) != 0) {
		snprintf(err, errsz, "listen %s: %s", path, strerror(errno));
		unlink(path);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

static int
open_tcp(const char *spec, int backlog, char *err, size_t errsz)
{
	char host[HOST_MAX + 1];
	const char *colon, *port, *h = spec;
	size_t hlen;
	struct addrinfo hints, *res = NULL;
	int fd = -1, one = 1, rv;

	if (spec[0] == '[') {
		const char *end = strchr(spec, ']');

		if (end == NULL || end[1] != ':') {
			snprintf(err, errsz, "bad address %s: want [IPv6]:PORT", spec);
			return -1;
		}
		h = spec + 1;
		hlen = (size_t)(end - h);
		port = end + 2;
	} else {
		if ((colon = strrchr(spec, ':')) == NULL) {
			snprintf(err, errsz, "bad address %s: want HOST:PORT or unix:PATH", spec);
			return -1;
		}
		hlen = (size_t)(colon - spec);
		port = colon + 1;
	}
	if (hlen == 0 || hlen > HOST_MAX || port[0] == '\0') {
		snprintf(err, errsz, "bad address %s: want HOST:PORT or unix:PATH", spec);
		return -1;
	}
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
	if ((rv = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errsz, "address %s: %s", spec, gai_strerror(rv));
		return -1;
	}
	if ((fd = socket(res->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		snprintf(err, errsz, "socket: %s", strerror(errno));
		goto out;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, backlog) != 0 ||
	    set_nonblock(fd) != 0) {
		snprintf(err, errsz, "listen %s: %s", spec, strerror(errno));
		close(fd);
		fd = -1;
	}
out:
	freeaddrinfo(res);
	return fd;
}

int
api_listen_open(const char *spec, int backlog, char *err, size_t errsz)
{
	if (strncmp(spec, "unix:", 5) == 0)
		return open_unix(spec + 5, backlog, err, errsz);
	return open_tcp(spec, backlog, err, errsz);
}

int
api_listen_inherited(char *err, size_t errsz)
{
	const char *fds = getenv("LISTEN_FDS");
	const char *pid = getenv("LISTEN_PID");
	int fd = 0, acc = 0, type = 0;
	socklen_t len = sizeof(acc);

	if (fds != NULL && (pid == NULL || strtol(pid, NULL, 10) == (long)getpid())) {
		if (strtol(fds, NULL, 10) < 1) {
			snprintf(err, errsz, "LISTEN_FDS=%s passes no socket", fds);
			return -1;
		}
		fd = API_SD_LISTEN_FD;
		/* like sd_listen_fds(1): the variables are for this process only */
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_PID");
		unsetenv("LISTEN_FDNAMES");
		fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) != 0 || !acc) {
		snprintf(err, errsz,
		         "fd %d is not a listening socket (start madang-api with --listen, or "
		         "under spawn-fcgi or systemd socket activation)",
		         fd);
		return -1;
	}
	len = sizeof(type);
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || type != SOCK_STREAM) {
		snprintf(err, errsz, "fd %d is not a stream socket", fd);
		return -1;
	}
	if (set_nonblock(fd) != 0) {
		snprintf(err, errsz, "fd %d: %s", fd, strerror(errno));
		return -1;
	}
	return fd;
}
