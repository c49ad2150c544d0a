/* stopguard.h — a bound on how long a daemon takes to stop. Once armed, a thread of its own
 * ends the process with _exit(1) (after a log line) if it is still running when the time is up,
 * or, in the last phase, with the stop's own status (stopguard_cleanup).
 * nng 1.5.2, the version Debian 12 ships, can deadlock inside nng_close (upstream issues
 * #1543 and #1813, fixed after that release); a daemon stuck there would otherwise hang until
 * systemd's TimeoutStopSec kills it, or forever where nothing does. Any thread. */
#ifndef MADANG_STOPGUARD_H
#define MADANG_STOPGUARD_H

#define STOPGUARD_MAX_S 3600 /* --stop-timeout's upper limit, in seconds */

/* Arms the guard: the process ends with _exit(1) seconds from now unless it has exited, with
 * "WHO: still stopping after N s (stuck in CONTEXT?): exiting now" logged first. who and context
 * must outlive the process (string literals). Armed again, the earlier deadline stays and the
 * context is the new one (where the stop has got to). seconds 0: no bound, nothing is done.
 * Returns 0, or -1 when the guard's thread cannot start. */
int stopguard_arm(unsigned seconds, const char *who, const char *context);

/* The stop's own work is done (clients told, the store closed, every request answered) and
 * what is left is releasing nng (nng_close), which cannot lose anything: bounds that to at most
 * STOPGUARD_CLEANUP_S seconds (seconds, when smaller; never past a deadline already set), then
 * ends the process with _exit(status), the status the stop has earned, with "WHO: CONTEXT did
 * not return within N s (nng 1.5.2's close deadlock?): exiting with status S" logged as a
 * warning. seconds 0: no bound. Returns as stopguard_arm. */
#define STOPGUARD_CLEANUP_S 3
int stopguard_cleanup(unsigned seconds, const char *who, const char *context, int status);

/* Disarms it (a daemon that goes on after closing its sockets, such as a broker that lost its
 * database session and stands by again). */
void stopguard_disarm(void);

#endif
