/* failover-bench.c — madang-bench-failover: how long a broker failover stops chat (issue 20).
 *
 * Starts two madang-broker processes on one PostgreSQL store (--store) and one cluster, on the
 * same private ipc paths: one takes the cluster's lock and listens, the other stands by. A
 * client (a front-end "fo" with one member) sends a message every --interval-ms with a fresh
 * client_id and resends it, with the same client_id, until it is acknowledged. Each round
 * kill -9's the active broker, measures the time from the kill to the first message
 * acknowledged after it, and restarts the killed broker (which comes back as a standby), so the
 * next round kills the other one. Prints one JSON line: the rounds, failover p50/max/min in ms,
 * messages acknowledged, resends acknowledged as duplicates, and whether every acknowledged
 * client_id is in the room's history exactly once at the end.
 *
 * The PostgreSQL server is the caller's (scripts/pg-scratch.sh makes a throw-away one). */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <nng/nng.h>

#include "clock.h"
#include "opt.h"
#include "rpc.h"
#include "stopguard.h"
#include "wire.h"

#define PROG        "madang-bench-failover"
#define ROUNDS_MAX  1000
#define CALL_MS     250  /* one request's time limit: a dead broker's requests fail this fast */
#define ROUND_LIMIT 30000 /* a round with no acknowledgement for this long has failed */

static struct {
	const char *store, *broker, *dir, *cluster;
	int rounds, interval_ms;
	char rpc[300], events[300];
	pid_t pid[2];
	nng_socket req;
	long next_id;
	long acked, dup_acked;
	char **acked_ids;
	size_t nacked_ids, cap_ids;
} F = {.rounds = 20, .interval_ms = 5};

static void
usage(FILE *to)
{
	fprintf(to,
	        "usage: " PROG " --store CONNINFO [--rounds N] [--interval-ms N] [--broker PATH]\n"
	        "       [--dir DIR] [--cluster NAME]\n"
	        "  --store CONNINFO   the PostgreSQL store both brokers share (required)\n"
	        "  --rounds N         failovers to measure (default 20, 1-%d)\n"
	        "  --interval-ms N    pause between two messages (default 5, 0-1000)\n"
	        "  --broker PATH      madang-broker (default: beside this program)\n"
	        "  --dir DIR          where the ipc sockets and broker logs go (default: a new\n"
	        "                     directory under /tmp, removed at the end)\n"
	        "  --cluster NAME     the brokers' --cluster (default: bench-failover-PID)\n",
	        ROUNDS_MAX);
}

/* Starts broker i (0 or 1) with its log in DIR/broker-i.log. */
static int
start_broker(int i)
{
	char log[320];
	pid_t p;

	snprintf(log, sizeof(log), "%s/broker-%d.log", F.dir, i);
	if ((p = fork()) < 0)
		return -1;
	if (p == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execl(F.broker, F.broker, "--rpc", F.rpc, "--events", F.events, "--store", F.store,
		      "--cluster", F.cluster, (char *)NULL);
		_exit(127);
	}
	F.pid[i] = p;
	return 0;
}

static void
kill_broker(int i, int sig)
{
	int st;

	if (F.pid[i] <= 0)
		return;
	kill(F.pid[i], sig);
	waitpid(F.pid[i], &st, 0);
	F.pid[i] = 0;
}

/* One request; the reply (NULL on timeout or no connection). */
static cJSON *
call(const char *json)
{
	cJSON *r = NULL;

	if (rpc_call_raw(F.req, json, strlen(json), &r, CALL_MS) != 0)
		return NULL;
	return r;
}

/* Registers the front-end and joins its member, after a start or a failover (the new active
 * broker knows the rooms, not the front-ends). True when both succeeded. */
static bool
register_member(void)
{
	char inst[40];
	cJSON *r;
	bool ok;

	snprintf(inst, sizeof(inst), "i-%ld", F.next_id);
	char hello[128];
	snprintf(hello, sizeof(hello), "{\"op\":\"hello\",\"frontend\":\"fo\",\"instance\":\"%s\"}",
	         inst);
	if ((r = call(hello)) == NULL)
		return false;
	ok = cJSON_IsTrue(cJSON_GetObjectItem(r, "ok"));
	cJSON_Delete(r);
	if (!ok)
		return false;
	r = call("{\"op\":\"join\",\"frontend\":\"fo\",\"session\":\"s1\",\"room_id\":\"room1\","
	         "\"user\":\"failover\"}");
	if (r == NULL)
		return false;
	ok = cJSON_IsTrue(cJSON_GetObjectItem(r, "ok"));
	cJSON_Delete(r);
	return ok;
}

static void
remember(const char *cid)
{
	if (F.nacked_ids == F.cap_ids) {
		size_t cap = F.cap_ids ? F.cap_ids * 2 : 1024;
		char **v = realloc(F.acked_ids, cap * sizeof(*v));
		if (v == NULL)
			return;
		F.acked_ids = v;
		F.cap_ids = cap;
	}
	F.acked_ids[F.nacked_ids++] = strdup(cid);
}

/* Sends message id until it is acknowledged (or until deadline_ms, monotonic): 1 when
 * acknowledged, 0 when the deadline passed. Registers again whenever the broker does not know
 * the front-end or the member. */
static int
send_until_acked(long id, uint64_t deadline_ms)
{
	char cid[32], json[256];

	snprintf(cid, sizeof(cid), "fo-%ld", id);
	snprintf(json, sizeof(json),
	         "{\"op\":\"send\",\"frontend\":\"fo\",\"session\":\"s1\",\"room_id\":\"room1\","
	         "\"text\":\"m%ld\",\"client_id\":\"%s\"}",
	         id, cid);
	while (clock_mono_ms() < deadline_ms) {
		cJSON *r = call(json);
		if (r == NULL)
			continue; /* timed out or not connected: the same client_id again */
		if (cJSON_IsTrue(cJSON_GetObjectItem(r, "ok"))) {
			if (cJSON_IsTrue(cJSON_GetObjectItem(r, "duplicate")))
				F.dup_acked++;
			else
				remember(cid);
			F.acked++;
			cJSON_Delete(r);
			return 1;
		}
		cJSON_Delete(r);
		register_member(); /* unknown_frontend, not_member: a new active broker */
	}
	return 0;
}

static int
cmp_ll(const void *a, const void *b)
{
	long long x = *(const long long *)a, y = *(const long long *)b;
	return x < y ? -1 : x > y;
}

/* Reads room1's history from the start and counts, for the acknowledged client_ids, how many
 * are missing and how many appear more than once. */
static void
check_history(long *missing, long *doubled)
{
	size_t n = F.nacked_ids;
	unsigned char *seen = calloc(n ? n : 1, 1);
	long long after = 0;

	*missing = *doubled = 0;
	for (;;) {
		char json[160];
		snprintf(json, sizeof(json),
		         "{\"op\":\"history\",\"room_id\":\"room1\",\"after_seq\":%lld,\"limit\":200}",
		         after);
		cJSON *r = NULL;
		if (rpc_call_raw(F.req, json, strlen(json), &r, 5000) != 0 || r == NULL)
			break;
		cJSON *evs = cJSON_GetObjectItem(r, "events"), *e;
		int count = 0;
		cJSON_ArrayForEach(e, evs)
		{
			count++;
			const cJSON *seq = cJSON_GetObjectItem(e, "seq");
			if (cJSON_IsNumber(seq) && seq->valuedouble > (double)after)
				after = (long long)seq->valuedouble;
			const char *cid = cJSON_GetStringValue(cJSON_GetObjectItem(e, "client_id"));
			if (cid == NULL || strncmp(cid, "fo-", 3) != 0)
				continue;
			for (size_t i = 0; i < n; i++) {
				if (F.acked_ids[i] && strcmp(F.acked_ids[i], cid) == 0) {
					if (seen[i]++)
						(*doubled)++;
					break;
				}
			}
		}
		bool complete = cJSON_IsTrue(cJSON_GetObjectItem(r, "complete"));
		cJSON_Delete(r);
		if (count == 0 || !complete)
			break;
	}
	for (size_t i = 0; i < n; i++)
		if (!seen[i])
			(*missing)++;
	free(seen);
}

static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

int
main(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"store", required_argument, NULL, 's'}, {"rounds", required_argument, NULL, 'r'},
	    {"interval-ms", required_argument, NULL, 'i'}, {"broker", required_argument, NULL, 'b'},
	    {"dir", required_argument, NULL, 'd'}, {"cluster", required_argument, NULL, 'c'},
	    {"help", no_argument, NULL, 'h'}, {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0}};
	char bin[512], dirbuf[64], cluster[64];
	bool own_dir = false;
	long long num;
	int c;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's': F.store = optarg; break;
		case 'r':
			if (opt_number_cli(PROG, "--rounds", optarg, 1, ROUNDS_MAX, &num) != 0)
				return 2;
			F.rounds = (int)num;
			break;
		case 'i':
			if (opt_number_cli(PROG, "--interval-ms", optarg, 0, 1000, &num) != 0)
				return 2;
			F.interval_ms = (int)num;
			break;
		case 'b': F.broker = optarg; break;
		case 'd': F.dir = optarg; break;
		case 'c': F.cluster = optarg; break;
		case 'h': usage(stdout); return 0;
		case 'V': opt_print_version(stdout, PROG); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (F.store == NULL || optind < argc) {
		usage(stderr);
		return 2;
	}
	if (F.broker == NULL) {
		ssize_t n = readlink("/proc/self/exe", bin, sizeof(bin) - 32);
		if (n <= 0) {
			fprintf(stderr, PROG ": cannot find madang-broker: give --broker\n");
			return 2;
		}
		bin[n] = '\0';
		char *slash = strrchr(bin, '/');
		strcpy(slash ? slash + 1 : bin, "madang-broker");
		F.broker = bin;
	}
	if (F.dir == NULL) {
		snprintf(dirbuf, sizeof(dirbuf), "/tmp/madang-failover.XXXXXX");
		if (mkdtemp(dirbuf) == NULL) {
			perror(PROG ": mkdtemp");
			return 1;
		}
		F.dir = dirbuf;
		own_dir = true;
	}
	if (F.cluster == NULL) {
		snprintf(cluster, sizeof(cluster), "bench-failover-%ld", (long)getpid());
		F.cluster = cluster;
	}
	snprintf(F.rpc, sizeof(F.rpc), "ipc://%s/rpc", F.dir);
	snprintf(F.events, sizeof(F.events), "ipc://%s/events", F.dir);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);

	int rv = 1;
	long long ms[ROUNDS_MAX];
	int done = 0, active = 0;
	if (start_broker(0) != 0 || rpc_open(&F.req, F.rpc) != 0) {
		fprintf(stderr, PROG ": cannot start\n");
		goto out;
	}
	uint64_t until = clock_mono_ms() + 15000;
	while (!register_member() && clock_mono_ms() < until && !interrupted)
		;
	if (clock_mono_ms() >= until || start_broker(1) != 0) {
		fprintf(stderr, PROG ": the first broker did not serve (see %s/broker-0.log)\n", F.dir);
		own_dir = false; /* kept for that log */
		goto out;
	}
	for (int round = 0; round < F.rounds && !interrupted; round++) {
		/* Steady traffic first, with the standby up for a moment (it must hold no lock). */
		uint64_t settle = clock_mono_ms() + 1000;
		while (clock_mono_ms() < settle && !interrupted) {
			if (!send_until_acked(F.next_id++, clock_mono_ms() + ROUND_LIMIT))
				goto timeout;
			if (F.interval_ms > 0)
				usleep((useconds_t)F.interval_ms * 1000);
		}
		uint64_t t_kill = clock_mono_ms();
		kill_broker(active, SIGKILL);
		if (!send_until_acked(F.next_id++, t_kill + ROUND_LIMIT))
			goto timeout;
		ms[done++] = (long long)(clock_mono_ms() - t_kill);
		fprintf(stderr, PROG ": round %d: %lld ms\n", round + 1, ms[done - 1]);
		if (start_broker(active) != 0)
			goto out;
		active = 1 - active;
	}
	long missing, doubled;
	check_history(&missing, &doubled);
	qsort(ms, (size_t)done, sizeof(ms[0]), cmp_ll);
	printf("{\"tool\":\"" PROG "\",\"rounds\":%d,\"failover_ms\":{\"min\":%lld,\"p50\":%lld,"
	       "\"max\":%lld},\"acknowledged\":%ld,\"resends_acknowledged_as_duplicates\":%ld,"
	       "\"history_missing\":%ld,\"history_doubled\":%ld,\"interval_ms\":%d}\n",
	       done, done ? ms[0] : -1, done ? ms[(done - 1) / 2] : -1, done ? ms[done - 1] : -1,
	       F.acked, F.dup_acked, missing, doubled, F.interval_ms);
	rv = missing == 0 && doubled == 0 ? 0 : 1;
	if (rv != 0) {
		fprintf(stderr,
		        PROG ": %ld acknowledged messages missing from the history, %ld doubled "
		             "(logs in %s)\n",
		        missing, doubled, F.dir);
		own_dir = false;
	}
	goto out;
timeout:
	fprintf(stderr, PROG ": nothing acknowledged for %d ms (logs in %s)\n", ROUND_LIMIT, F.dir);
	own_dir = false;
out:
	kill_broker(0, SIGTERM);
	kill_broker(1, SIGTERM);
	for (size_t i = 0; i < F.nacked_ids; i++)
		free(F.acked_ids[i]);
	free(F.acked_ids);
	if (own_dir) {
		char cmd[128];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", F.dir);
		if (system(cmd) != 0)
			fprintf(stderr, PROG ": could not remove %s\n", F.dir);
	}
	/* Last, and bounded: nng 1.5.2 can deadlock in nng_close (common/stopguard.h). The result
	 * line is out before it, and the brokers are gone. */
	fflush(stdout);
	stopguard_cleanup(STOPGUARD_CLEANUP_S, PROG, "nng_close", rv);
	nng_close(F.req);
	return rv;
}
