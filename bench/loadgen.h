/* loadgen.h — shared state of madang-loadgen: the options, the connections, the worker threads
 * (lg_worker.c runs one event loop per thread) and the coordinator (loadgen.c). */
#ifndef LOADGEN_H
#define LOADGEN_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

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

void *lg_worker_main(void *arg);
/* Senders of room r: ids r, r + rooms, r + 2*rooms, ... below senders. */
uint32_t lg_room_senders(const struct lg_opts *o, uint32_t room);
uint64_t lg_now(void);

#endif
