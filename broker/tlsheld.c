/* tlsheld.c — shuts down the tls+tcp:// connections that nng holds past TLSHELD_LIMIT_MS
 * without their handshake done (tlsheld.h).
 *
 * Threads: the pipe callback runs on nng's threads and touches only the pipe list (under mu);
 * tlsheld_sweep runs on the broker's state thread. A connection is told from a pipe by its
 * peer's address: nng reports each pipe's (NNG_OPT_REMADDR), and getpeername(2) gives each
 * descriptor's. A connection is followed from sweep to sweep by its socket's inode, which
 * stays its own while it is open; the inode is checked again just before the shutdown, so that
 * a descriptor nng closed and reused meanwhile is left alone. */
#include "tlsheld.h"

#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "log.h"

struct tlsheld_pipe {
	uint32_t id;
	nng_sockaddr peer;
};

struct tlsheld_conn {
	ino_t ino;
	uint64_t since; /* when a sweep first saw it (clock_mono_ms) */
	int fd;         /* its descriptor at the last sweep */
	bool shut;      /* shut down already: nng has yet to close it */
};

struct tlsheld {
	pthread_mutex_t mu;
	struct tlsheld_pipe *pipes; /* the socket's pipes (under mu) */
	size_t npipes, cappipes;
	struct tlsheld_conn *conns; /* connections that are no pipe, by inode (state thread) */
	size_t nconns;
	uint64_t sweep_at;
};

/* Grows *arr (of size bytes per item) to hold at least n + 1 items. Returns 0 or -1. */
static int
grow(void **arr, size_t *cap, size_t n, size_t size)
{
	size_t c = *cap != 0 ? *cap * 2 : 16;
	void *p;

	if (n < *cap)
		return 0;
	if ((p = realloc(*arr, c * size)) == NULL)
		return -1;
	*arr = p;
	*cap = c;
	return 0;
}

/* nng's threads: keeps the pipe list. A pipe whose address cannot be read is kept with an
 * empty one, which matches no connection. */
static void
pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct tlsheld *h = arg;
	struct tlsheld_pipe e = {.id = (uint32_t)nng_pipe_id(p)};

	if (ev == NNG_PIPE_EV_ADD_POST && nng_pipe_get_addr(p, NNG_OPT_REMADDR, &e.peer) != 0)
		memset(&e.peer, 0, sizeof(e.peer));
	pthread_mutex_lock(&h->mu);
	if (ev == NNG_PIPE_EV_ADD_POST) {
		if (grow((void **)&h->pipes, &h->cappipes, h->npipes, sizeof(*h->pipes)) == 0)
			h->pipes[h->npipes++] = e;
		else
			log_error("broker: out of memory for the list of TLS pipes");
	} else {
		for (size_t i = 0; i < h->npipes; i++) {
			if (h->pipes[i].id == e.id) {
				h->pipes[i] = h->pipes[--h->npipes];
				break;
			}
		}
	}
	pthread_mutex_unlock(&h->mu);
}

int
tlsheld_open(struct tlsheld **out, nng_socket sock)
{
	struct tlsheld *h;
	int rv;

	if ((h = calloc(1, sizeof(*h))) == NULL)
		return NNG_ENOMEM;
	pthread_mutex_init(&h->mu, NULL);
	if ((rv = nng_pipe_notify(sock, NNG_PIPE_EV_ADD_POST, pipe_cb, h)) != 0 ||
	    (rv = nng_pipe_notify(sock, NNG_PIPE_EV_REM_POST, pipe_cb, h)) != 0) {
		nng_pipe_notify(sock, NNG_PIPE_EV_ADD_POST, NULL, NULL);
		pthread_mutex_destroy(&h->mu);
		free(h);
		return rv;
	}
	*out = h;
	return 0;
}

/* True when a (a peer by getpeername) is the peer of one of h's pipes. */
static bool
is_pipe(struct tlsheld *h, const struct sockaddr_storage *a)
{
	bool found = false;

	pthread_mutex_lock(&h->mu);
	for (size_t i = 0; i < h->npipes && !found; i++) {
		const nng_sockaddr *p = &h->pipes[i].peer;
		if (a->ss_family == AF_INET && p->s_family == NNG_AF_INET) {
			const struct sockaddr_in *s = (const struct sockaddr_in *)a;
			found =
			    s->sin_port == p->s_in.sa_port && s->sin_addr.s_addr == p->s_in.sa_addr;
		} else if (a->ss_family == AF_INET6 && p->s_family == NNG_AF_INET6) {
			const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)a;
			found = s->sin6_port == p->s_in6.sa_port &&
			        memcmp(&s->sin6_addr, p->s_in6.sa_addr, 16) == 0;
		}
	}
	pthread_mutex_unlock(&h->mu);
	return found;
}

/* The inode of fd's socket when fd is a TCP connection to local port (network order) that is
 * no pipe of h's; else 0. */
static ino_t
held_inode(struct tlsheld *h, int fd, uint16_t port)
{
	struct sockaddr_storage a;
	socklen_t len = sizeof(a);
	int listening = 0;
	socklen_t ilen = sizeof(listening);
	struct stat st;

	if (getsockname(fd, (struct sockaddr *)&a, &len) != 0 ||
	    (a.ss_family != AF_INET && a.ss_family != AF_INET6))
		return 0;
	if ((a.ss_family == AF_INET ? ((struct sockaddr_in *)&a)->sin_port
	                            : ((struct sockaddr_in6 *)&a)->sin6_port) != port)
		return 0;
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &ilen) != 0 || listening)
		return 0;
	len = sizeof(a);
	if (getpeername(fd, (struct sockaddr *)&a, &len) != 0 || is_pipe(h, &a))
		return 0;
	return fstat(fd, &st) == 0 ? st.st_ino : 0;
}

static int
conn_cmp(const void *a, const void *b)
{
	ino_t x = ((const struct tlsheld_conn *)a)->ino, y = ((const struct tlsheld_conn *)b)->ino;

	return x < y ? -1 : x > y;
}

/* The connections of this sweep (cur, n of them, sorted here) take the place of the last
 * sweep's (both sorted by inode): one seen before keeps when it was first seen. */
static void
conns_merge(struct tlsheld *h, struct tlsheld_conn *cur, size_t n)
{
	size_t k = 0;

	if (n > 1)
		qsort(cur, n, sizeof(*cur), conn_cmp);
	for (size_t i = 0; i < n; i++) {
		while (k < h->nconns && h->conns[k].ino < cur[i].ino)
			k++;
		if (k < h->nconns && h->conns[k].ino == cur[i].ino) {
			cur[i].since = h->conns[k].since;
			cur[i].shut = h->conns[k].shut;
		}
	}
	free(h->conns);
	h->conns = cur;
	h->nconns = n;
}

int
tlsheld_sweep(struct tlsheld *h, uint16_t port, const char *url, uint64_t now)
{
	struct tlsheld_conn *cur = NULL;
	size_t ncur = 0, capcur = 0;
	struct dirent *de;
	DIR *d;
	int n = 0;

	if (now < h->sweep_at)
		return 0;
	h->sweep_at = now + TLSHELD_SWEEP_MS;
	if ((d = opendir("/proc/self/fd")) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		char *end;
		long fd = strtol(de->d_name, &end, 10);
		ino_t ino;
		if (*end != '\0' || end == de->d_name || fd == dirfd(d) ||
		    (ino = held_inode(h, (int)fd, htons(port))) == 0)
			continue;
		if (grow((void **)&cur, &capcur, ncur, sizeof(*cur)) != 0) {
			closedir(d);
			free(cur);
			return 0; /* out of memory: the next sweep tries again */
		}
		cur[ncur++] = (struct tlsheld_conn){.ino = ino, .since = now, .fd = (int)fd};
	}
	closedir(d);
	conns_merge(h, cur, ncur);
	for (size_t i = 0; i < h->nconns; i++) {
		struct tlsheld_conn *c = &h->conns[i];
		struct stat st;
		if (!c->shut && now - c->since >= TLSHELD_LIMIT_MS && fstat(c->fd, &st) == 0 &&
		    st.st_ino == c->ino && shutdown(c->fd, SHUT_RDWR) == 0) {
			c->shut = true;
			n++;
		}
	}
	if (n > 0)
		log_warn("broker: %s: shut down %d connection(s) that had not finished the TLS "
		         "handshake within %d ms",
		         url, n, TLSHELD_LIMIT_MS);
	return n;
}

void
tlsheld_close(struct tlsheld *h)
{
	if (h == NULL)
		return;
	pthread_mutex_destroy(&h->mu);
	free(h->pipes);
	free(h->conns);
	free(h);
}
