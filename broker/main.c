/* main.c — madang-broker: command line, signals, start-up. */
#include <errno.h>
#include <stdint.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "ipc.h"
#include "limits.h"
#include "log.h"
#include "opt.h"
#include "server.h"
#include "stopguard.h"
#include "store.h"
#include "tls.h"

#define PROG "madang-broker"

static void
usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: madang-broker [options]\n"
	    "  --rpc URL               request/reply endpoint (default %s)\n"
	    "  --events URL            event endpoint (default %s)\n"
	    "                          (default directory: " MADANG_IPC_ROOT_DIR " as root,\n"
	    "                          else $XDG_RUNTIME_DIR/" MADANG_IPC_DIR_NAME
	    "; created 0700; one\n"
	    "                          that another user owns or may write is refused)\n"
	    "  --ipc-mode MODE         mode of ipc:// socket files: 0600 (default) or 0660\n"
	    "  --rooms FILE            rooms to create at start, JSON "
	    "{\"rooms\":[{\"id\",\"name\"}]}\n"
	    "                          (default: room1..room4 of the original design)\n"
	    "  --history N             events kept per room in memory (default 100, 0..100000)\n"
	    "  --allow-create          allow create_room, and joins that create unknown rooms\n"
	    "                          (ephemeral: never stored, removed when empty)\n"
	    "  --ephemeral-per-addr N  rooms joins may create per client address (default 16)\n"
	    "  --ephemeral-per-user N  rooms joins may create per nickname (default 4;\n"
	    "                          0 in either: joins create no room)\n"
	    "  --frontend-timeout MS   expire a front-end silent this long (default 3000)\n"
	    "  --no-bundles            refuse front-ends' requests for bundled room events\n"
	    "                          (every room's events then go out on its own topic)\n"
	    "  --room-topics           publish every room's events on r/<room_id> even when\n"
	    "                          every front-end takes bundles (for other subscribers)\n"
	    "  --notices ko|en         language of join/leave notices (sender, message):\n"
	    "                          ko (default): 시스템, 민수님이 입장했습니다.;\n"
	    "                          en: system, bob joined\n"
	    "  --max-members N         members per room (default 1000)\n"
	    "  --max-rooms N           rooms per broker (default 10000)\n"
	    "  --max-bans N            bans per room, and mutes per room (default 1000,\n"
	    "                          1..100000)\n"
	    "  --audit-days N          days a store keeps moderation audit entries (default 90,\n"
	    "                          1..3650)\n"
	    "  --rooms-per-owner N     rooms one subject may own when madang-api creates them for\n"
	    "                          a user (--user-rooms; default 10, 1..10000)\n"
	    "  --inflight N            requests received at once (default 64, 1..4096)\n"
	    "  --stop-timeout S        after SIGTERM, exit with status 1 if still stopping\n"
	    "                          after S seconds (default 15, 0..3600; 0: no limit)\n"
	    "  --data DIR              keep rooms and history in DIR/madang.db (SQLite, WAL);\n"
	    "                          without it everything is in memory only\n"
	    "  --store URI             keep them in PostgreSQL instead: a URI (postgresql://…)\n"
	    "                          or conninfo (\"host=… dbname=…\"); PG* variables and\n"
	    "                          ~/.pgpass apply. Brokers on one store are a cluster:\n"
	    "                          one is active and listens, the others stand by\n"
	    "  --cluster NAME          the cluster's name, [A-Za-z0-9_.-]{1,63} "
	    "(default " STORE_CLUSTER_DEFAULT ")\n"
	    "  --sync full|normal|off  how hard each batch is pushed to disk (--data; default "
	    "full:\n"
	    "                          fsync per batch; normal: survives a broker crash, not\n"
	    "                          a power cut; off: leaves it to the OS)\n"
	    "  --history-keep N        events kept on disk per room (default 10000, 0 = all)\n"
	    "  --history-days D        events younger than D days kept (default 0 = no "
	    "limit)\n" TLS_USAGE_LISTENER
	    "  -v, --verbose           log every request error and debug detail\n"
	    "  -h, --help              this text;  --version  the version\n",
	    ipc_default_rpc_url(), ipc_default_events_url());
}

static bool
cluster_name_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > STORE_CLUSTER_MAX)
		return false;
	for (; *s; s++) {
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' || *s == '-'))
			return false;
	}
	return true;
}

struct rooms_arg {
	const char *file;
};

static int
add_rooms(struct broker *b, void *arg)
{
	struct rooms_arg *ra = arg;
	char err[256];
	FILE *f;
	char *buf;
	long len;

	if (ra->file == NULL)
		return broker_add_default_rooms(b);
	if ((f = fopen(ra->file, "rb")) == NULL) {
		log_error("broker: cannot open rooms file %s: %s", ra->file, strerror(errno));
		return -1;
	}
	if (fseek(f, 0, SEEK_END) != 0 || (len = ftell(f)) < 0 || len > 16 * 1024 * 1024 ||
	    fseek(f, 0, SEEK_SET) != 0 || (buf = malloc((size_t)len + 1)) == NULL) {
		log_error("broker: cannot read rooms file %s (at most 16 MiB)", ra->file);
		fclose(f);
		return -1;
	}
	size_t got = fread(buf, 1, (size_t)len, f);
	fclose(f);
	int rv = broker_load_rooms(b, buf, got, err, sizeof(err));
	free(buf);
	if (rv != 0)
		log_error("broker: rooms file %s: %s", ra->file, err);
	return rv;
}

static unsigned stop_timeout; /* --stop-timeout, for the signal thread */

static void *
signal_thread(void *arg)
{
	sigset_t *set = arg;
	int sig;

	for (;;) {
		if (sigwait(set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			log_info("broker: SIGHUP ignored (nothing to reload)");
			continue;
		}
		log_info("broker: %s received", sig == SIGTERM ? "SIGTERM" : "SIGINT");
		server_stop();
		stopguard_arm(stop_timeout, "broker", "the last batch or the store");
		return NULL;
	}
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"rpc", required_argument, NULL, 'r'},
	    {"events", required_argument, NULL, 'e'},
	    {"rooms", required_argument, NULL, 'R'},
	    {"history", required_argument, NULL, 'H'},
	    {"allow-create", no_argument, NULL, 'c'},
	    {"ephemeral-per-addr", required_argument, NULL, 'a'},
	    {"ephemeral-per-user", required_argument, NULL, 'u'},
	    {"frontend-timeout", required_argument, NULL, 't'},
	    {"no-bundles", no_argument, NULL, 'B'},
	    {"room-topics", no_argument, NULL, 'T'},
	    {"notices", required_argument, NULL, 'N'},
	    {"max-members", required_argument, NULL, 'm'},
	    {"max-rooms", required_argument, NULL, 'M'},
	    {"inflight", required_argument, NULL, 'i'},
	    {"stop-timeout", required_argument, NULL, 'Q'},
	    {"max-bans", required_argument, NULL, 'b'},
	    {"audit-days", required_argument, NULL, 'A'},
	    {"rooms-per-owner", required_argument, NULL, 'O'},
	    {"data", required_argument, NULL, 'D'},
	    {"sync", required_argument, NULL, 'S'},
	    {"store", required_argument, NULL, 'G'},
	    {"cluster", required_argument, NULL, 'C'},
	    {"history-keep", required_argument, NULL, 'k'},
	    {"history-days", required_argument, NULL, 'd'},
	    {"ipc-mode", required_argument, NULL, 'P'},
	    TLS_LONG_OPTIONS_LISTENER,
	    {"verbose", no_argument, NULL, 'v'},
	    {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},
	    {NULL, 0, NULL, 0},
	};
	struct server_config scfg = {
	    .rpc_url = ipc_default_rpc_url(),
	    .events_url = ipc_default_events_url(),
	    .ipc_mode = MADANG_IPC_SOCKET_MODE,
	    .inflight = 64,
	    .stop_timeout = SRV_STOP_TIMEOUT_S,
	    .sync = STORE_SYNC_FULL,
	    .keep = 10000,
	    .cluster = STORE_CLUSTER_DEFAULT,
	};
	struct broker_config bcfg;
	struct rooms_arg ra = {NULL};
	struct tls_opts tls = {NULL, NULL, NULL};
	enum log_level lvl = LOG_LVL_INFO;
	long long v;
	int c;

	broker_config_defaults(&bcfg);
	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			scfg.rpc_url = optarg;
			break;
		case 'e':
			scfg.events_url = optarg;
			break;
		case 'R':
			ra.file = optarg;
			break;
		case 'H':
			if (opt_number_cli(PROG, "--history", optarg, 0, MADANG_HISTORY_MAX, &v) !=
			    0)
				return 2;
			bcfg.history = (size_t)v;
			break;
		case 'c':
			bcfg.allow_create = true;
			break;
		case 'a':
			if (opt_number_cli(PROG, "--ephemeral-per-addr", optarg, 0, 1000000, &v) !=
			    0)
				return 2;
			bcfg.ephemeral_per_addr = (uint32_t)v;
			break;
		case 'u':
			if (opt_number_cli(PROG, "--ephemeral-per-user", optarg, 0, 1000000, &v) !=
			    0)
				return 2;
			bcfg.ephemeral_per_user = (uint32_t)v;
			break;
		case 'B':
			bcfg.bundles = false;
			break;
		case 'T':
			bcfg.room_topics = true;
			break;
		case 't':
			if (opt_number_cli(PROG, "--frontend-timeout", optarg, 100, 3600000, &v) !=
			    0)
				return 2;
			bcfg.frontend_timeout_ms = (uint64_t)v;
			break;
		case 'N':
			if (strcmp(optarg, "ko") == 0)
				bcfg.notices = BROKER_NOTICES_KO;
			else if (strcmp(optarg, "en") == 0)
				bcfg.notices = BROKER_NOTICES_EN;
			else {
				fprintf(stderr, "madang-broker: --notices is ko or en\n");
				return 2;
			}
			break;
		case 'm':
			if (opt_number_cli(PROG, "--max-members", optarg, 1, 1000000, &v) != 0)
				return 2;
			bcfg.max_members = (uint32_t)v;
			break;
		case 'M':
			if (opt_number_cli(PROG, "--max-rooms", optarg, 1, 10000000, &v) != 0)
				return 2;
			bcfg.max_rooms = (uint32_t)v;
			break;
		case 'b':
			if (opt_number_cli(PROG, "--max-bans", optarg, 1, 100000, &v) != 0)
				return 2;
			bcfg.max_bans = (uint32_t)v;
			break;
		case 'A':
			if (opt_number_cli(PROG, "--audit-days", optarg, 1, 3650, &v) != 0)
				return 2;
			bcfg.audit_days = (uint32_t)v;
			break;
		case 'O':
			if (opt_number_cli(PROG, "--rooms-per-owner", optarg, 1, 10000, &v) != 0)
				return 2;
			bcfg.rooms_per_owner = (uint32_t)v;
			break;
		case 'i':
			if (opt_number_cli(PROG, "--inflight", optarg, 1, 4096, &v) != 0)
				return 2;
			scfg.inflight = (int)v;
			break;
		case 'Q':
			if (opt_number_cli(PROG, "--stop-timeout", optarg, 0, STOPGUARD_MAX_S,
			                   &v) != 0)
				return 2;
			scfg.stop_timeout = (unsigned)v;
			break;
		case 'D':
			scfg.data_dir = optarg;
			break;
		case 'G':
			if (optarg[0] == '\0') {
				fprintf(stderr, "madang-broker: --store needs a URI or conninfo\n");
				return 2;
			}
			scfg.store_uri = optarg;
			break;
		case 'C':
			if (!cluster_name_ok(optarg)) {
				fprintf(stderr,
				        "madang-broker: --cluster is [A-Za-z0-9_.-]{1,%d}\n",
				        STORE_CLUSTER_MAX);
				return 2;
			}
			scfg.cluster = optarg;
			break;
		case 'S':
			if (strcmp(optarg, "full") == 0)
				scfg.sync = STORE_SYNC_FULL;
			else if (strcmp(optarg, "normal") == 0)
				scfg.sync = STORE_SYNC_NORMAL;
			else if (strcmp(optarg, "off") == 0)
				scfg.sync = STORE_SYNC_OFF;
			else {
				fprintf(stderr, "madang-broker: --sync is full, normal or off\n");
				return 2;
			}
			break;
		case 'k':
			if (opt_number_cli(PROG, "--history-keep", optarg, 0, INT64_C(1) << 40,
			                   &v) != 0)
				return 2;
			scfg.keep = (uint64_t)v;
			break;
		case 'd':
			if (opt_number_cli(PROG, "--history-days", optarg, 0, 36500, &v) != 0)
				return 2;
			scfg.keep_days = (uint32_t)v;
			break;
		case 'P':
			if (ipc_parse_mode(optarg, &scfg.ipc_mode) != 0) {
				fprintf(stderr, "madang-broker: --ipc-mode is 0600 or 0660\n");
				return 2;
			}
			break;
		case TLS_OPT_CA:
		case TLS_OPT_CERT:
			tls_opt_set(&tls, c, optarg);
			break;
		case 'v':
			lvl = LOG_LVL_DEBUG;
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
	if (optind < argc) {
		fprintf(stderr, "madang-broker: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	if (scfg.data_dir != NULL && scfg.store_uri != NULL) {
		fprintf(stderr,
		        "madang-broker: --data (SQLite) and --store (PostgreSQL) exclude each "
		        "other: give one\n");
		return 2;
	}
	if (bcfg.join_history > bcfg.history)
		bcfg.join_history = (uint32_t)bcfg.history;
	log_init("madang-broker", lvl);
	char tls_err[512];
	const char *urls[2] = {scfg.rpc_url, scfg.events_url};
	if (tls_check(&tls, urls, 2, false, "broker", tls_err, sizeof(tls_err)) != 0) {
		log_error("broker: not started: %s", tls_err);
		return 1;
	}
	scfg.tls = &tls;
	scfg.audit_days = bcfg.audit_days; /* the store prunes the audit trail (--audit-days) */

	/* Signals. SIGTERM (systemd's stop) and SIGINT (Ctrl-C under make run) stop gracefully:
	 * server_stop ends the loop after the batch in hand is committed and answered, then the
	 * front-ends are told at once (broker_stopping) and the store is closed cleanly. SIGHUP is
	 * logged and ignored: there is nothing to reload, and a broker that died with its terminal
	 * would take every room with it. SIGPIPE is ignored so that a front-end hanging up costs
	 * only its nng pipe. The three are blocked in every thread (nng's included, hence before
	 * any starts) and read by one thread with sigwait, which may then call server_stop (no
	 * handler runs in signal context). */
	static sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	pthread_t sigt;
	stop_timeout = scfg.stop_timeout;
	if (pthread_create(&sigt, NULL, signal_thread, &set) != 0) {
		log_error("broker: cannot start the signal thread");
		return 1;
	}
	pthread_detach(sigt);

	int rv = server_run(&scfg, &bcfg, add_rooms, &ra);
	if (rv == 0)
		log_info("broker: stopped");
	else
		log_error("broker: not started (see the error above)");
	return rv == 0 ? 0 : 1;
}
