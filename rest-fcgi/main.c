/* main.c — madang-api: command line, admin token, sockets, signals and systemd notification. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fcgiapp.h>
#include <nng/nng.h>

#include "clock.h"
#include "ipc.h"
#include "listen.h"
#include "log.h"
#include "opt.h"
#include "redial.h"
#include "rpc.h"
#include "sdnotify.h"
#include "server.h"
#include "stopguard.h"
#include "tls.h"

#define PROG                   "madang-api"
#define TIMEOUT_DEFAULT_MS     1000
#define TIMEOUT_MIN_MS         10
#define TIMEOUT_MAX_MS         60000
#define BROKER_WAIT_DEFAULT_MS 5000
#define STOP_TIMEOUT_DEFAULT_S 8 /* --stop-timeout: under the unit's TimeoutStopSec (10 s) */
#define API_RPC_URLS_MAX       8 /* --rpc URLs: an active broker and its standbys */
#define BACKLOG_DEFAULT        1024
#define BACKLOG_MAX            65535
#define ERRBUF                 256

static void
usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: madang-api [--listen unix:PATH | HOST:PORT] [--rpc URL[,URL...]]\n"
	    "                  [--threads N] [--timeout MS] [--broker-wait-ms MS]\n"
	    "                  [--cors-origin ORIGIN] [--admin-token-file FILE]\n"
	    "                  [--jwt-secret-file FILE [--public-reads] [--user-rooms]]\n"
	    "                  [--history-max-bytes N]\n"
	    "                  [--backlog N] [--stop-timeout S] [--tls-ca FILE --tls-cert FILE\n"
	    "                  [--tls-server-name NAME]] [-v]\n"
	    "\n"
	    "FastCGI responder for madang's REST API (/api/*), answered from the broker.\n"
	    "  --listen SPEC           listen on unix:PATH or HOST:PORT; without it, serve the\n"
	    "                          socket on fd 0 (spawn-fcgi) or fd 3 (LISTEN_FDS, systemd)\n"
	    "  --rpc URL[,URL...]      the broker's request/reply URL (nng), or up to %d: an\n"
	    "                          active broker and its standbys, all dialed; default\n"
	    "                          %s\n"
	    "                          (an ipc:// directory that another user owns or may\n"
	    "                          write is refused)\n"
	    "  --threads N             worker threads, 1..%d (default %d)\n"
	    "  --timeout MS            the broker's time to reply to one attempt, %d..%d\n"
	    "                          (default %d)\n"
	    "  --broker-wait-ms MS     one request's whole wait for a broker (a failover, a\n"
	    "                          restart), then 503 broker_unavailable, %d..%d (default\n"
	    "                          %d, and never less than --timeout)\n"
	    "  --cors-origin ORIGIN    send Access-Control-Allow-Origin: ORIGIN (default: no "
	    "CORS)\n"
	    "  --admin-token-file FILE Bearer token for DELETE and POST (16..256 printable "
	    "bytes);\n"
	    "                          without it DELETE is refused\n"
	    "  --jwt-secret-file FILE  also accept a Bearer HS256 token with \"admin\": true for\n"
	    "                          POST and DELETE (the secret madang-ws uses); any valid\n"
	    "                          token may moderate where its subject has the right\n"
	    "  --user-rooms            with --jwt-secret-file, any valid token may create a\n"
	    "                          room (POST /api/rooms) and owns it (default: admins only)\n"
	    "  --history-max-bytes N   events' bytes in one /messages reply, %d..%d (default\n"
	    "                          %d); a longer page is cut, with a cursor to the rest\n"
	    "  --public-reads          with --jwt-secret-file, let anyone read rooms' members\n"
	    "                          and history (default: a valid Bearer token is needed)\n"
	    "  --backlog N             listen queue for --listen, 1..%d (default "
	    "%d)\n"
	    "  --stop-timeout S        after SIGTERM, exit with status 1 if still stopping\n"
	    "                          after S seconds, 0..3600 (default 8; 0: no "
	    "limit)\n" TLS_USAGE_DIALER "  -v                      log one line per request\n"
	    "  -h, --help              this text;  --version  the version\n",
	    API_RPC_URLS_MAX, ipc_default_rpc_url(), API_THREADS_MAX, API_THREADS_DEFAULT,
	    TIMEOUT_MIN_MS, TIMEOUT_MAX_MS, TIMEOUT_DEFAULT_MS, TIMEOUT_MIN_MS, TIMEOUT_MAX_MS,
	    BROKER_WAIT_DEFAULT_MS, API_HISTORY_BYTES_MIN, API_HISTORY_BYTES_MAX,
	    API_HISTORY_BYTES_DEFAULT, BACKLOG_MAX, BACKLOG_DEFAULT);
}

/* Reads the admin token: the file's content without trailing white space, API_TOKEN_MIN..MAX
 * bytes of printable ASCII without spaces. Returns a malloc'd string or NULL with a reason. */
static char *
read_token(const char *path, char *err, size_t errsz)
{
	char buf[API_TOKEN_MAX + 2];
	struct stat st;
	size_t n;
	FILE *f;

	if ((f = fopen(path, "re")) == NULL) {
		snprintf(err, errsz, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 0004) != 0)
		log_warn("api: admin token file %s is readable by everyone", path);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' ||
	                 buf[n - 1] == '\t'))
		buf[--n] = '\0';
	if (n < API_TOKEN_MIN || n > API_TOKEN_MAX) {
		snprintf(err, errsz, "%s: the token must have %d to %d bytes", path, API_TOKEN_MIN,
		         API_TOKEN_MAX);
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		if (buf[i] <= 0x20 || buf[i] >= 0x7f) {
			snprintf(err, errsz, "%s: the token must be printable ASCII without spaces",
			         path);
			return NULL;
		}
	}
	return strdup(buf);
}

/* Splits list (--rpc: URL[,URL...]) in place into urls[0..*n). Returns 0, or -1 with a reason
 * in err when an item is empty or there are more than API_RPC_URLS_MAX. */
static int
split_urls(char *list, const char **urls, size_t *n, char *err, size_t errsz)
{
	char *p = list, *comma;

	*n = 0;
	for (;;) {
		if ((comma = strchr(p, ',')) != NULL)
			*comma = '\0';
		if (*p == '\0') {
			snprintf(err, errsz, "--rpc: an empty URL in the list");
			return -1;
		}
		if (*n == API_RPC_URLS_MAX) {
			snprintf(err, errsz, "--rpc: at most %d URLs", API_RPC_URLS_MAX);
			return -1;
		}
		urls[(*n)++] = p;
		if (comma == NULL)
			return 0;
		p = comma + 1;
	}
}

static int
valid_origin(const char *o)
{
	size_t n = strlen(o);

	if (n == 0 || n > API_CORS_ORIGIN_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (o[i] <= 0x20 || o[i] >= 0x7f)
			return 0;
	return 1;
}

/* The broker socket's dialers (common/redial.h): dialed with --tls-* (arg: the struct
 * tls_opts), replaced when nng gave one up. */
_Static_assert(API_RPC_URLS_MAX <= REDIAL_URLS_MAX, "a redial set holds every --rpc URL");

static int
api_dial(void *arg, nng_socket sock, const char *url, nng_dialer *d)
{
	char err[2 * ERRBUF];
	int rv;

	if ((rv = tls_dial(sock, url, arg, "api", err, sizeof(err), d)) != 0)
		log_error("api: broker %s", err);
	return rv;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"listen", required_argument, NULL, 'l'},
	    {"rpc", required_argument, NULL, 'r'},
	    {"threads", required_argument, NULL, 't'},
	    {"timeout", required_argument, NULL, 'T'},
	    {"broker-wait-ms", required_argument, NULL, 'W'},
	    {"cors-origin", required_argument, NULL, 'c'},
	    {"admin-token-file", required_argument, NULL, 'a'},
	    {"jwt-secret-file", required_argument, NULL, 'J'},
	    {"backlog", required_argument, NULL, 'b'},
	    {"stop-timeout", required_argument, NULL, 'Q'},
	    {"public-reads", no_argument, NULL, 'P'},
	    {"user-rooms", no_argument, NULL, 'U'},
	    {"history-max-bytes", required_argument, NULL, 'H'},
	    TLS_LONG_OPTIONS_DIALER,
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	const char *listen_spec = NULL, *rpc_arg = NULL, *token_file = NULL;
	const char *urls[API_RPC_URLS_MAX];
	char *rpc_list = NULL;
	size_t nurls = 0;
	bool wait_given = false;
	struct api_server srv;
	struct api_metrics metrics;
	struct tls_opts tls = {NULL, NULL, NULL};
	static struct redial redial; /* its address is nng's callback argument until the end */
	char err[ERRBUF], tls_err[2 * ERRBUF], *token = NULL;
	static struct jwt_secret jwt;
	int backlog = BACKLOG_DEFAULT, c, sig, rv, status = 1;
	unsigned stop_timeout = STOP_TIMEOUT_DEFAULT_S;
	bool public_reads = false;
	long long v;
	sigset_t set;

	memset(&srv, 0, sizeof(srv));
	srv.nthreads = API_THREADS_DEFAULT;
	srv.timeout_ms = TIMEOUT_DEFAULT_MS;
	srv.broker_wait_ms = BROKER_WAIT_DEFAULT_MS;
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			listen_spec = optarg;
			break;
		case 'r':
			rpc_arg = optarg;
			break;
		case 'a':
			token_file = optarg;
			break;
		case 'J':
			if (jwt_secret_load(optarg, &jwt, err, sizeof(err)) != 0) {
				log_error("api: --jwt-secret-file: %s", err);
				return 2;
			}
			srv.cfg.jwt = &jwt;
			break;
		case 'v':
			srv.verbose = true;
			break;
		case 'P':
			public_reads = true;
			break;
		case 'U':
			srv.cfg.user_rooms = true;
			break;
		case 'H':
			if (opt_number_cli(PROG, "--history-max-bytes", optarg,
			                   API_HISTORY_BYTES_MIN, API_HISTORY_BYTES_MAX, &v) != 0)
				return 2;
			srv.cfg.history_max_bytes = (size_t)v;
			break;
		case 'c':
			if (!valid_origin(optarg)) {
				fprintf(stderr,
				        "madang-api: --cors-origin must be 1..%d printable "
				        "bytes without spaces\n",
				        API_CORS_ORIGIN_MAX);
				return 2;
			}
			srv.cfg.cors_origin = optarg;
			break;
		case 't':
			if (opt_number_cli(PROG, "--threads", optarg, 1, API_THREADS_MAX, &v) != 0)
				return 2;
			srv.nthreads = (int)v;
			break;
		case 'T':
			if (opt_number_cli(PROG, "--timeout", optarg, TIMEOUT_MIN_MS,
			                   TIMEOUT_MAX_MS, &v) != 0)
				return 2;
			srv.timeout_ms = (int)v;
			break;
		case 'W':
			if (opt_number_cli(PROG, "--broker-wait-ms", optarg, TIMEOUT_MIN_MS,
			                   TIMEOUT_MAX_MS, &v) != 0)
				return 2;
			srv.broker_wait_ms = (int)v;
			wait_given = true;
			break;
		case 'b':
			if (opt_number_cli(PROG, "--backlog", optarg, 1, BACKLOG_MAX, &v) != 0)
				return 2;
			backlog = (int)v;
			break;
		case 'Q':
			if (opt_number_cli(PROG, "--stop-timeout", optarg, 0, STOPGUARD_MAX_S,
			                   &v) != 0)
				return 2;
			stop_timeout = (unsigned)v;
			break;
		case TLS_OPT_CA:
		case TLS_OPT_CERT:
		case TLS_OPT_SERVER_NAME:
			tls_opt_set(&tls, c, optarg);
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			opt_print_version(stdout, PROG);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "madang-api: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (srv.cfg.user_rooms && srv.cfg.jwt == NULL) {
		fprintf(stderr, "madang-api: --user-rooms needs --jwt-secret-file (owners are "
		                "token subjects)\n");
		return 2;
	}
	/* The whole wait holds at least one attempt: an older --timeout above the default wait
	 * raises the wait; both given the other way round is a mistake. */
	if (srv.timeout_ms > srv.broker_wait_ms) {
		if (wait_given) {
			fprintf(stderr,
			        "madang-api: --timeout (%d) is longer than --broker-wait-ms (%d)\n",
			        srv.timeout_ms, srv.broker_wait_ms);
			return 2;
		}
		srv.broker_wait_ms = srv.timeout_ms;
	}
	if ((rpc_list = strdup(rpc_arg != NULL ? rpc_arg : ipc_default_rpc_url())) == NULL ||
	    split_urls(rpc_list, urls, &nurls, err, sizeof(err)) != 0) {
		fprintf(stderr, "madang-api: %s\n", rpc_list != NULL ? err : "out of memory");
		free(rpc_list);
		return 2;
	}
	log_init("madang-api", srv.verbose ? LOG_LVL_DEBUG : LOG_LVL_INFO);
	for (size_t i = 0; i < nurls; i++) {
		if (ipc_dial_check(urls[i], err, sizeof(err)) != 0) {
			log_error("api: refusing the broker's socket directory: %s", err);
			goto out_list;
		}
	}
	if (tls_check(&tls, urls, nurls, true, "api", tls_err, sizeof(tls_err)) != 0) {
		log_error("api: not started: %s", tls_err);
		goto out_list;
	}
	if (token_file != NULL && (token = read_token(token_file, err, sizeof(err))) == NULL) {
		log_error("api: admin token: %s", err);
		status = 2;
		goto out_list;
	}
	srv.cfg.admin_token = token;
	srv.cfg.reads_need_token = srv.cfg.jwt != NULL && !public_reads;

	/* Signals. SIGTERM (systemd's stop), SIGINT (Ctrl-C) and SIGUSR1 (libfcgi's own
	 * "shutdown" signal, which would otherwise break in-flight requests) stop gracefully: no
	 * new request is accepted and every one being answered is finished, so nginx or Apache
	 * never sees a response cut in half. SIGHUP is logged and ignored: there is nothing to
	 * reload (the options are read once), and a terminal closing must not stop the API.
	 * SIGPIPE is ignored so that a web server that hangs up costs only that response. The
	 * four are blocked before the worker threads start (they inherit the mask) and only the
	 * main thread takes them, with sigwait: the stop runs in a normal thread context. */
	signal(SIGPIPE, SIG_IGN);
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);

	if (listen_spec != NULL)
		srv.listen_fd = api_listen_open(listen_spec, backlog, err, sizeof(err));
	else
		srv.listen_fd = api_listen_inherited(err, sizeof(err));
	if (srv.listen_fd < 0) {
		log_error("api: %s", err);
		goto out_token;
	}
	/* The links are logged from the first one on: which broker serves, across failovers. */
	if ((rv = rpc_socket(&srv.rpc)) != 0) {
		log_error("api: broker socket: %s", nng_strerror(rv));
		goto out_listen;
	}
	if ((rv = redial_watch(&redial, srv.rpc, api_dial, &tls, rpc_link_event, "api")) != 0) {
		log_error("api: broker socket: %s", nng_strerror(rv));
		goto out_rpc;
	}
	for (size_t i = 0; i < nurls; i++)
		if (redial_add(&redial, urls[i]) != 0)
			goto out_rpc;
	if ((rv = FCGX_Init()) != 0) {
		log_error("api: FCGX_Init failed (%d)", rv);
		goto out_rpc;
	}
	api_metrics_init(&metrics, clock_wall_ms(), srv.nthreads);
	srv.cfg.metrics = &metrics;
	if (api_server_start(&srv) != 0)
		goto out_rpc;
	log_info("api: started: %s, broker %s%s, %d threads, timeout %d ms, broker wait %d ms, "
	         "admin token %s%s%s%s, CORS %s",
	         listen_spec != NULL ? listen_spec : "inherited socket",
	         rpc_arg != NULL ? rpc_arg : urls[0],
	         tls_url_is_tls(urls[nurls - 1]) ? " (mutual TLS)" : "", srv.started,
	         srv.timeout_ms, srv.broker_wait_ms, token != NULL ? "on" : "off",
	         srv.cfg.jwt != NULL ? ", JWT admin on" : "",
	         srv.cfg.user_rooms ? ", any token may create rooms" : "",
	         srv.cfg.reads_need_token ? ", room reads need a token" : "",
	         srv.cfg.cors_origin != NULL ? srv.cfg.cors_origin : "off");
	sd_notify_send("READY=1\nSTATUS=serving");

	for (;;) {
		/* Every second without a signal: a dialer that nng gave up is replaced. */
		struct timespec second = {1, 0};
		if ((sig = sigtimedwait(&set, NULL, &second)) < 0) {
			size_t n = redial_check(&redial, clock_mono_ms());
			if (n > 0)
				log_debug("api: no broker connection for %u ms: dialing again "
				          "(%zu dialers)",
				          REDIAL_IDLE_MS, n);
			continue;
		}
		if (sig == SIGHUP) {
			log_info("api: SIGHUP ignored (restart to change the configuration)");
			continue;
		}
		break;
	}
	log_info("api: %s: stopping, finishing requests in flight", strsignal(sig));
	sd_notify_send("STOPPING=1");
	stopguard_arm(stop_timeout, "api", "the requests in flight");
	api_server_stop(&srv);
	status = 0;
	log_info("api: stopped");
out_rpc:
	/* nng 1.5.2 can deadlock in nng_close (common/stopguard.h): bounded, and every request
	 * has been answered by now. */
	stopguard_cleanup(stop_timeout, "api", "nng_close", status);
	nng_close(srv.rpc);
out_listen:
	close(srv.listen_fd);
	if (listen_spec != NULL && strncmp(listen_spec, "unix:", 5) == 0)
		unlink(listen_spec + 5); /* ours: made by api_listen_open */
out_token:
	free(token);
out_list:
	free(rpc_list);
	return status;
}
