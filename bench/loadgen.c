/* loadgen.c — madang-loadgen: opens N WebSocket connections over R rooms (/ws/{room}/{user}), lets
 * S of them send on a fixed open-loop schedule, checks every delivery (lost, duplicated, out of
 * order, latency from the scheduled send time) and prints exactly one JSON line on stdout.
 * Diagnostics go to stderr. This file holds the options, the coordinator and the report; the
 * event loops are in lg_worker.c. Only 127.0.0.0/8 targets are accepted. */
#include "loadgen.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t interrupted;

int lg_selftest(void); /* lg_selftest.c */

uint64_t
lg_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint32_t
lg_room_senders(const struct lg_opts *o, uint32_t room)
{
	return room < o->senders ? (o->senders - room + o->rooms - 1) / o->rooms : 0;
}

static void
on_signal(int sig)
{
	(void)sig;
	interrupted = 1;
}

static void
usage(FILE *f)
{
	fprintf(f,
	        "usage: madang-loadgen --url ws://127.0.0.1:PORT[/ws] [options]\n"
	        "  --conns N            connections (default 100)\n"
	        "  --rooms R            rooms; connection i joins room i %% R (default 1)\n"
	        "  --senders S          connections 0..S-1 send (default 1)\n"
	        "  --rate M             messages/s offered by all senders together (default 100)\n"
	        "  --size B             chat text length in bytes (default 64)\n"
	        "  --duration S         measured sending time (default 5)\n"
	        "  --warmup S           sending before measuring latency (default 1)\n"
	        "  --drain S            wait for missing deliveries after sending (default 3)\n"
	        "  --connect-rate N     connections started per second, 0 = at once (default 0)\n"
	        "  --inflight N         connections being set up at once at most (default 1000)\n"
	        "  --handshake-timeout S  per connection, until \"joined\" (default 15)\n"
	        "  --source-addrs N     bind 127.0.0.1..127.0.0.N round robin (default 1)\n"
	        "  --room-prefix P      room ids are P<index> (default lg<random>r)\n"
	        "  --threads T          event-loop threads (default 1)\n"
	        "  --idle               connect and hold for --duration, send nothing\n"
	        "  --json               send {\"type\":\"message\",...} instead of raw text\n"
	        "  --ready-on-open      do not wait for the \"joined\" event\n"
	        "  --pids PID,PID       report these processes' RSS\n"
	        "  --label NAME         copied into the report\n"
	        "  --dump N             print the first N text frames received to stderr (debugging)\n"
	        "  --timeout S          hard stop (default: everything above + 30)\n"
	        "or:    madang-loadgen --self-test   (checks SHA-1, base64, framing, histogram)\n");
}

static int
parse_url(struct lg_opts *o, const char *url)
{
	const char *p = url, *colon, *slash;
	char host[64];
	long port;

	if (strncmp(p, "ws://", 5) == 0)
		p += 5;
	colon = strchr(p, ':');
	if (colon == NULL || (size_t)(colon - p) >= sizeof(host))
		return -1;
	memcpy(host, p, (size_t)(colon - p));
	host[colon - p] = '\0';
	port = strtol(colon + 1, (char **)&slash, 10);
	if (port <= 0 || port > 65535)
		return -1;
	if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	if (inet_pton(AF_INET, host, &o->server.sin_addr) != 1)
		return -1;
	if ((ntohl(o->server.sin_addr.s_addr) >> 24) != 127) {
		fprintf(stderr, "loadgen: only 127.0.0.0/8 targets are allowed\n");
		return -1;
	}
	o->server.sin_family = AF_INET;
	o->server.sin_port = htons((uint16_t)port);
	snprintf(o->host, sizeof(o->host), "%s:%ld", host, port);
	snprintf(o->base_path, sizeof(o->base_path), "%s", *slash == '/' ? slash : "/ws");
	if (strcmp(o->base_path, "/") == 0)
		o->base_path[0] = '\0';
	return 0;
}

static int
parse_pids(struct lg_opts *o, const char *s)
{
	char *end;

	while (*s) {
		long v = strtol(s, &end, 10);

		if (end == s || v <= 0 || o->npids == LG_MAX_PIDS)
			return -1;
		o->pids[o->npids++] = (int)v;
		s = *end == ',' ? end + 1 : end;
		if (*end && *end != ',')
			return -1;
	}
	return 0;
}

static int
parse_opts(struct lg_opts *o, int argc, char **argv)
{
	enum { O_URL = 256, O_CONNS, O_ROOMS, O_SENDERS, O_RATE, O_SIZE, O_DUR, O_WARM, O_DRAIN,
	       O_CRATE, O_INFL, O_HST, O_SRC, O_PREFIX, O_THREADS, O_IDLE, O_JSON, O_ROO, O_PIDS,
	       O_LABEL, O_TIMEOUT, O_DUMP, O_HELP };
	static const struct option longs[] = {
	    {"url", 1, 0, O_URL},           {"conns", 1, 0, O_CONNS},
	    {"rooms", 1, 0, O_ROOMS},       {"senders", 1, 0, O_SENDERS},
	    {"rate", 1, 0, O_RATE},         {"size", 1, 0, O_SIZE},
	    {"duration", 1, 0, O_DUR},      {"warmup", 1, 0, O_WARM},
	    {"drain", 1, 0, O_DRAIN},       {"connect-rate", 1, 0, O_CRATE},
	    {"inflight", 1, 0, O_INFL},     {"handshake-timeout", 1, 0, O_HST},
	    {"source-addrs", 1, 0, O_SRC},  {"room-prefix", 1, 0, O_PREFIX},
	    {"threads", 1, 0, O_THREADS},   {"idle", 0, 0, O_IDLE},
	    {"json", 0, 0, O_JSON},         {"ready-on-open", 0, 0, O_ROO},
	    {"pids", 1, 0, O_PIDS},         {"label", 1, 0, O_LABEL},
	    {"timeout", 1, 0, O_TIMEOUT},   {"help", 0, 0, O_HELP},
	    {"dump", 1, 0, O_DUMP},
	    {0, 0, 0, 0}};
	int opt, have_url = 0;

	memset(o, 0, sizeof(*o));
	o->conns = 100;
	o->rooms = 1;
	o->senders = 1;
	o->threads = 1;
	o->rate = 100;
	o->size = 64;
	o->duration = 5;
	o->warmup = 1;
	o->drain = 3;
	o->inflight = 1000;
	o->handshake_timeout = 15;
	o->source_addrs = 1;
	while ((opt = getopt_long(argc, argv, "", longs, NULL)) != -1) {
		switch (opt) {
		case O_URL:
			if (parse_url(o, optarg) != 0)
				return -1;
			have_url = 1;
			break;
		case O_CONNS: o->conns = (uint32_t)strtoul(optarg, NULL, 10); break;
		case O_ROOMS: o->rooms = (uint32_t)strtoul(optarg, NULL, 10); break;
		case O_SENDERS: o->senders = (uint32_t)strtoul(optarg, NULL, 10); break;
		case O_RATE: o->rate = atof(optarg); break;
		case O_SIZE: o->size = (uint32_t)strtoul(optarg, NULL, 10); break;
		case O_DUR: o->duration = atof(optarg); break;
		case O_WARM: o->warmup = atof(optarg); break;
		case O_DRAIN: o->drain = atof(optarg); break;
		case O_CRATE: o->connect_rate = atof(optarg); break;
		case O_INFL: o->inflight = (uint32_t)strtoul(optarg, NULL, 10); break;
		case O_HST: o->handshake_timeout = atof(optarg); break;
		case O_SRC: o->source_addrs = (uint32_t)strtoul(optarg, NULL, 10); break;
		case O_PREFIX: snprintf(o->room_prefix, sizeof(o->room_prefix), "%s", optarg); break;
		case O_THREADS: o->threads = (uint32_t)strtoul(optarg, NULL, 10); break;
		case O_IDLE: o->idle = 1; break;
		case O_JSON: o->json_messages = 1; break;
		case O_ROO: o->ready_on_open = 1; break;
		case O_PIDS:
			if (parse_pids(o, optarg) != 0)
				return -1;
			break;
		case O_LABEL: snprintf(o->label, sizeof(o->label), "%s", optarg); break;
		case O_TIMEOUT: o->timeout = atof(optarg); break;
		case O_DUMP: o->dump = atoi(optarg); break;
		case O_HELP: usage(stdout); exit(0);
		default: return -1;
		}
	}
	if (!have_url || optind != argc || o->conns == 0 || o->rooms == 0 || o->threads == 0 ||
	    o->threads > 64 || o->inflight == 0 || o->source_addrs == 0 ||
	    o->source_addrs > 65535 || o->duration < 0 || o->warmup < 0 || o->drain < 0)
		return -1;
	if (o->idle)
		o->senders = 0;
	if (o->senders > o->conns)
		o->senders = o->conns;
	if (o->senders > 0 && o->rate <= 0)
		return -1;
	if (o->timeout <= 0)
		o->timeout = o->handshake_timeout + (o->connect_rate > 0 ? o->conns / o->connect_rate : 0) +
		             o->warmup + o->duration + o->drain + 30;
	return 0;
}

/* VmRSS of pid in KiB, -1 when unreadable. */
static long
rss_kib(int pid)
{
	char path[64], line[256];
	long kib = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* System-wide TCP segments retransmitted (/proc/net/snmp) and packets dropped by the kernel's
 * per-CPU input backlog (/proc/net/softnet_stat, second column): on loopback a drop shows up as a
 * retransmission 200 ms or more later, which is what a latency tail of that size usually is. */
static void
net_counters(unsigned long long *retrans, unsigned long long *drops)
{
	char hdr[1024], val[1024];
	FILE *f;

	*retrans = *drops = 0;
	if ((f = fopen("/proc/net/snmp", "r")) != NULL) {
		while (fgets(hdr, sizeof(hdr), f) && fgets(val, sizeof(val), f)) {
			char *hs, *vs, *h = strtok_r(hdr, " \n", &hs), *v = strtok_r(val, " \n", &vs);

			if (h == NULL || strcmp(h, "Tcp:") != 0)
				continue;
			while ((h = strtok_r(NULL, " \n", &hs)) && (v = strtok_r(NULL, " \n", &vs)))
				if (strcmp(h, "RetransSegs") == 0)
					*retrans = strtoull(v, NULL, 10);
			break;
		}
		fclose(f);
	}
	if ((f = fopen("/proc/net/softnet_stat", "r")) != NULL) {
		unsigned int processed, dropped;

		while (fscanf(f, "%x %x%*[^\n]", &processed, &dropped) == 2)
			*drops += dropped;
		fclose(f);
	}
}

/* Microseconds during which some runnable task waited for a CPU (/proc/pressure/cpu): how much
 * the rest of the machine got in the way during the run. 0 when the kernel has no PSI. */
static unsigned long long
cpu_pressure_us(void)
{
	unsigned long long total = 0;
	FILE *f = fopen("/proc/pressure/cpu", "r");

	if (f != NULL) {
		if (fscanf(f, "some avg10=%*f avg60=%*f avg300=%*f total=%llu", &total) != 1)
			total = 0;
		fclose(f);
	}
	return total;
}

/* CPU time (user + system) of pid in seconds, -1 when unreadable. */
static double
cpu_s(int pid)
{
	char path[64], buf[1024], *p;
	unsigned long long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the command name, which may hold spaces: state is field 3, utime 14. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double
self_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void
raise_nofile(uint32_t conns)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)conns + 32)
		fprintf(stderr, "loadgen: warning: open-file limit %llu is below %u connections\n",
		        (unsigned long long)rl.rlim_cur, conns);
}

static int
setup(struct lg_run *run)
{
	const struct lg_opts *o = &run->o;
	uint64_t pairs = 0;

	run->sent = calloc(o->senders ? o->senders : 1, sizeof(*run->sent));
	run->room_measured = calloc(o->rooms, sizeof(*run->room_measured));
	run->workers = calloc(o->threads, sizeof(*run->workers));
	if (!run->sent || !run->room_measured || !run->workers)
		return -1;
	for (uint32_t r = 0; r < o->rooms && r < o->conns; r++)
		pairs += (uint64_t)lg_room_senders(o, r) * ((o->conns - r + o->rooms - 1) / o->rooms);
	if (pairs > 200000000ull) {
		fprintf(stderr, "loadgen: %llu receiver/sender pairs is too many to track\n",
		        (unsigned long long)pairs);
		return -1;
	}
	if (o->senders)
		run->period_ns = (uint64_t)((double)o->senders * 1e9 / o->rate);
	for (uint32_t t = 0; t < o->threads; t++) {
		struct lg_worker *w = &run->workers[t];

		w->run = run;
		w->idx = t;
		w->rng = run->run_id ^ ((uint64_t)(t + 1) * 0x9E3779B97F4A7C15ull);
		w->nconns = o->conns / o->threads + (t < o->conns % o->threads);
		w->conns = calloc(w->nconns ? w->nconns : 1, sizeof(*w->conns));
		w->senders = calloc(w->nconns ? w->nconns : 1, sizeof(*w->senders));
		w->send_offset = calloc(w->nconns ? w->nconns : 1, sizeof(*w->send_offset));
		if ((w->ep = epoll_create1(EPOLL_CLOEXEC)) < 0 || !w->conns || !w->senders ||
		    !w->send_offset)
			return -1;
		lg_hist_init(&w->latency);
		lg_hist_init(&w->connect);
		lg_hist_init(&w->send_lag);
		lg_hist_init(&w->ready);
		for (uint32_t i = 0; i < w->nconns; i++) {
			struct lg_conn *c = &w->conns[i];
			uint32_t room;

			c->fd = -1;
			c->id = i * o->threads + t;
			room = c->id % o->rooms;
			if (lg_room_senders(o, room) > 0 &&
			    (c->track = calloc(lg_room_senders(o, room), sizeof(*c->track))) == NULL)
				return -1;
			if (c->id < o->senders) {
				w->senders[w->nsenders] = i;
				w->send_offset[w->nsenders++] =
				    (uint64_t)((double)c->id * (double)run->period_ns / o->senders);
			}
		}
	}
	return 0;
}

/* Sleeps 5 ms; returns 1 when the run must stop now (hard timeout or signal). */
static int
tick(const struct lg_run *run, int *timed_out)
{
	struct timespec ts = {0, 5000000};

	nanosleep(&ts, NULL);
	if (lg_now() - run->t_begin > (uint64_t)(run->o.timeout * 1e9)) {
		*timed_out = 1;
		return 1;
	}
	return interrupted != 0;
}

static double
ms(uint64_t ns)
{
	return (double)ns / 1e6;
}

/* CPU use over the sending (or holding) window: [0] the load generator, [1..] the --pids. */
struct cpu_window {
	double t0, t1;
	unsigned long long retrans0, retrans1, drops0, drops1, psi0, psi1;
	double start[LG_MAX_PIDS + 2], end[LG_MAX_PIDS + 2]; /* [LG_MAX_PIDS + 1]: PSI total, us */
};

static void
cpu_sample(const struct lg_opts *o, double *t, double *v)
{
	*t = (double)lg_now() / 1e9;
	v[0] = self_cpu_s();
	v[LG_MAX_PIDS + 1] = (double)cpu_pressure_us();
	for (int i = 0; i < o->npids; i++)
		v[i + 1] = cpu_s(o->pids[i]);
}

static void
report(struct lg_run *run, int timed_out, long *rss_start, long *rss_end, uint64_t t_connected,
       const struct cpu_window *cw)
{
	const struct lg_opts *o = &run->o;
	struct lg_hist *lat = malloc(sizeof(*lat)), *con = malloc(sizeof(*con)), *lag = malloc(sizeof(*lag)),
		       *rdy = malloc(sizeof(*rdy));
	struct lg_counters s;
	uint64_t expected = 0, lost = 0, not_started = 0, ready = 0, t_last_ready = 0;
	long total = 0, total_start = 0;
	double connect_wall;
	char first_error[160] = "";

	if (!lat || !con || !lag || !rdy)
		return;
	memset(&s, 0, sizeof(s));
	lg_hist_init(lat);
	lg_hist_init(con);
	lg_hist_init(lag);
	lg_hist_init(rdy);
	for (uint32_t t = 0; t < o->threads; t++) {
		struct lg_worker *w = &run->workers[t];
		uint64_t *a = (uint64_t *)&s, *b = (uint64_t *)&w->c;

		for (size_t i = 0; i < sizeof(s) / sizeof(uint64_t); i++)
			a[i] += b[i];
		lg_hist_merge(lat, &w->latency);
		lg_hist_merge(con, &w->connect);
		lg_hist_merge(lag, &w->send_lag);
		lg_hist_merge(rdy, &w->ready);
		if (w->t_last_ready > t_last_ready)
			t_last_ready = w->t_last_ready;
		if (first_error[0] == '\0' && w->first_error[0])
			snprintf(first_error, sizeof(first_error), "%s", w->first_error);
		not_started += w->nconns - w->next_connect;
		for (uint32_t i = 0; i < w->nconns; i++) {
			struct lg_conn *c = &w->conns[i];
			uint32_t room = c->id % o->rooms, ns = lg_room_senders(o, room);

			if (!c->measured)
				continue;
			ready++;
			for (uint32_t k = 0; k < ns; k++) {
				uint32_t sent = (uint32_t)atomic_load(&run->sent[room + k * o->rooms]);

				expected += sent;
				lost += sent > c->track[k].unique ? sent - c->track[k].unique : 0;
			}
		}
	}
	connect_wall = t_connected > run->t_begin ? (double)(t_connected - run->t_begin) / 1e9 : 0;
	printf("{\"tool\":\"madang-loadgen\",\"label\":\"%s\",\"url\":\"ws://%s%s\",\"conns\":%u,"
	       "\"rooms\":%u,\"senders\":%u,\"rate_offered\":%.0f,\"size\":%u,\"duration_s\":%.3g,"
	       "\"warmup_s\":%.3g,\"threads\":%u,\"idle\":%s,",
	       o->label, o->host, o->base_path, o->conns, o->rooms, o->senders,
	       o->senders ? o->rate : 0.0, o->size, o->duration, o->warmup, o->threads,
	       o->idle ? "true" : "false");
	printf("\"connections_made\":%llu,\"connections_failed\":%llu,\"connections_not_started\":%llu,"
	       "\"connections_not_joined\":%llu,\"connections_ready\":%llu,\"closed_by_server\":%llu,\"connect_ms\":{\"p50\":%.3f,"
	       "\"p99\":%.3f,\"max\":%.3f},\"connect_wall_s\":%.3f,\"connects_per_s\":%.0f,",
	       (unsigned long long)s.made, (unsigned long long)s.failed,
	       (unsigned long long)not_started, (unsigned long long)s.not_joined,
	       (unsigned long long)ready,
	       (unsigned long long)s.closed_by_server, ms(lg_hist_quantile(con, 0.5)),
	       ms(lg_hist_quantile(con, 0.99)), ms(con->max), connect_wall,
	       connect_wall > 0 ? (double)s.made / connect_wall : 0.0);
	printf("\"messages_sent\":%llu,\"deliveries_expected\":%llu,\"deliveries_received\":%llu,"
	       "\"lost\":%llu,\"duplicated\":%llu,\"out_of_order\":%llu,\"deliveries_per_s\":%.0f,"
	       "\"latency_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"p99_9\":%.3f,\"max\":%.3f,"
	       "\"samples\":%llu},",
	       (unsigned long long)s.sent, (unsigned long long)expected,
	       (unsigned long long)s.unique, (unsigned long long)lost,
	       (unsigned long long)s.duplicated, (unsigned long long)s.out_of_order,
	       o->duration > 0 ? (double)s.in_window / o->duration : 0.0,
	       ms(lg_hist_quantile(lat, 0.5)), ms(lg_hist_quantile(lat, 0.9)),
	       ms(lg_hist_quantile(lat, 0.99)), ms(lg_hist_quantile(lat, 0.999)), ms(lat->max),
	       (unsigned long long)lat->count);
	printf("\"ready_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f},\"ready_per_s\":%.0f,",
	       ms(lg_hist_quantile(rdy, 0.5)), ms(lg_hist_quantile(rdy, 0.99)), ms(rdy->max),
	       t_last_ready > run->t_begin ? (double)rdy->count * 1e9 / (double)(t_last_ready - run->t_begin)
	                                   : 0.0);
	printf("\"send_lag_ms\":{\"p50\":%.3f,\"p99\":%.3f,\"max\":%.3f},", ms(lg_hist_quantile(lag, 0.5)),
	       ms(lg_hist_quantile(lag, 0.99)), ms(lag->max));
	{
		double span = cw->t1 - cw->t0;

		printf("\"cpu_pct\":{\"loadgen\":%.0f", span > 0 ? 100 * (cw->end[0] - cw->start[0]) / span : 0.0);
		for (int i = 0; i < o->npids; i++)
			printf(",\"%d\":%.0f", o->pids[i],
			       span > 0 && cw->start[i + 1] >= 0 && cw->end[i + 1] >= 0
			           ? 100 * (cw->end[i + 1] - cw->start[i + 1]) / span
			           : -1.0);
		printf("},\"cpu_pressure_pct\":%.0f,",
		       span > 0 ? (cw->end[LG_MAX_PIDS + 1] - cw->start[LG_MAX_PIDS + 1]) / 1e6 / span * 100 : 0.0);
	}
	printf("\"tcp_retrans_segs\":%llu,\"softnet_drops\":%llu,", cw->retrans1 - cw->retrans0,
	       cw->drops1 - cw->drops0);
	printf("\"rss_kib\":{");
	for (int i = 0; i < o->npids; i++) {
		printf("%s\"%d\":%ld", i ? "," : "", o->pids[i], rss_end[i]);
		total += rss_end[i] > 0 ? rss_end[i] : 0;
		total_start += rss_start[i] > 0 ? rss_start[i] : 0;
	}
	printf("},\"rss_kib_before\":{");
	for (int i = 0; i < o->npids; i++)
		printf("%s\"%d\":%ld", i ? "," : "", o->pids[i], rss_start[i]);
	printf("},\"rss_kib_total\":%ld,\"rss_kib_total_before\":%ld,\"rss_bytes_per_conn\":%.0f,",
	       total, total_start,
	       ready ? (double)(total - total_start) * 1024.0 / (double)ready : 0.0);
	printf("\"frames_in\":%llu,\"error_events\":%llu,\"pings\":%llu,\"protocol_errors\":%llu,\"foreign\":%llu,"
	       "\"send_skipped\":%llu,\"timed_out\":%s,\"first_error\":\"",
	       (unsigned long long)s.frames_in, (unsigned long long)s.errors, (unsigned long long)s.pings,
	       (unsigned long long)s.protocol_errors, (unsigned long long)s.foreign,
	       (unsigned long long)s.send_skipped, timed_out ? "true" : "false");
	for (const char *p = first_error; *p; p++)
		if (*p == '"' || *p == '\\')
			printf("\\%c", *p);
		else if ((unsigned char)*p >= 0x20)
			putchar(*p);
	printf("\"}\n");
	fflush(stdout);
	free(lat);
	free(con);
	free(lag);
	free(rdy);
}

int
main(int argc, char **argv)
{
	static struct lg_run run;
	struct lg_opts *o = &run.o;
	long rss_start[LG_MAX_PIDS], rss_end[LG_MAX_PIDS];
	uint64_t done, t_connected = 0;
	int timed_out = 0;
	struct sigaction sa;
	struct cpu_window cw;

	if (argc == 2 && strcmp(argv[1], "--self-test") == 0)
		return lg_selftest();
	if (parse_opts(o, argc, argv) != 0) {
		usage(stderr);
		return 64;
	}
	run.t_begin = lg_now();
	run.run_id = run.t_begin ^ ((uint64_t)getpid() << 32) ^ (uint64_t)time(NULL);
	if (run.run_id == 0)
		run.run_id = 1;
	snprintf(run.run_tag, sizeof(run.run_tag), "%016llx", (unsigned long long)run.run_id);
	if (o->room_prefix[0] == '\0')
		snprintf(o->room_prefix, sizeof(o->room_prefix), "lg%.6sr", run.run_tag + 10);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile(o->conns);
	for (int i = 0; i < o->npids; i++)
		rss_start[i] = rss_kib(o->pids[i]);
	if (setup(&run) != 0) {
		fprintf(stderr, "loadgen: setup failed\n");
		return 1;
	}
	atomic_store(&run.phase, LG_PH_CONNECT);
	atomic_store(&run.dump_left, o->dump);
	for (uint32_t t = 0; t < o->threads; t++)
		if (pthread_create(&run.workers[t].thread, NULL, lg_worker_main, &run.workers[t])) {
			fprintf(stderr, "loadgen: pthread_create failed\n");
			return 1;
		}

	/* 1. Every connection is ready or has failed. */
	do {
		done = 0;
		for (uint32_t t = 0; t < o->threads; t++)
			done += atomic_load(&run.workers[t].done_connecting);
	} while (done < o->conns && !tick(&run, &timed_out));
	t_connected = lg_now();

	/* 2. Workers record which connections receive (those ready now); once all have, sending
	 * begins 20 ms later. The times are written before `go` is released and read after. */
	if (!timed_out && !interrupted)
		atomic_store(&run.phase, LG_PH_RUN);
	for (;;) {
		uint32_t snap = 0;

		for (uint32_t t = 0; t < o->threads; t++)
			snap += atomic_load(&run.workers[t].snapshot_done) != 0;
		if (snap == o->threads || timed_out || interrupted || tick(&run, &timed_out))
			break;
	}
	run.t0 = lg_now() + 20000000;
	run.t_measure = run.t0 + (uint64_t)(o->warmup * 1e9);
	run.t_end = run.t_measure + (uint64_t)(o->duration * 1e9);
	if (o->idle) {
		run.t_measure = run.t0;
		run.t_end = run.t0 + (uint64_t)(o->duration * 1e9);
	}
	memset(&cw, 0, sizeof(cw));
	cpu_sample(o, &cw.t0, cw.start);
	net_counters(&cw.retrans0, &cw.drops0);
	atomic_store(&run.go, 1);

	/* 3. Sending (or holding, with --idle) until t_end, then RSS while the load is on. */
	for (;;) {
		uint32_t busy = 0;

		if (timed_out || interrupted)
			break;
		for (uint32_t t = 0; t < o->threads; t++)
			busy += !atomic_load(&run.workers[t].sending_done);
		if (busy == 0 && lg_now() >= run.t_end)
			break;
		if (tick(&run, &timed_out))
			break;
	}
	cpu_sample(o, &cw.t1, cw.end);
	for (int i = 0; i < o->npids; i++)
		rss_end[i] = rss_kib(o->pids[i]);

	/* 4. Drain: wait for the deliveries still on their way. */
	if (!timed_out && !interrupted && !o->idle) {
		uint64_t expected = 0, got, until = lg_now() + (uint64_t)(o->drain * 1e9);

		atomic_store(&run.phase, LG_PH_DRAIN);
		for (uint32_t s = 0; s < o->senders; s++)
			expected += (uint64_t)atomic_load(&run.sent[s]) *
			            atomic_load(&run.room_measured[s % o->rooms]);
		do {
			got = 0;
			for (uint32_t t = 0; t < o->threads; t++)
				got += atomic_load(&run.workers[t].unique_live);
		} while (got < expected && lg_now() < until && !tick(&run, &timed_out));
	}
	atomic_store(&run.phase, LG_PH_STOP);
	net_counters(&cw.retrans1, &cw.drops1);
	for (uint32_t t = 0; t < o->threads; t++)
		pthread_join(run.workers[t].thread, NULL);
	{
		uint64_t last = 0;

		for (uint32_t t = 0; t < o->threads; t++)
			if (run.workers[t].t_last_open > last)
				last = run.workers[t].t_last_open;
		if (last)
			t_connected = last;
	}
	report(&run, timed_out, rss_start, rss_end, t_connected, &cw);
	return timed_out ? 2 : 0;
}
