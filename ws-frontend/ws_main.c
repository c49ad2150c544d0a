/* ws_main.c — madang-ws: options, start-up, the lws service loop, clean shutdown. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ipc.h"
#include "log.h"
#include "opt.h"
#include "sdnotify.h"
#include "stopguard.h"
#include "tls.h"
#include "validate.h"
#include "ws_client.h"
#include "ws_conn.h"
#include "ws_delivery.h"
#include "ws_glue.h"
#include "ws_history.h"
#include "ws_link.h"
#include "ws_members.h"
#include "ws_state.h"
#include "ws_wait.h"

#define PROG            "madang-ws"
#define DEF_LISTEN      "127.0.0.1:8081"
#define DEF_ID          "ws-1"
#define DEF_MAX_MESSAGE MADANG_TEXT_MAX
#define DEF_RATE        10
#define DEF_BURST       20
#define DEF_CONNS_IP    64
#define DEF_QUEUE_LIMIT (1024 * 1024)
#define DEF_PING        25
#define DEF_ROOMS       16
#define DEF_HISTORY     50
#define DEF_GUEST       4 /* hex digits: 65,536 nicknames per room before retries get long */

static void
usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: madang-ws [options]\n"
	    "  --listen HOST:PORT        where to accept WebSockets (default " DEF_LISTEN ")\n"
	    "  --rpc URL[,URL...]        broker request/reply endpoint (default\n"
	    "                            %s);\n"
	    "                            several: every broker of a cluster (active and\n"
	    "                            standbys, at most 4), whichever serves is used\n"
	    "  --events URL[,URL...]     broker event stream (default\n"
	    "                            %s)\n"
	    "                            (default directory: " MADANG_IPC_ROOT_DIR
	    " as root, else\n"
	    "                            $XDG_RUNTIME_DIR/" MADANG_IPC_DIR_NAME ")\n"
	    "  --id NAME                 front-end id, [A-Za-z0-9_-]{1,64} (default " DEF_ID ")\n"
	    "  --origins LIST            allowed Origin values, comma-separated, or * (default:\n"
	    "                            the Origin must match the Host header)\n"
	    "  --hosts LIST              accepted Host header values, comma-separated (HOST or\n"
	    "                            HOST:PORT; HOST alone: any port) (default: any)\n"
	    "  --reuseport               share the port with other madang-ws (SO_REUSEPORT)\n"
	    "  --event-loop libev|poll   how the loop waits for its sockets (default libev:\n"
	    "                            epoll through lws's libev plugin; poll walks every\n"
	    "                            socket on each turn)\n"
	    "  --max-message BYTES       message text limit, 1-4096 (default 4096)\n"
	    "  --rate MSGS_PER_S         messages per second per connection (default 10)\n"
	    "  --burst N                 messages allowed at once (default 20)\n"
	    "  --max-conns-per-ip N      connections per client address (default 64)\n"
	    "  --trusted-proxies LIST    addresses/CIDRs whose X-Forwarded-For is believed\n"
	    "  --queue-limit BYTES       unsent bytes per connection before close 1008 (default 1 "
	    "MiB)\n"
	    "  --ping-interval S         seconds between pings; silent twice as long: dropped "
	    "(default 25)\n"
	    "  --max-rooms-per-conn N    rooms one connection may be in (default 16)\n"
	    "  --history N               events replayed on join, 0-500 (default 50); the newest "
	    "N\n"
	    "                            of each room are kept here for that\n"
	    "  --history-idle S          a room without a join for S seconds lets those go: its\n"
	    "                            next joiner's history comes from the broker, 0: never\n"
	    "                            (default 10)\n"
	    "  --history-max-bytes B     bytes of events in one history reply, 32768-1048576\n"
	    "                            (default 262144)\n"
	    "  --history-rate B          history reply bytes per second per connection\n"
	    "                            (default 1048576; bursts of 2 s)\n"
	    "  --history-rate-per-ip B   the same per client address (default 4194304)\n"
	    "  --jwt-secret-file FILE    require an HS256 token (?token=) on every connection; "
	    "the\n"
	    "                            nickname is the token's name (or sub) (default: no auth)\n"
	    "  --guest-digits N          /ws/chat/{room_id}: random hex digits after \"guest-\"\n"
	    "                            in its made-up nicknames, 1-8 (default 4)\n"
	    "  --broker-wait-ms MS       a client that connects, joins or sends while the broker\n"
	    "                            is away (restart, failover) waits this long before\n"
	    "                            broker_unavailable, 0-60000 (default "
	    "5000)\n"
	    "  --stop-timeout S          after SIGTERM, exit with status 1 if still stopping\n"
	    "                            after S seconds, 0-3600 (default 15; 0: no "
	    "limit)\n" TLS_USAGE_DIALER
	    "  -v                        log every connection event and command (debug)\n"
	    "  -h, --help                this text;  --version  the version\n",
	    ipc_default_rpc_url(), ipc_default_events_url());
}

/* --hosts: non-empty entries, each short enough to be compared (WS_HOST_MAX), without
 * blanks or control characters. */
static bool
hosts_valid(const char *list)
{
	if (*list == '\0')
		return false;
	while (*list != '\0') {
		size_t len = strcspn(list, ",");
		if (len == 0 || len >= WS_HOST_MAX)
			return false;
		for (size_t i = 0; i < len; i++)
			if ((unsigned char)list[i] <= ' ' || list[i] == 0x7f)
				return false;
		list += len;
		if (*list == ',' && *++list == '\0')
			return false;
	}
	return true;
}

/* --tls-*: what the command line gave (ws->o.tls points here). */
static struct tls_opts tls_flags;

/* Splits a comma-separated URL list (flag: for the error) into urls (copies, at most
 * WS_BROKERS_MAX) and *n. Empty entries are refused. Returns 0 or -1 (told on stderr). */
static int
split_urls(const char *flag, const char *list, char **urls, size_t *n)
{
	*n = 0;
	for (const char *p = list;;) {
		size_t len = strcspn(p, ",");
		if (len == 0) {
			fprintf(stderr, "madang-ws: %s: an empty URL in \"%s\"\n", flag, list);
			return -1;
		}
		if (*n == WS_BROKERS_MAX) {
			fprintf(stderr, "madang-ws: %s: at most %d URLs\n", flag, WS_BROKERS_MAX);
			return -1;
		}
		if ((urls[*n] = strndup(p, len)) == NULL) {
			fprintf(stderr, "madang-ws: out of memory\n");
			return -1;
		}
		(*n)++;
		p += len;
		if (*p == '\0')
			return 0;
		p++;
	}
}

static int
parse_listen(struct ws_opts *o)
{
	const char *colon = strrchr(o->listen, ':');
	long long port;
	size_t hl;

	if (colon == NULL || (hl = (size_t)(colon - o->listen)) >= sizeof(o->host)) {
		fprintf(stderr, "madang-ws: --listen must be HOST:PORT\n");
		return -1;
	}
	if (opt_number_cli(PROG, "--listen port", colon + 1, 1, 65535, &port) != 0)
		return -1;
	memcpy(o->host, o->listen, hl);
	o->host[hl] = '\0';
	if (hl >= 2 && o->host[0] == '[' && o->host[hl - 1] == ']') { /* [::1]:8081 */
		memmove(o->host, o->host + 1, hl - 2);
		o->host[hl - 2] = '\0';
	}
	o->port = (int)port;
	return 0;
}

static int
parse_args(int argc, char **argv, struct ws_opts *o)
{
	enum {
		O_LISTEN = 256,
		O_RPC,
		O_EVENTS,
		O_ID,
		O_ORIGINS,
		O_REUSEPORT,
		O_LOOP,
		O_MAXMSG,
		O_RATE,
		O_BURST,
		O_CONNS,
		O_QUEUE,
		O_PING,
		O_TRUSTED,
		O_ROOMS,
		O_HISTORY,
		O_HIST_IDLE,
		O_HIST_BYTES,
		O_HIST_RATE,
		O_HIST_RATE_IP,
		O_JWT,
		O_HOSTS,
		O_GUEST,
		O_BROKER_WAIT,
		O_STOP_TIMEOUT,
		O_HELP,
		O_VERSION
	};
	static const struct option longopts[] = {
	    {"listen", required_argument, NULL, O_LISTEN},
	    {"rpc", required_argument, NULL, O_RPC},
	    {"events", required_argument, NULL, O_EVENTS},
	    {"id", required_argument, NULL, O_ID},
	    {"origins", required_argument, NULL, O_ORIGINS},
	    {"reuseport", no_argument, NULL, O_REUSEPORT},
	    {"event-loop", required_argument, NULL, O_LOOP},
	    {"max-message", required_argument, NULL, O_MAXMSG},
	    {"rate", required_argument, NULL, O_RATE},
	    {"burst", required_argument, NULL, O_BURST},
	    {"max-conns-per-ip", required_argument, NULL, O_CONNS},
	    {"queue-limit", required_argument, NULL, O_QUEUE},
	    {"ping-interval", required_argument, NULL, O_PING},
	    {"trusted-proxies", required_argument, NULL, O_TRUSTED},
	    {"max-rooms-per-conn", required_argument, NULL, O_ROOMS},
	    {"history", required_argument, NULL, O_HISTORY},
	    {"history-idle", required_argument, NULL, O_HIST_IDLE},
	    {"history-max-bytes", required_argument, NULL, O_HIST_BYTES},
	    {"history-rate", required_argument, NULL, O_HIST_RATE},
	    {"history-rate-per-ip", required_argument, NULL, O_HIST_RATE_IP},
	    {"jwt-secret-file", required_argument, NULL, O_JWT},
	    {"hosts", required_argument, NULL, O_HOSTS},
	    {"guest-digits", required_argument, NULL, O_GUEST},
	    {"broker-wait-ms", required_argument, NULL, O_BROKER_WAIT},
	    {"stop-timeout", required_argument, NULL, O_STOP_TIMEOUT},
	    TLS_LONG_OPTIONS_DIALER,
	    {"help", no_argument, NULL, O_HELP},
	    {"version", no_argument, NULL, O_VERSION},
	    {NULL, 0, NULL, 0},
	};
	long long v;
	const char *why;
	int c;

	o->listen = DEF_LISTEN;
	o->rpc_url = ipc_default_rpc_url();
	o->events_url = ipc_default_events_url();
	o->id = DEF_ID;
	o->max_message = DEF_MAX_MESSAGE;
	o->rate = DEF_RATE;
	o->burst = DEF_BURST;
	o->max_conns_per_ip = DEF_CONNS_IP;
	o->queue_limit = DEF_QUEUE_LIMIT;
	o->libev = true;
	o->ping_interval = DEF_PING;
	o->max_rooms = DEF_ROOMS;
	o->history = DEF_HISTORY;
	o->history_idle_ms = (uint64_t)WS_HISTORY_IDLE_DEFAULT * 1000;
	o->guest_digits = DEF_GUEST;
	o->broker_wait_ms = WS_BROKER_WAIT_MS_DEFAULT;
	o->stop_timeout = WS_STOP_TIMEOUT_S;
	o->tls = &tls_flags;
	o->history_max_bytes = WS_HISTORY_BYTES_DEFAULT;
	o->history_rate = WS_HISTORY_RATE_DEFAULT;
	o->history_rate_ip = WS_HISTORY_RATE_IP_DEFAULT;
	while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (c) {
		case O_LISTEN:
			o->listen = optarg;
			break;
		case O_RPC:
			o->rpc_url = optarg;
			break;
		case O_EVENTS:
			o->events_url = optarg;
			break;
		case O_ID:
			o->id = optarg;
			break;
		case O_ORIGINS:
			o->origins = optarg;
			break;
		case O_REUSEPORT:
			o->reuseport = true;
			break;
		case O_LOOP:
			if (strcmp(optarg, "poll") != 0 && strcmp(optarg, "libev") != 0) {
				fprintf(stderr, "madang-ws: --event-loop must be poll or libev\n");
				return -1;
			}
			o->libev = strcmp(optarg, "libev") == 0;
			break;
		case O_MAXMSG:
			if (opt_number_cli(PROG, "--max-message", optarg, 1, MADANG_TEXT_MAX, &v) !=
			    0)
				return -1;
			o->max_message = (size_t)v;
			break;
		case O_RATE:
			if (opt_number_cli(PROG, "--rate", optarg, 1, 100000, &v) != 0)
				return -1;
			o->rate = (uint32_t)v;
			break;
		case O_BURST:
			if (opt_number_cli(PROG, "--burst", optarg, 1, 100000, &v) != 0)
				return -1;
			o->burst = (uint32_t)v;
			break;
		case O_CONNS:
			if (opt_number_cli(PROG, "--max-conns-per-ip", optarg, 1, 1000000, &v) != 0)
				return -1;
			o->max_conns_per_ip = (uint32_t)v;
			break;
		case O_QUEUE:
			if (opt_number_cli(PROG, "--queue-limit", optarg, 4096, 1LL << 32, &v) != 0)
				return -1;
			o->queue_limit = (uint64_t)v;
			break;
		case O_PING:
			if (opt_number_cli(PROG, "--ping-interval", optarg, 1, 3600, &v) != 0)
				return -1;
			o->ping_interval = (int)v;
			break;
		case O_TRUSTED:
			if (netacl_parse(&o->trusted, optarg, &why) != 0) {
				fprintf(stderr, "madang-ws: --trusted-proxies: %s\n", why);
				return -1;
			}
			break;
		case O_ROOMS:
			if (opt_number_cli(PROG, "--max-rooms-per-conn", optarg, 1,
			                   WS_ROOMS_PER_CONN_MAX, &v) != 0)
				return -1;
			o->max_rooms = (size_t)v;
			break;
		case O_HISTORY:
			if (opt_number_cli(PROG, "--history", optarg, 0, MADANG_HISTORY_PAGE_MAX,
			                   &v) != 0)
				return -1;
			o->history = (int)v;
			break;
		case O_HIST_IDLE:
			if (opt_number_cli(PROG, "--history-idle", optarg, 0, WS_HISTORY_IDLE_MAX,
			                   &v) != 0)
				return -1;
			o->history_idle_ms = (uint64_t)v * 1000;
			break;
		case O_HIST_BYTES:
			if (opt_number_cli(PROG, "--history-max-bytes", optarg,
			                   WS_HISTORY_BYTES_MIN, WS_HISTORY_BYTES_MAX, &v) != 0)
				return -1;
			o->history_max_bytes = (size_t)v;
			break;
		case O_HIST_RATE:
		case O_HIST_RATE_IP:
			if (opt_number_cli(
			        PROG, c == O_HIST_RATE ? "--history-rate" : "--history-rate-per-ip",
			        optarg, 1, WS_HISTORY_RATE_MAX, &v) != 0)
				return -1;
			*(c == O_HIST_RATE ? &o->history_rate : &o->history_rate_ip) = (uint64_t)v;
			break;
		case O_JWT: {
			char err[512];
			if (jwt_secret_load(optarg, &o->jwt, err, sizeof(err)) != 0) {
				fprintf(stderr, "madang-ws: --jwt-secret-file: %s\n", err);
				return -1;
			}
			o->auth = true;
			break;
		}
		case O_HOSTS:
			if (!hosts_valid(optarg)) {
				fprintf(stderr,
				        "madang-ws: --hosts must list Host values (HOST or "
				        "HOST:PORT, comma-separated, each under %d bytes)\n",
				        WS_HOST_MAX);
				return -1;
			}
			o->hosts = optarg;
			break;
		case O_GUEST:
			if (opt_number_cli(PROG, "--guest-digits", optarg, 1, 8, &v) != 0)
				return -1;
			o->guest_digits = (int)v;
			break;
		case O_BROKER_WAIT:
			if (opt_number_cli(PROG, "--broker-wait-ms", optarg, 0,
			                   WS_BROKER_WAIT_MS_MAX, &v) != 0)
				return -1;
			o->broker_wait_ms = (unsigned)v;
			break;
		case O_STOP_TIMEOUT:
			if (opt_number_cli(PROG, "--stop-timeout", optarg, 0, STOPGUARD_MAX_S,
			                   &v) != 0)
				return -1;
			o->stop_timeout = (unsigned)v;
			break;
		case TLS_OPT_CA:
		case TLS_OPT_CERT:
		case TLS_OPT_SERVER_NAME:
			tls_opt_set(&tls_flags, c, optarg);
			break;
		case 'v':
			o->verbose = true;
			break;
		case 'h':
		case O_HELP:
			usage(stdout);
			exit(0);
		case O_VERSION:
			opt_print_version(stdout, PROG);
			exit(0);
		default:
			usage(stderr);
			return -1;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return -1;
	}
	if (split_urls("--rpc", o->rpc_url, o->rpc_urls, &o->n_rpc) != 0 ||
	    split_urls("--events", o->events_url, o->events_urls, &o->n_events) != 0)
		return -1;
	if (o->n_rpc != o->n_events) {
		fprintf(stderr,
		        "madang-ws: --rpc and --events must list the same brokers (%zu and "
		        "%zu URLs)\n",
		        o->n_rpc, o->n_events);
		return -1;
	}
	if (!valid_room_id(o->id, strlen(o->id))) {
		fprintf(stderr, "madang-ws: --id must be 1-64 characters of A-Z a-z 0-9 _ -\n");
		return -1;
	}
	o->msg_rate = bucket_rate(o->rate, o->burst);
	return parse_listen(o);
}

/* The broker link's event hooks: room events to delivery. */
static void
link_event(void *arg, const char *body, size_t len)
{
	(void)arg;
	delivery_event(body, len);
}

static void
link_events_done(void *arg)
{
	(void)arg;
	delivery_flush();
}

/* The start-up check of the --tls-* flags against every broker URL (common/tls.h): refused
 * (logged) when a tls+tcp:// URL lacks the files, a file is bad, or TLS flags protect no URL.
 * Returns 0 or -1. */
static int
check_tls(const struct ws_opts *o)
{
	const char *urls[2 * WS_BROKERS_MAX];
	char err[512];
	size_t n = 0;

	for (size_t i = 0; i < o->n_rpc; i++)
		urls[n++] = o->rpc_urls[i];
	for (size_t i = 0; i < o->n_events; i++)
		urls[n++] = o->events_urls[i];
	if (tls_check(o->tls, urls, n, true, "ws", err, sizeof(err)) != 0) {
		log_error("ws: not started: %s", err);
		return -1;
	}
	return 0;
}

/* The broker is up (again): members re-join first, then whoever waited for it goes on. */
static void
link_synced(void *arg, const char *prev_epoch)
{
	members_resync(arg, prev_epoch);
	wait_link_up();
}

static void
link_tick(void *arg)
{
	(void)arg;
	wait_tick();
}

int
main(int argc, char **argv)
{
	sigset_t mask;
	int rc = 1;

	char err[256];

	if (parse_args(argc, argv, &ws->o) != 0)
		return 2;
	log_init("madang-ws", ws->o.verbose ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	for (size_t i = 0; i < ws->o.n_rpc; i++) {
		if (ipc_dial_check(ws->o.rpc_urls[i], err, sizeof(err)) != 0 ||
		    ipc_dial_check(ws->o.events_urls[i], err, sizeof(err)) != 0) {
			log_error("ws: refusing the broker's socket directory: %s", err);
			return 1;
		}
	}
	if (check_tls(&ws->o) != 0)
		return 1;
	/* Signals. SIGTERM (systemd's stop) and SIGINT (Ctrl-C under make run) stop gracefully:
	 * every client gets a close frame (1001, going away) within WS_STOP_GRACE_MS, instead of
	 * browsers seeing a dropped TCP connection they would take for a network fault.
	 * They are blocked before any thread exists, so nng's threads never take them, and read
	 * from a signalfd inside the loop (ws_glue.c): the stop runs on the loop thread that owns
	 * every session. SIGHUP is ignored, as in the broker and madang-api: there is nothing to
	 * reload, and a terminal closing must not cut every connection. SIGPIPE is ignored so that
	 * a peer that hangs up mid-write costs only its own connection (EPIPE on that socket). */
	signal(SIGPIPE, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) != 0) {
		log_error("sigprocmask: %s", strerror(errno));
		return 1;
	}
	sesstab_init(&ws->sessions);
	roomtab_init(&ws->rooms);
	conn_init();
	wait_init(&(struct wait_hooks){
	    .open = client_opened, .release = client_wait_over, .expire = client_wait_expired});
	members_init(&(struct members_hooks){
	    .join_over = client_release, .guest_retry = conn_guest_retry, .probe = conn_probe});

	if (link_open(&(struct link_hooks){.event = link_event,
	                                   .events_done = link_events_done,
	                                   .member_lost = members_lost,
	                                   .synced = link_synced,
	                                   .tick = link_tick}) != 0)
		return 1;
	if (glue_init() != 0)
		goto out;
	log_info("ws: %s listening on %s%s, broker %s / %s%s, event loop %s", ws->o.id,
	         ws->o.listen, ws->o.reuseport ? " (shared port)" : "", ws->o.rpc_url,
	         ws->o.events_url, tls_url_is_tls(ws->o.rpc_urls[0]) ? " (mutual TLS)" : "",
	         ws->o.libev ? "libev" : "poll");
	sd_notify_send("READY=1\nSTATUS=serving");
	if (glue_run() == 0)
		rc = 0;
	log_info("ws: %s stopped", ws->o.id);
out:
	/* nng 1.5.2 can deadlock in nng_close (common/stopguard.h): bounded, and the clients have
	 * had their close frames by now. */
	stopguard_cleanup(ws->o.stop_timeout, "ws", "nng_close", rc);
	link_close();
	wait_fini();
	glue_fini();
	conn_fini();
	history_fini();
	for (size_t i = 0; i < ws->o.n_rpc; i++)
		free(ws->o.rpc_urls[i]);
	for (size_t i = 0; i < ws->o.n_events; i++)
		free(ws->o.events_urls[i]);
	return rc;
}
