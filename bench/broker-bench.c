/* broker-bench.c — madang-bench-broker: chat messages per second through madang-broker alone.
 *
 * Starts the broker on private ipc paths (or uses --rpc/--events of a running one), registers a
 * front-end, joins one member per room, then keeps --inflight send requests in flight (one nng
 * context each; a reply immediately triggers the next send) for --duration seconds, while a
 * subscriber counts the published events. Prints one JSON line: sent, acknowledged, errors,
 * messages/s, events received (and so lost on the way), and request latency percentiles. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/sub.h>
#include <nng/protocol/reqrep0/req.h>

#include "clock.h"
#include "opt.h"
#include "rpc.h"
#include "tls.h"
#include "wire.h"

#define PROG        "madang-bench-broker"
#define LAT_BUCKETS 4096 /* 10 µs buckets up to ~41 ms, the last one catches the rest */

struct flight {
	nng_ctx ctx;
	nng_aio *aio;
	int room;
	uint64_t sent_ns;
	bool sending;
};

static struct {
	nng_socket req;
	struct flight *fl;
	int inflight, rooms, batch;
	atomic_bool stop;
	atomic_uint_fast64_t sent, acked, errors;
	pthread_mutex_t mu;
	uint64_t lat[LAT_BUCKETS];
	uint64_t lat_max_ns;
} B = {.mu = PTHREAD_MUTEX_INITIALIZER};

static void
start_send(struct flight *f)
{
	char one[256];
	nng_msg *m;

	if (nng_msg_alloc(&m, 0) != 0) {
		atomic_fetch_add(&B.errors, 1);
		return;
	}
	if (B.batch > 1)
		nng_msg_append(m, "{\"op\":\"batch\",\"requests\":[", 26);
	for (int i = 0; i < B.batch; i++) {
		uint64_t n = atomic_fetch_add(&B.sent, 1);
		int len = snprintf(one, sizeof(one),
				   "%s{\"op\":\"send\",\"frontend\":\"bench\",\"session\":\"s%d\","
				   "\"room_id\":\"bench%d\",\"text\":\"message number %" PRIu64 "\"}",
				   i ? "," : "", f->room, f->room, n);
		nng_msg_append(m, one, (size_t)len);
	}
	if (B.batch > 1)
		nng_msg_append(m, "]}", 2);
	f->sending = true;
	f->sent_ns = clock_mono_ns();
	nng_aio_set_msg(f->aio, m);
	nng_ctx_send(f->ctx, f->aio);
}

static void
flight_cb(void *arg)
{
	struct flight *f = arg;
	int rv = nng_aio_result(f->aio);

	if (f->sending) {
		f->sending = false;
		if (rv != 0) {
			nng_msg_free(nng_aio_get_msg(f->aio));
			atomic_fetch_add(&B.errors, 1);
			return;
		}
		nng_ctx_recv(f->ctx, f->aio);
		return;
	}
	if (rv != 0) {
		atomic_fetch_add(&B.errors, 1);
		return;
	}
	nng_msg *m = nng_aio_get_msg(f->aio);
	uint64_t lat = clock_mono_ns() - f->sent_ns;
	if (nng_msg_len(m) > 10 && memcmp(nng_msg_body(m), "{\"ok\":true", 10) == 0) {
		/* Count the acknowledged sends: one "seq" per reply. */
		size_t n = 0;
		const char *p = nng_msg_body(m), *end = p + nng_msg_len(m);
		while ((p = memmem(p, (size_t)(end - p), "\"duplicate\":false", 17)) != NULL) {
			n++;
			p += 17;
		}
		atomic_fetch_add(&B.acked, n);
		if ((int)n != B.batch)
			atomic_fetch_add(&B.errors, (uint64_t)(B.batch - (int)n));
	} else {
		atomic_fetch_add(&B.errors, 1);
	}
	nng_msg_free(m);
	size_t bucket = lat / 10000;
	pthread_mutex_lock(&B.mu);
	B.lat[bucket < LAT_BUCKETS ? bucket : LAT_BUCKETS - 1]++;
	if (lat > B.lat_max_ns)
		B.lat_max_ns = lat;
	pthread_mutex_unlock(&B.mu);
	if (!atomic_load(&B.stop))
		start_send(f);
}

static double
percentile(double p)
{
	uint64_t total = 0, seen = 0;

	for (int i = 0; i < LAT_BUCKETS; i++)
		total += B.lat[i];
	if (total == 0)
		return 0;
	uint64_t want = (uint64_t)(p * (double)total);
	for (int i = 0; i < LAT_BUCKETS; i++) {
		seen += B.lat[i];
		if (seen > want)
			return (i + 1) * 0.01; /* upper edge of the bucket, ms */
	}
	return B.lat_max_ns / 1e6;
}

struct counter {
	nng_socket sub;
	atomic_uint_fast64_t events;
	atomic_bool stop;
};

static void *
count_events(void *arg)
{
	struct counter *c = arg;

	while (!atomic_load(&c->stop)) {
		nng_msg *m;
		if (nng_recvmsg(c->sub, &m, 0) == 0) {
			/* "topic\njson\njson…": one event per line after the topic. */
			const char *p = nng_msg_body(m);
			uint64_t n = 0;
			for (size_t i = 0; i < nng_msg_len(m); i++)
				n += p[i] == '\n';
			atomic_fetch_add(&c->events, n);
			nng_msg_free(m);
		}
	}
	return NULL;
}

static int
call_ok(const char *json)
{
	cJSON *r = NULL;
	int rv = rpc_call_raw(B.req, json, strlen(json), &r, 5000);
	bool ok = rv == 0 && cJSON_IsTrue(cJSON_GetObjectItem(r, "ok"));
	if (!ok)
		fprintf(stderr, "bench: %s failed: %s\n", json, rv ? nng_strerror(rv) : "error reply");
	cJSON_Delete(r);
	return ok ? 0 : -1;
}

/* The events subscriber's dialer of url, with tls's configuration for tls+tcp://; the first
 * connection is waited for. Returns 0 or an nng error with the reason in err. */
static int
dial_events(nng_socket sub, const char *url, const struct tls_opts *tls, char *err, size_t errsz)
{
	nng_dialer d;
	int rv;

	if ((rv = nng_dialer_create(&d, sub, url)) != 0) {
		snprintf(err, errsz, "%s: %s", url, nng_strerror(rv));
		return rv;
	}
	if (tls_url_is_tls(url) && (rv = tls_dialer_config(d, url, tls, err, errsz)) != 0)
		return rv;
	if ((rv = nng_dialer_start(d, 0)) != 0)
		snprintf(err, errsz, "%s: %s", url, nng_strerror(rv));
	return rv;
}

/* The "transport" of the result line: the URL's scheme. */
static const char *
transport(const char *url)
{
	if (tls_url_is_tls(url))
		return "tls+tcp";
	if (strncmp(url, "tcp", 3) == 0)
		return "tcp";
	if (strncmp(url, "inproc://", 9) == 0)
		return "inproc";
	return "ipc";
}

int
main(int argc, char **argv)
{
	const char *rpc = NULL, *events = NULL, *broker_bin = "build/bin/madang-broker";
	double duration = 5;
	char dir[] = "/tmp/madang-bench.XXXXXX", rpcbuf[96], evbuf[96];
	pid_t child = 0;
	const char *extra[17] = {NULL};
	int c, nextra = 0;
	long long v;
	struct tls_opts tls = {NULL, NULL, NULL};
	char err[512];

	/* Defaults model a busy madang-ws: 16 batches in flight, 32 messages per batch. */
	B.inflight = 16;
	B.rooms = 10;
	B.batch = 32;
	static const struct option opts[] = {
		{"rpc", required_argument, NULL, 'r'},      {"events", required_argument, NULL, 'e'},
		{"broker", required_argument, NULL, 'b'},   {"duration", required_argument, NULL, 'd'},
		{"inflight", required_argument, NULL, 'i'}, {"rooms", required_argument, NULL, 'n'},
		{"batch", required_argument, NULL, 'B'},
		{"broker-arg", required_argument, NULL, 'a'},
		TLS_LONG_OPTIONS_DIALER,
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r': rpc = optarg; break;
		case 'e': events = optarg; break;
		case 'b': broker_bin = optarg; break;
		case 'd':
			if (opt_decimal_cli(PROG, "--duration", optarg, 0.1, 600, &duration) != 0)
				return 2;
			break;
		case 'i':
			if (opt_number_cli(PROG, "--inflight", optarg, 1, 4096, &v) != 0)
				return 2;
			B.inflight = (int)v;
			break;
		case 'n':
			if (opt_number_cli(PROG, "--rooms", optarg, 1, 1000, &v) != 0)
				return 2;
			B.rooms = (int)v;
			break;
		case 'B':
			if (opt_number_cli(PROG, "--batch", optarg, 1, 1024, &v) != 0)
				return 2;
			B.batch = (int)v;
			break;
		case 'V': opt_print_version(stdout, PROG); return 0;
		case TLS_OPT_CA:
		case TLS_OPT_CERT:
		case TLS_OPT_SERVER_NAME: tls_opt_set(&tls, c, optarg); break;
		case 'a':
			if (nextra < 16)
				extra[nextra++] = optarg;
			break;
		default:
			fprintf(stderr, "usage: madang-bench-broker [--duration S] [--inflight N] "
					"[--rooms N] [--batch N] [--broker PATH [--broker-arg ARG]... | "
					"--rpc URL --events URL [--tls-ca FILE --tls-cert FILE "
					"[--tls-server-name NAME]]]\n");
			return 2;
		}
	}
	if (duration <= 0 || duration > 600 || B.inflight < 1 || B.inflight > 4096 || B.rooms < 1 ||
	    B.rooms > 1000 || B.batch < 1 || B.batch > 1024) {
		fprintf(stderr, "bench: --duration 0..600, --inflight 1..4096, --rooms 1..1000, --batch 1..1024\n");
		return 2;
	}
	if (rpc == NULL) {
		if (mkdtemp(dir) == NULL)
			return 1;
		snprintf(rpcbuf, sizeof(rpcbuf), "ipc://%s/rpc", dir);
		snprintf(evbuf, sizeof(evbuf), "ipc://%s/events", dir);
		rpc = rpcbuf;
		events = evbuf;
		if ((child = fork()) == 0) {
			int fd = open("/dev/null", O_WRONLY);
			dup2(fd, 2);
			/* Every bench room is created by a join from one "address". */
			const char *args[40] = {broker_bin, "--rpc", rpc, "--events", events,
						"--allow-create", "--max-rooms", "2000",
						"--ephemeral-per-addr", "2000"};
			for (int i = 0; i < nextra; i++)
				args[10 + i] = extra[i];
			execv(broker_bin, (char *const *)args);
			_exit(127);
		}
	}
	if (tls_check(&tls, (const char *const[]){rpc, events}, 2, true, "bench", err,
		      sizeof(err)) != 0) {
		fprintf(stderr, "bench: %s\n", err);
		goto fail;
	}
	if (rpc_open_urls(&B.req, &rpc, 1, &tls, "bench", err, sizeof(err)) != 0) {
		fprintf(stderr, "bench: %s\n", err);
		goto fail;
	}
	/* Ready when it answers health (5 s at most); a broker of ours that exits at start (a bad
	 * --broker-arg, a store it refuses) ends the wait at once instead of hanging. */
	for (int i = 0; i < 50; i++) {
		int st;
		cJSON *r = NULL;
		if (child > 0 && waitpid(child, &st, WNOHANG) == child) {
			child = 0;
			fprintf(stderr, "bench: the broker exited at start (%s %d): run it with the same "
			                "--broker-arg options to see why\n",
			        WIFEXITED(st) ? "exit status" : "signal",
			        WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
			goto fail;
		}
		int rv = rpc_call_raw(B.req, "{\"op\":\"health\"}", 15, &r, 100);
		cJSON_Delete(r);
		if (rv == 0)
			break;
		usleep(50000);
	}
	if (call_ok("{\"op\":\"hello\",\"frontend\":\"bench\",\"instance\":\"bench\"}") != 0)
		goto fail;
	for (int i = 0; i < B.rooms; i++) {
		char j[256];
		snprintf(j, sizeof(j),
			 "{\"op\":\"join\",\"frontend\":\"bench\",\"session\":\"s%d\",\"room_id\":"
			 "\"bench%d\",\"user\":\"u%d\",\"history\":0}",
			 i, i, i);
		if (call_ok(j) != 0)
			goto fail;
	}

	struct counter cnt = {0};
	pthread_t ct;
	nng_sub0_open(&cnt.sub);
	nng_socket_set_int(cnt.sub, NNG_OPT_RECVBUF, 8192);
	nng_socket_set(cnt.sub, NNG_OPT_SUB_SUBSCRIBE, "r/", 2);
	nng_socket_set_ms(cnt.sub, NNG_OPT_RECVTIMEO, 100);
	if (dial_events(cnt.sub, events, &tls, err, sizeof(err)) != 0) {
		fprintf(stderr, "bench: events: %s\n", err);
		goto fail;
	}
	usleep(100000);
	pthread_create(&ct, NULL, count_events, &cnt);

	/* A keep-alive thread is not needed: the bench front-end sends far more than heartbeats. */
	B.fl = calloc((size_t)B.inflight, sizeof(*B.fl));
	for (int i = 0; i < B.inflight; i++) {
		nng_ctx_open(&B.fl[i].ctx, B.req);
		nng_aio_alloc(&B.fl[i].aio, flight_cb, &B.fl[i]);
		nng_aio_set_timeout(B.fl[i].aio, 5000);
		B.fl[i].room = i % B.rooms;
	}
	uint64_t t0 = clock_mono_ns();
	for (int i = 0; i < B.inflight; i++)
		start_send(&B.fl[i]);
	struct timespec ts = {(time_t)duration, (long)((duration - (time_t)duration) * 1e9)};
	nanosleep(&ts, NULL);
	atomic_store(&B.stop, true);
	for (int i = 0; i < B.inflight; i++)
		nng_aio_wait(B.fl[i].aio);
	double secs = (double)(clock_mono_ns() - t0) / 1e9;
	usleep(300000); /* let the last events arrive */
	atomic_store(&cnt.stop, true);
	pthread_join(ct, NULL);

	uint64_t acked = atomic_load(&B.acked);
	printf("{\"scenario\":\"broker\",\"transport\":\"%s\",\"inflight\":%d,\"batch\":%d,\"rooms\":%d,"
	       "\"seconds\":%.2f,\"sent\":%" PRIu64 ",\"acked\":%" PRIu64 ",\"errors\":%" PRIu64
	       ",\"messages_per_s\":%.0f,\"events_received\":%" PRIu64 ",\"events_lost\":%" PRId64
	       ",\"latency_ms\":{\"p50\":%.2f,\"p90\":%.2f,\"p99\":%.2f,\"p999\":%.2f,\"max\":%.2f}}\n",
	       transport(rpc), B.inflight, B.batch, B.rooms, secs, atomic_load(&B.sent), acked, atomic_load(&B.errors),
	       (double)acked / secs, atomic_load(&cnt.events),
	       (int64_t)acked - (int64_t)atomic_load(&cnt.events), percentile(0.50),
	       percentile(0.90), percentile(0.99), percentile(0.999), B.lat_max_ns / 1e6);
	for (int i = 0; i < B.inflight; i++)
		nng_aio_free(B.fl[i].aio);
	nng_close(B.req);
	nng_close(cnt.sub);
	if (child > 0) {
		kill(child, SIGTERM);
		waitpid(child, NULL, 0);
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		if (system(cmd) != 0)
			return 1;
	}
	return 0;
fail:
	if (child > 0) {
		kill(child, SIGKILL);
		waitpid(child, NULL, 0);
	}
	return 1;
}
