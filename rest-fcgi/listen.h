/* listen.h — the FastCGI listening socket of madang-api: opened from --listen, or inherited from
 * spawn-fcgi / systemd socket activation (fd 0, or fd 3 with LISTEN_FDS). */
#ifndef MADANG_API_LISTEN_H
#define MADANG_API_LISTEN_H

#include <stddef.h>

#define API_LISTEN_PATH_MAX 107 /* sun_path minus its NUL */
#define API_SD_LISTEN_FD    3   /* SD_LISTEN_FDS_START */
#define API_IO_TIMEOUT_S    10  /* reading a request / writing a response to the web server */

/* Opens, binds and listens on spec: "unix:PATH" (a stale socket file is replaced; one that still
 * answers is refused; the new file gets mode 0666, restrict access with its directory) or
 * "HOST:PORT" / "[IPv6]:PORT". Returns the descriptor (non-blocking, close-on-exec) or -1 with a
 * reason in err. */
int api_listen_open(const char *spec, int backlog, char *err, size_t errsz);

/* The inherited listening socket: fd 3 when $LISTEN_FDS is set (and $LISTEN_PID is ours or unset),
 * else fd 0. Checks that it is a listening stream socket and makes it non-blocking. Returns the
 * descriptor or -1 with a reason in err. */
int api_listen_inherited(char *err, size_t errsz);

#endif
