/* testproc.c — process and broker-call helpers for the C integration tests. */
#include "testproc.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <nng/protocol/pubsub0/sub.h>

#include "rpc.h"
#include "wire.h"

const char *
tbin(const char *name, char *buf, size_t size)
{
	const char *dir = getenv("MADANG_BIN");

	snprintf(buf, size, "%s/%s", dir ? dir : "build/bin", name);
	return buf;
}

static void
msleep(int ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
	nanosleep(&ts, NULL);
}

static int
spawn_only(struct tbroker *tb, const char *const *extra)
{
	char bin[256];
	const char *argv[64];
	int n = 0;

	/* MADANG_TEST_WRAPPER runs the broker under a tool, e.g. "valgrind --leak-check=full". */
	static char wrap[512];
	const char *w = getenv("MADANG_TEST_WRAPPER");
	if (w != NULL && *w) {
		snprintf(wrap, sizeof(wrap), "%s", w);
		for (char *tok = strtok(wrap, " "); tok && n < 16; tok = strtok(NULL, " "))
			argv[n++] = tok;
	}
	argv[n++] = tbin("madang-broker", bin, sizeof(bin));
	argv[n++] = "--rpc";
	argv[n++] = tb->rpc;
	argv[n++] = "--events";
	argv[n++] = tb->events;
	for (int i = 0; extra && extra[i] && n < 62; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(tb->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	tb->pid = pid;
	return 0;
}

int
tbroker_wait_ready(struct tbroker *tb, int timeout_ms)
{
	pid_t pid = tb->pid;

	/* Ready when it answers health. */
	nng_socket s;
	if (rpc_open(&s, tb->rpc) != 0)
		return -1;
	for (int i = 0; i < timeout_ms / 50; i++) {
		cJSON *r = NULL;
		if (rpc_call_raw(s, "{\"op\":\"health\"}", 15, &r, 200) == 0) {
			cJSON_Delete(r);
			nng_close(s);
			return 0;
		}
		if (waitpid(pid, NULL, WNOHANG) == pid) {
			tb->pid = 0;
			break;
		}
		msleep(50);
	}
	nng_close(s);
	return -1;
}

int
tbroker_spawn(struct tbroker *tb, const char *const *extra)
{
	snprintf(tb->dir, sizeof(tb->dir), "/tmp/madang-it.XXXXXX");
	if (mkdtemp(tb->dir) == NULL)
		return -1;
	snprintf(tb->rpc, sizeof(tb->rpc), "ipc://%s/rpc", tb->dir);
	snprintf(tb->events, sizeof(tb->events), "ipc://%s/events", tb->dir);
	snprintf(tb->log, sizeof(tb->log), "%s/broker.log", tb->dir);
	return spawn_only(tb, extra);
}

int
tbroker_respawn(struct tbroker *tb, const char *const *extra)
{
	return spawn_only(tb, extra);
}

int
tbroker_start(struct tbroker *tb, const char *const *extra)
{
	if (tbroker_spawn(tb, extra) != 0)
		return -1;
	return tbroker_wait_ready(tb, 15000);
}

int
tbroker_restart(struct tbroker *tb, const char *const *extra)
{
	if (tbroker_respawn(tb, extra) != 0)
		return -1;
	return tbroker_wait_ready(tb, 15000);
}

int
tbroker_signal(struct tbroker *tb, int sig)
{
	int status;

	if (tb->pid <= 0)
		return -1;
	kill(tb->pid, sig);
	for (int i = 0; i < 400; i++) {
		pid_t w = waitpid(tb->pid, &status, WNOHANG);
		if (w == tb->pid) {
			tb->pid = 0;
			if (WIFEXITED(status))
				return WEXITSTATUS(status);
			return 128 + WTERMSIG(status);
		}
		msleep(50);
	}
	kill(tb->pid, SIGKILL);
	waitpid(tb->pid, &status, 0);
	tb->pid = 0;
	return -1;
}

int
tbroker_stop(struct tbroker *tb)
{
	int rc = tb->pid > 0 ? tbroker_signal(tb, SIGTERM) : 0;
	char line[512];
	FILE *fp;

	if (rc == 0) {
		tbroker_cleanup(tb);
		return 0;
	}
	fprintf(stderr, "broker exit status %d after SIGTERM (log: %s)\n", rc, tb->log);
	if ((fp = fopen(tb->log, "r")) != NULL) {
		fprintf(stderr, "--- %s ---\n", tb->log);
		while (fgets(line, sizeof(line), fp) != NULL)
			fputs(line, stderr);
		fprintf(stderr, "--- end of log ---\n");
		fclose(fp);
	}
	return -1;
}

void
tbroker_cleanup(struct tbroker *tb)
{
	char cmd[300];

	if (tb->pid > 0)
		tbroker_signal(tb, SIGKILL);
	if (getenv("T_KEEP") == NULL && tb->dir[0]) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tb->dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cleanup of %s failed\n", tb->dir);
	}
}

cJSON *
tcall(nng_socket req, const char *json)
{
	cJSON *r = NULL;

	if (rpc_call_raw(req, json, strlen(json), &r, TCALL_TIMEOUT_MS) != 0)
		return NULL;
	return r;
}

cJSON *
tcallf(nng_socket req, const char *fmt, ...)
{
	char buf[8192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	cJSON *r = tcall(req, buf);
	assert_non_null(r);
	return r;
}

void
tcall_ok(nng_socket req, const char *json)
{
	cJSON *r = tcallf(req, "%s", json);
	if (!tj_bool(r, "ok"))
		fail_msg("request %s failed: %s %s", json, tj_str(r, "error"), tj_str(r, "message"));
	cJSON_Delete(r);
}

int
tpg_sql(const char *host, const char *user, const char *db, const char *sql)
{
	char cmd[1024];

	snprintf(cmd, sizeof(cmd), "psql -X -q -v ON_ERROR_STOP=1 -h '%s' -U '%s' -d '%s' -c \"%s\" >/dev/null",
	         host, user, db, sql);
	return system(cmd) == 0 ? 0 : -1;
}

int
tstore_make(struct tstore *s, const char *tag, const char *pg_host, const char *pg_user)
{
	static int n;
	char sql[320];

	memset(s, 0, sizeof(*s));
	s->pg_host = pg_host;
	s->pg_user = pg_user;
	n++;
	if (pg_host == NULL) {
		snprintf(s->data, sizeof(s->data), "/tmp/madang-it-%s.%d.%d", tag, (int)getpid(), n);
		s->args[0] = "--data";
		s->args[1] = s->data;
		return 0;
	}
	snprintf(s->data, sizeof(s->data), "madang_%s_%d_%d", tag, (int)getpid(), n);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", s->data);
	if (tpg_sql(pg_host, pg_user, "postgres", sql) != 0) {
		s->data[0] = '\0';
		return -1;
	}
	snprintf(s->uri, sizeof(s->uri), "host=%s user=%s dbname=%s", pg_host, pg_user, s->data);
	s->args[0] = "--store";
	s->args[1] = s->uri;
	return 0;
}

int
tstore_drop(struct tstore *s)
{
	char cmd[400];
	int rc;

	if (s->data[0] == '\0')
		return 0;
	if (s->pg_host != NULL) {
		snprintf(cmd, sizeof(cmd), "DROP DATABASE IF EXISTS %s", s->data);
		rc = tpg_sql(s->pg_host, s->pg_user, "postgres", cmd);
	} else {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", s->data);
		rc = system(cmd) == 0 ? 0 : -1;
	}
	s->data[0] = '\0';
	return rc;
}

const char *
tj_str(const cJSON *o, const char *key)
{
	const char *s = o ? wire_str(o, key, NULL) : NULL;
	return s ? s : "";
}

long long
tj_int(const cJSON *o, const char *key)
{
	int64_t v;
	return o && wire_int(o, key, &v) ? (long long)v : -1;
}

bool
tj_bool(const cJSON *o, const char *key)
{
	bool v;
	return o && wire_bool(o, key, &v) && v;
}

int
tsub_open(nng_socket *s, const char *url, const char *topic)
{
	int rv;

	if ((rv = nng_sub0_open(s)) != 0)
		return rv;
	nng_socket_set_int(*s, NNG_OPT_RECVBUF, 8192);
	if ((rv = nng_socket_set(*s, NNG_OPT_SUB_SUBSCRIBE, topic, strlen(topic))) != 0)
		return rv;
	if ((rv = nng_dial(*s, url, NULL, 0)) != 0)
		return rv;
	msleep(50); /* let the pipe settle: pub drops what is sent before it exists */
	return 0;
}

/* Event messages may carry several events, one JSON object per line: the lines not yet returned
 * wait here, per socket. */
static struct {
	int id;
	char *buf, *next;
	char topic[80];
} tsub_pending[8];

cJSON *
tsub_recv(nng_socket s, int timeout_ms, char *topic_out, size_t topic_size)
{
	const char *topic, *json, *why;
	size_t tlen, jlen;
	int slot = (int)(nng_socket_id(s) % 8);

	if (tsub_pending[slot].id != nng_socket_id(s) || tsub_pending[slot].next == NULL) {
		nng_msg *m;
		free(tsub_pending[slot].buf);
		memset(&tsub_pending[slot], 0, sizeof(tsub_pending[slot]));
		nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, timeout_ms);
		if (nng_recvmsg(s, &m, 0) != 0)
			return NULL;
		if (!wire_split_event(nng_msg_body(m), nng_msg_len(m), &topic, &tlen, &json,
		                      &jlen) ||
		    tlen >= sizeof(tsub_pending[slot].topic)) {
			nng_msg_free(m);
			return NULL;
		}
		tsub_pending[slot].id = nng_socket_id(s);
		memcpy(tsub_pending[slot].topic, topic, tlen);
		tsub_pending[slot].buf = strndup(json, jlen);
		tsub_pending[slot].next = tsub_pending[slot].buf;
		nng_msg_free(m);
	}
	char *line = tsub_pending[slot].next, *nl = strchr(line, '\n');
	if (nl != NULL) {
		*nl = '\0';
		tsub_pending[slot].next = nl + 1;
	} else {
		tsub_pending[slot].next = NULL;
	}
	if (topic_out && topic_size > strlen(tsub_pending[slot].topic))
		strcpy(topic_out, tsub_pending[slot].topic);
	return wire_parse_object(line, strlen(line), 1u << 24, &why);
}
