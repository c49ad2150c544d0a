/* loadgen.h — shared state of madang-loadgen: the options, the connections, the worker threads
 * (lg_worker.c runs one event loop per thread) and the coordinator (loadgen.c). */
#ifndef LOADGEN_H
#define LOADGEN_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>

#include "lg_hist.h"

#define LG_MAX_PIDS 16

struct lg_opts {
	struct sockaddr_in server;
	char host[80];          /* "127.0.0.1:PORT" for the Host header */
	char base_path[128];   /* "/ws": connections go to base_path/room/user */
	char room_prefix[48];
	uint32_t conns, rooms, senders, threads;
	double rate;           /* messages per second offered, all senders together */
	double duration, warmup, drain, timeout, connect_rate, handshake_timeout;
	uint32_t source_addrs;
	uint32_t inflight;     /* most connections in the connecting/handshake state at once */
	uint32_t size;         /* bytes of chat text per message (at least the header) */
	int idle;
	int json_messages;     /* send {"type":"message","text":...} instead of raw text */
	int ready_on_open;     /* count a connection ready at 101, without waiting for "joined" */
	int pids[LG_MAX_PIDS];
	int npids;
	char label[64];
	int dump;              /* print the first N text frames received to stderr */
};

enum lg_state {
	LG_NEW,        /* not started yet */
	LG_CONNECTING, /* connect() in progress */
	LG_HANDSHAKE,  /* upgrade request sent, waiting for 101 */
	LG_OPEN,       /* WebSocket open */
	LG_CLOSED,     /* closed after having been open */
	LG_FAILED,     /* never opened */
};

/* What receiver r knows about sender s of its room: the highest sequence number seen, a bitmap
 * of the 64 numbers below it (to tell duplicates from late arrivals), and distinct numbers. */
struct lg_track {
	uint32_t max_seen;
	uint32_t unique;
	uint64_t window;
};

struct lg_conn {
	int fd;
	uint32_t id;          /* global index: room = id % rooms, sender when id < senders */
	uint8_t state;
	uint8_t ready;        /* saw "joined" */
	uint8_t measured;     /* was ready when sending began: counted as a receiver */
	uint8_t want_out;     /* EPOLLOUT is registered */
	uint8_t close_sent;
	uint8_t frag_op;
	uint64_t t_start;     /* when connect() was called */
	uint8_t *rbuf;        /* unparsed input (a partial frame or partial HTTP response) */
	uint32_t rlen, rcap;
	uint8_t *wbuf;        /* output the kernel did not take yet */
	uint32_t woff, wlen, wcap;
	uint8_t *frag;        /* data of a fragmented message being assembled */
	uint32_t fraglen, fragcap;
	struct lg_track *track;  /* one per sender of this connection's room */
};

struct lg_counters {
	uint64_t made, failed, not_joined, closed_by_server, frames_in, bytes_in, bytes_out;
	uint64_t sent, send_skipped, unique, duplicated, out_of_order, stale, foreign;
	uint64_t in_window;   /* unique deliveries of messages scheduled inside the measured window */
	uint64_t pings, protocol_errors, errors;
};

struct lg_run;

struct lg_worker {
	struct lg_run *run;
	unsigned idx;
	pthread_t thread;
	int ep;
	struct lg_conn *conns;   /* the connections whose id % threads == idx */
	uint32_t nconns;
	uint32_t *senders;       /* local indexes of this worker's senders, in id order */
	uint32_t nsenders;
	uint64_t *send_offset;   /* per sender: its offset inside the sending period (ns) */
	uint8_t *scratch;
	size_t scratch_cap;
	uint64_t rng;
	uint32_t next_connect, inflight;
	struct lg_hist latency, connect, send_lag, ready; /* ready: socket() to "joined" */
	struct lg_counters c;
	uint64_t t_last_open, t_last_ready;
	atomic_uint_fast64_t done_connecting; /* made + failed, read by the coordinator */
	atomic_uint_fast64_t unique_live;     /* distinct deliveries so far */
	atomic_int sending_done;
	atomic_int snapshot_done;
	char first_error[160];
};

enum lg_phase { LG_PH_CONNECT, LG_PH_RUN, LG_PH_DRAIN, LG_PH_STOP };

struct lg_run {
	struct lg_opts o;
	uint64_t run_id;
	char run_tag[20];          /* run_id in hex: messages of other runs are ignored */
	uint64_t t_begin;          /* program start */
	uint64_t t0;               /* sending starts */
	uint64_t t_measure;        /* end of warm-up */
	uint64_t t_end;            /* sending stops */
	uint64_t period_ns;        /* interval between two messages of one sender */
	atomic_int phase;
	atomic_int go;              /* t0, t_measure and t_end are set: senders may start */
	atomic_int dump_left;
	atomic_uint_fast32_t *sent;          /* per sender: messages sent (= highest seq) */
	atomic_uint_fast32_t *room_measured; /* per room: receivers counted */
	struct lg_worker *workers;
};

/* CPU use over the sending (or holding) window and the system counters around it. */
struct lg_cpu_window {
	double t0, t1;
	unsigned long long retrans0, retrans1, drops0, drops1;
	/* [0] the load generator, [1..npids] the --pids, [LG_MAX_PIDS + 1] PSI total in us */
	double start[LG_MAX_PIDS + 2], end[LG_MAX_PIDS + 2];
};

/* lg_worker.c */
void *lg_worker_main(void *arg);

/* lg_conn.c: connection I/O, from the owning worker's thread only. */
/* Keeps the first problem of the run for the report: "conn ID: PREFIXWHAT". */
void lg_note_error(struct lg_worker *w, uint32_t id, const char *prefix, const char *what);
/* Grows *buf to hold need bytes; 0 or -1. */
int lg_grow(uint8_t **buf, uint32_t *cap, size_t need);
void lg_conn_start(struct lg_worker *w, struct lg_conn *c, uint64_t now);
/* EPOLLOUT: completes the connect and sends the upgrade, or writes what is queued. */
void lg_conn_writable(struct lg_worker *w, struct lg_conn *c);
/* Parses the upgrade response in p; bytes consumed, 0 for more, -1 on failure. */
long lg_parse_upgrade(struct lg_worker *w, struct lg_conn *c, const uint8_t *p, size_t len);
/* Queues one masked frame; -1 when the connection has ended. */
int lg_conn_send_frame(struct lg_worker *w, struct lg_conn *c, int opcode, const void *payload,
                       size_t len);
void lg_conn_end(struct lg_worker *w, struct lg_conn *c);
void lg_conn_release(struct lg_conn *c); /* frees its buffers */
/* Senders of room r: ids r, r + rooms, r + 2*rooms, ... below senders. */
uint32_t lg_room_senders(const struct lg_opts *o, uint32_t room);
uint64_t lg_now(void);

/* lg_opts.c: command line. */
void lg_usage(FILE *f);
/* Fills o from argv; -1 on a bad or missing option. */
int lg_parse_opts(struct lg_opts *o, int argc, char **argv);

/* lg_proc.c: what /proc tells about processes and the network stack. */
long lg_rss_kib(int pid);
double lg_cpu_s(int pid);
double lg_self_cpu_s(void);
unsigned long long lg_cpu_pressure_us(void);
void lg_net_counters(unsigned long long *retrans, unsigned long long *drops);

/* lg_selftest.c: known-answer checks of the pure parts; 0 when all pass. */
int lg_selftest(void);
/* lg_calib.c: prints the machine's cost of a system call, a loopback send and a thread wake-up
 * round trip as one JSON line; 0 on success. */
int lg_calibrate(void);

/* lg_report.c: the one JSON line. */
void lg_cpu_sample(const struct lg_opts *o, double *t, double *v);
void lg_report(struct lg_run *run, int timed_out, long *rss_start, long *rss_end,
               uint64_t t_connected, const struct lg_cpu_window *cw);

#endif
