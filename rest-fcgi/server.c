/* server.c — worker threads gluing libfcgi and the broker client to the pure handler (api.c).
 *
 * Threads: each worker owns its FCGX_Request; they share the listening socket (polled, then
 * accepted without blocking), the broker socket (nng contexts make it thread-safe), the read-only
 * configuration and the atomic metrics. Shutdown never calls FCGX_ShutdownPending(): in libfcgi
 * 2.4.2 that flag makes every later read and write of in-flight requests fail with EINTR. A pipe
 * that becomes readable wakes the workers' poll() instead; a worker answering a request finishes it
 * first. */
#include "server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <fcgiapp.h>

#include "clock.h"
#include "log.h"
#include "rpc.h"

#define LOG_URI_MAX        200 /* bytes of a request URI in a log line */
#define ACCEPT_BACKOFF_MS  100 /* after an accept error such as EMFILE */
#define API_RETRY_PAUSE_MS 20  /* before resending a read whose broker went away */

/* True for the broker requests that only read: one whose reply was lost may be sent again. */
static bool
op_is_read(const cJSON *req)
{
	static const char *const reads[] = {"list_rooms", "get_room",  "history",    "health",
	                                    "stats",      "list_bans", "list_mutes", "audit"};
	const cJSON *op = cJSON_GetObjectItemCaseSensitive(req, "op");

	for (size_t i = 0; cJSON_IsString(op) && i < sizeof(reads) / sizeof(reads[0]); i++)
		if (strcmp(op->valuestring, reads[i]) == 0)
			return true;
	return false;
}

/* One broker request within s->broker_wait_ms in all (docs/api.md "Brokers"). The request waits
 * for a connected broker (none during a failover or a restart); each attempt then gets at most
 * s->timeout_ms for its reply. A read whose attempt timed out or whose broker went away is sent
 * again (to whichever broker is connected); a write is not (the broker may have done it). */
static enum api_call_result
call_broker(void *arg, const cJSON *req, cJSON **reply)
{
	struct api_server *s = arg;
	uint64_t deadline = clock_mono_ms() + (uint64_t)s->broker_wait_ms;
	bool retry = op_is_read(req), sent;
	char *text = cJSON_PrintUnformatted(req);
	size_t len;
	int rv;

	*reply = NULL;
	if (text == NULL)
		return API_CALL_UNAVAILABLE;
	len = strlen(text);
	for (;;) {
		rv = rpc_call_until(s->rpc, text, len, reply, deadline, s->timeout_ms, &sent);
		if (rv == 0 || rv == NNG_EPROTO || !sent || !retry || clock_mono_ms() >= deadline)
			break;
		if (rv == NNG_ECONNRESET) {
			struct timespec ts = {0, API_RETRY_PAUSE_MS * 1000000L};

			nanosleep(&ts, NULL); /* the broker went away: let nng notice the others */
		}
	}
	free(text);
	if (rv == 0) {
		if (atomic_exchange(&s->broker_down, false))
			log_info("api: broker answers again");
		return API_CALL_OK;
	}
	if (!atomic_exchange(&s->broker_down, true))
		log_warn("api: broker call failed: %s", nng_strerror(rv));
	return rv == NNG_EPROTO ? API_CALL_BAD_REPLY : API_CALL_UNAVAILABLE;
}

static long
read_body(void *arg, char *buf, size_t n)
{
	FCGX_Request *req = arg;
	int got;

	if (n > (size_t)1 << 30)
		n = (size_t)1 << 30;
	got = FCGX_GetStr(buf, (int)n, req->in);
	if (got <= 0 && FCGX_GetError(req->in) != 0)
		return -1;
	return got < 0 ? -1 : got;
}

/* Copies at most LOG_URI_MAX bytes of s with anything unprintable as '?', for log lines. */
static void
printable(const char *s, char *out, size_t outsz)
{
	size_t i = 0;

	for (; s != NULL && s[i] != '\0' && i + 1 < outsz; i++)
		out[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
	out[i] = '\0';
}

static void
set_io_timeouts(int fd)
{
	struct timeval tv = {.tv_sec = API_IO_TIMEOUT_S, .tv_usec = 0};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void
serve_one(struct api_server *s, FCGX_Request *req)
{
	uint64_t t0 = clock_mono_ns();
	struct api_response resp;
	struct api_input in;
	struct sbuf head;
	int bad = 0;

	atomic_fetch_add(&s->cfg.metrics->in_flight, 1);
	set_io_timeouts(req->ipcFd);
	memset(&in, 0, sizeof(in));
	in.method = FCGX_GetParam("REQUEST_METHOD", req->envp);
	in.uri = FCGX_GetParam("REQUEST_URI", req->envp);
	in.content_length = FCGX_GetParam("CONTENT_LENGTH", req->envp);
	in.content_type = FCGX_GetParam("CONTENT_TYPE", req->envp);
	in.authorization = FCGX_GetParam("HTTP_AUTHORIZATION", req->envp);
	in.read_body = read_body;
	in.read_arg = req;
	in.call = call_broker;
	in.call_arg = s;

	api_response_init(&resp);
	sbuf_init(&head);
	api_handle(&s->cfg, &in, &resp);
	api_response_head(&s->cfg, &resp, &head);
	if (head.oom || resp.body.oom) {
		/* nothing sensible can be said without memory but a bare 500 */
		static const char oom[] = "Status: 500 Internal Server Error\r\n\r\n";

		bad |= FCGX_PutStr(oom, (int)sizeof(oom) - 1, req->out) < 0;
		resp.status = 500;
	} else {
		bad |= FCGX_PutStr(head.data, (int)head.len, req->out) < 0;
		if (!resp.head && resp.body.len > 0)
			bad |= FCGX_PutStr(resp.body.data, (int)resp.body.len, req->out) < 0;
	}
	bad |= FCGX_FFlush(req->out) < 0;
	if (bad)
		atomic_fetch_add(&s->cfg.metrics->write_errors, 1);
	api_metrics_observe(s->cfg.metrics, resp.route, resp.status, clock_mono_ns() - t0);
	atomic_fetch_sub(&s->cfg.metrics->in_flight, 1);
	if (s->verbose) {
		char uri[LOG_URI_MAX + 1], method[24];
		const char *addr = FCGX_GetParam("REMOTE_ADDR", req->envp);

		printable(in.uri, uri, sizeof(uri));
		printable(in.method, method, sizeof(method));
		log_info("api: %s %s -> %d in %.1f ms from %s%s", method, uri, resp.status,
		         (double)(clock_mono_ns() - t0) / 1e6, addr != NULL ? addr : "?",
		         bad ? " (write failed)" : "");
	}
	sbuf_fini(&head);
	api_response_fini(&resp);
}

static void
sleep_ms(int ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static void *
worker(void *arg)
{
	struct api_server *s = arg;
	FCGX_Request req;
	int rc;

	if ((rc = FCGX_InitRequest(&req, s->listen_fd, 0)) != 0) {
		log_error("api: FCGX_InitRequest failed (%d)", rc);
		return NULL;
	}
	for (;;) {
		/* A connection the web server keeps open (FCGI_KEEP_CONN) carries its next request
		 * on the same descriptor. A worker serves it while requests come, but drops it when
		 * it is idle and new connections wait: otherwise idle kept connections would pin
		 * every worker and starve the listen queue. */
		struct pollfd pfd[3] = {
		    {.fd = s->wake[0], .events = POLLIN},
		    {.fd = s->listen_fd, .events = POLLIN},
		    {.fd = req.ipcFd, .events = POLLIN},
		};
		nfds_t n = req.ipcFd >= 0 ? 3 : 2;

		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_error("api: poll: %s", strerror(errno));
			break;
		}
		if (pfd[0].revents != 0)
			break; /* stopping */
		if (n == 3 && pfd[2].revents == 0) {
			if (pfd[1].revents == 0)
				continue;
			FCGX_Free(&req, 1); /* idle kept connection: make room for a new one */
		} else if (n == 2 && pfd[1].revents == 0) {
			continue;
		}
		if ((rc = FCGX_Accept_r(&req)) < 0) {
			/* Another worker took the connection, or the web server went away. */
			if (rc == -EAGAIN || rc == -EWOULDBLOCK || rc == -EINTR ||
			    rc == -ECONNABORTED)
				continue;
			log_warn("api: accept: %s", rc > -4096 ? strerror(-rc) : "libfcgi error");
			sleep_ms(ACCEPT_BACKOFF_MS);
			continue;
		}
		serve_one(s, &req);
		FCGX_Finish_r(&req);
	}
	FCGX_Free(&req, req.ipcFd >= 0);
	return NULL;
}

int
api_server_start(struct api_server *s)
{
	int rv;

	atomic_init(&s->broker_down, false);
	s->started = 0;
	if (pipe2(s->wake, O_CLOEXEC) != 0) {
		log_error("api: pipe: %s", strerror(errno));
		return -1;
	}
	if ((s->threads = calloc((size_t)s->nthreads, sizeof(*s->threads))) == NULL) {
		log_error("api: out of memory for %d threads", s->nthreads);
		goto fail;
	}
	for (int i = 0; i < s->nthreads; i++) {
		if ((rv = pthread_create(&s->threads[i], NULL, worker, s)) != 0) {
			log_warn("api: only %d of %d worker threads started: %s", i, s->nthreads,
			         strerror(rv));
			break;
		}
		s->started++;
	}
	if (s->started > 0)
		return 0;
	free(s->threads);
fail:
	close(s->wake[0]);
	close(s->wake[1]);
	return -1;
}

void
api_server_stop(struct api_server *s)
{
	/* Never read: stays readable, so every worker's poll() returns, now or after its request.
	 */
	if (write(s->wake[1], "x", 1) != 1)
		log_error("api: wake pipe: %s", strerror(errno));
	for (int i = 0; i < s->started; i++)
		pthread_join(s->threads[i], NULL);
	free(s->threads);
	s->threads = NULL;
	close(s->wake[0]);
	close(s->wake[1]);
}
