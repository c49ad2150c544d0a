/* lg_opts.c — madang-loadgen's command line: the options, their defaults and checks. */
#include "loadgen.h"
#include "opt.h"

#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LG_CONNS_MAX 1000000 /* --conns, --rooms, --senders, --inflight */
#define LG_SIZE_MAX  4032    /* --size: the send buffer (4096) less its frame header room */
#define LG_RATE_MAX  1e7     /* --rate, --connect-rate: per second */
#define LG_TIME_MAX  86400.0 /* --duration, --warmup, --drain, --handshake-timeout, --timeout: s */

void
lg_usage(FILE *f)
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
	        "  --version            print the version and exit\n"
	        "or:    madang-loadgen --self-test   (checks SHA-1, base64, framing, histogram)\n"
	        "or:    madang-loadgen --calibrate   (this machine's cost of a system call, a loopback\n"
	        "                                      send and a thread wake-up round trip, as JSON)\n");
}

/* A uint32_t option in [lo, hi] (common/opt.c); -1 after saying why on stderr. */
static int
lg_u32(const char *name, const char *text, long long lo, long long hi, uint32_t *out)
{
	long long v;

	if (opt_number_cli("madang-loadgen", name, text, lo, hi, &v) != 0)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

/* A decimal option in [lo, hi]; -1 after saying why on stderr. */
static int
lg_dec(const char *name, const char *text, double lo, double hi, double *out)
{
	return opt_decimal_cli("madang-loadgen", name, text, lo, hi, out);
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

int
lg_parse_opts(struct lg_opts *o, int argc, char **argv)
{
	enum { O_URL = 256, O_CONNS, O_ROOMS, O_SENDERS, O_RATE, O_SIZE, O_DUR, O_WARM, O_DRAIN,
	       O_CRATE, O_INFL, O_HST, O_SRC, O_PREFIX, O_THREADS, O_IDLE, O_JSON, O_ROO, O_PIDS,
	       O_LABEL, O_TIMEOUT, O_DUMP, O_HELP, O_VERSION };
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
	    {"dump", 1, 0, O_DUMP},         {"version", 0, 0, O_VERSION},
	    {0, 0, 0, 0}};
	int opt, have_url = 0;
	long long v;

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
		case O_CONNS:
			if (lg_u32("--conns", optarg, 1, LG_CONNS_MAX, &o->conns) != 0)
				return -1;
			break;
		case O_ROOMS:
			if (lg_u32("--rooms", optarg, 1, LG_CONNS_MAX, &o->rooms) != 0)
				return -1;
			break;
		case O_SENDERS:
			if (lg_u32("--senders", optarg, 0, LG_CONNS_MAX, &o->senders) != 0)
				return -1;
			break;
		case O_RATE:
			if (lg_dec("--rate", optarg, 0, LG_RATE_MAX, &o->rate) != 0)
				return -1;
			break;
		case O_SIZE:
			if (lg_u32("--size", optarg, 1, LG_SIZE_MAX, &o->size) != 0)
				return -1;
			break;
		case O_DUR:
			if (lg_dec("--duration", optarg, 0, LG_TIME_MAX, &o->duration) != 0)
				return -1;
			break;
		case O_WARM:
			if (lg_dec("--warmup", optarg, 0, LG_TIME_MAX, &o->warmup) != 0)
				return -1;
			break;
		case O_DRAIN:
			if (lg_dec("--drain", optarg, 0, LG_TIME_MAX, &o->drain) != 0)
				return -1;
			break;
		case O_CRATE:
			if (lg_dec("--connect-rate", optarg, 0, LG_RATE_MAX, &o->connect_rate) != 0)
				return -1;
			break;
		case O_INFL:
			if (lg_u32("--inflight", optarg, 1, LG_CONNS_MAX, &o->inflight) != 0)
				return -1;
			break;
		case O_HST:
			if (lg_dec("--handshake-timeout", optarg, 0.1, LG_TIME_MAX, &o->handshake_timeout) != 0)
				return -1;
			break;
		case O_SRC:
			if (lg_u32("--source-addrs", optarg, 1, 65535, &o->source_addrs) != 0)
				return -1;
			break;
		case O_PREFIX: snprintf(o->room_prefix, sizeof(o->room_prefix), "%s", optarg); break;
		case O_THREADS:
			if (lg_u32("--threads", optarg, 1, 64, &o->threads) != 0)
				return -1;
			break;
		case O_IDLE: o->idle = 1; break;
		case O_JSON: o->json_messages = 1; break;
		case O_ROO: o->ready_on_open = 1; break;
		case O_PIDS:
			if (parse_pids(o, optarg) != 0)
				return -1;
			break;
		case O_LABEL: snprintf(o->label, sizeof(o->label), "%s", optarg); break;
		case O_TIMEOUT:
			if (lg_dec("--timeout", optarg, 0, LG_TIME_MAX, &o->timeout) != 0)
				return -1;
			break;
		case O_DUMP:
			if (opt_number_cli("madang-loadgen", "--dump", optarg, 0, 1000000, &v) != 0)
				return -1;
			o->dump = (int)v;
			break;
		case O_HELP: lg_usage(stdout); exit(0);
		case O_VERSION: opt_print_version(stdout, "madang-loadgen"); exit(0);
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
