/* clock.h — monotonic and wall clocks, and the ISO-8601 UTC format used on the wire. */
#ifndef MADANG_CLOCK_H
#define MADANG_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#define CLOCK_ISO8601_LEN 25 /* "2026-11-22T03:06:46.123Z" plus NUL */

uint64_t clock_mono_ns(void);
uint64_t clock_mono_ms(void);
int64_t clock_wall_ms(void);
/* Writes wall_ms (ms since the epoch) as "YYYY-MM-DDTHH:MM:SS.mmmZ"; returns out. */
char *clock_iso8601(int64_t wall_ms, char out[CLOCK_ISO8601_LEN]);

#endif
