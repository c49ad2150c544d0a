/* log.c — leveled logging to stderr. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *log_prog = "madang";
static enum log_level log_max = LOG_LVL_INFO;
static int log_journal;

void
log_init(const char *prog, enum log_level max)
{
	log_prog = prog;
	log_max = max;
	log_journal = getenv("JOURNAL_STREAM") != NULL;
}

int
log_enabled(enum log_level lvl)
{
	return lvl <= log_max;
}

static const char *
log_level_name(enum log_level lvl)
{
	switch (lvl) {
	case LOG_LVL_ERROR:
		return "error";
	case LOG_LVL_WARN:
		return "warn";
	case LOG_LVL_INFO:
		return "info";
	default:
		return "debug";
	}
}

void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	char line[2048];
	int n = 0;
	va_list ap;

	if (!log_enabled(lvl))
		return;
	if (log_journal) {
		n = snprintf(line, sizeof(line), "<%d>%s: ", (int)lvl, log_level_name(lvl));
	} else {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		gmtime_r(&ts.tv_sec, &tm);
		n = snprintf(line, sizeof(line), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s[%d] %s: ",
			     tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			     tm.tm_sec, ts.tv_nsec / 1000000, log_prog, (int)getpid(),
			     log_level_name(lvl));
	}
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	size_t len = (size_t)n + (size_t)m;
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	/* One write() per line so that lines of several processes sharing a terminal do not mix. */
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
}
