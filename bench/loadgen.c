/* loadgen.c — madang-loadgen: opens N WebSocket connections over R rooms (/ws/{room}/{user}), lets
 * S of them send on a fixed open-loop schedule, checks every delivery (lost, duplicated, out of
 * order, latency from the scheduled send time) and prints exactly one JSON line on stdout.
 * Diagnostics go to stderr. This file is the coordinator (setup, phases, hard timeout); options
 * are in lg_opts.c, the event loops in lg_worker.c and lg_conn.c, the report in lg_report.c.
 * Only 127.0.0.0/8 targets are accepted. */
#include "loadgen.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t interrupted;


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

int
main(int argc, char **argv)
{
	static struct lg_run run;
	struct lg_opts *o = &run.o;
	long rss_start[LG_MAX_PIDS], rss_end[LG_MAX_PIDS];
	uint64_t done, t_connected = 0;
	int timed_out = 0;
	struct sigaction sa;
	struct lg_cpu_window cw;

	if (argc == 2 && strcmp(argv[1], "--self-test") == 0)
		return lg_selftest();
	if (argc == 2 && strcmp(argv[1], "--calibrate") == 0)
		return lg_calibrate();
	if (lg_parse_opts(o, argc, argv) != 0) {
		lg_usage(stderr);
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
		rss_start[i] = lg_rss_kib(o->pids[i]);
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
	lg_cpu_sample(o, &cw.t0, cw.start);
	lg_net_counters(&cw.retrans0, &cw.drops0);
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
	lg_cpu_sample(o, &cw.t1, cw.end);
	for (int i = 0; i < o->npids; i++)
		rss_end[i] = lg_rss_kib(o->pids[i]);

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
	lg_net_counters(&cw.retrans1, &cw.drops1);
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
	lg_report(&run, timed_out, rss_start, rss_end, t_connected, &cw);
	return timed_out ? 2 : 0;
}
