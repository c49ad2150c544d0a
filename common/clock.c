/* clock.c — monotonic and wall clocks. */
#include "clock.h"

#include <stdio.h>
#include <time.h>

uint64_t
clock_mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t
clock_mono_ms(void)
{
	return clock_mono_ns() / 1000000u;
}

int64_t
clock_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The format holds the years 0000 to 9999: a time outside them (a corrupt stored event, say) is
 * written as the nearest time it holds, so the text is always the same 24 bytes. */
#define ISO8601_MIN_MS (-62167219200000LL) /* 0000-01-01T00:00:00.000Z */
#define ISO8601_MAX_MS 253402300799999LL   /* 9999-12-31T23:59:59.999Z */

char *
clock_iso8601(int64_t wall_ms, char out[CLOCK_ISO8601_LEN])
{
	struct tm tm;
	time_t secs;
	int ms;

	if (wall_ms < ISO8601_MIN_MS)
		wall_ms = ISO8601_MIN_MS;
	else if (wall_ms > ISO8601_MAX_MS)
		wall_ms = ISO8601_MAX_MS;
	secs = (time_t)(wall_ms / 1000);
	ms = (int)(wall_ms % 1000);
	if (ms < 0) {
		ms += 1000;
		secs -= 1;
	}
	gmtime_r(&secs, &tm);
	/* Unsigned and reduced, so that the compiler sees each field's width too. */
	snprintf(out, CLOCK_ISO8601_LEN, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ",
	         (unsigned)(tm.tm_year + 1900) % 10000u, (unsigned)(tm.tm_mon + 1) % 100u,
	         (unsigned)tm.tm_mday % 100u, (unsigned)tm.tm_hour % 100u,
	         (unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u, (unsigned)ms % 1000u);
	return out;
}
