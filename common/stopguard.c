/* stopguard.c — a bound on how long a daemon takes to stop (stopguard.h). One thread, started
 * on the first arm, sleeps until the deadline under a mutex and a condition variable. */
#include "stopguard.h"

#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool started;
	struct timespec deadline; /* CLOCK_MONOTONIC; tv_sec 0: disarmed */
	unsigned seconds;
	const char *who, *context;
	bool cleanup; /* the last phase (stopguard_cleanup): exit with status */
	int status;
} guard = {.mu = PTHREAD_MUTEX_INITIALIZER};

static bool
before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec || (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static void *
guard_thread(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&guard.mu);
	for (;;) {
		struct timespec now;

		if (guard.deadline.tv_sec == 0) {
			pthread_cond_wait(&guard.cv, &guard.mu);
			continue;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (!before(&now, &guard.deadline))
			break;
		pthread_cond_timedwait(&guard.cv, &guard.mu, &guard.deadline);
	}
	if (guard.cleanup) {
		log_warn("%s: %s did not return within %u s (nng 1.5.2's close deadlock?): exiting "
		         "with status %d",
		         guard.who, guard.context, guard.seconds, guard.status);
		_exit(guard.status);
	}
	log_error("%s: still stopping after %u s (stuck in %s?): exiting now", guard.who,
	          guard.seconds, guard.context);
	_exit(1);
}

/* Arms the guard (stopguard_arm), in the last phase when cleanup is true. */
static int
arm(unsigned seconds, const char *who, const char *context, bool cleanup, int status)
{
	struct timespec when;
	int rv = 0;

	if (seconds == 0)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &when);
	when.tv_sec += seconds;
	pthread_mutex_lock(&guard.mu);
	if (!guard.started) {
		pthread_condattr_t ca;
		pthread_t t;
		sigset_t all, old;

		pthread_condattr_init(&ca);
		pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
		pthread_cond_init(&guard.cv, &ca);
		pthread_condattr_destroy(&ca);
		/* The thread takes no signal: each daemon reads its own where it chose to. */
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		rv = pthread_create(&t, NULL, guard_thread, NULL);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
		if (rv != 0) {
			pthread_cond_destroy(&guard.cv);
			pthread_mutex_unlock(&guard.mu);
			log_error("%s: cannot start the stop guard: %s", who, strerror(rv));
			return -1;
		}
		pthread_detach(t);
		guard.started = true;
	}
	if (guard.deadline.tv_sec == 0 || before(&when, &guard.deadline)) {
		guard.deadline = when;
		guard.seconds = seconds;
		pthread_cond_signal(&guard.cv);
	}
	guard.who = who;
	guard.context = context; /* where the stop is now */
	guard.cleanup = cleanup;
	guard.status = status;
	pthread_mutex_unlock(&guard.mu);
	return 0;
}

int
stopguard_arm(unsigned seconds, const char *who, const char *context)
{
	return arm(seconds, who, context, false, 1);
}

int
stopguard_cleanup(unsigned seconds, const char *who, const char *context, int status)
{
	return arm(seconds < STOPGUARD_CLEANUP_S ? seconds : STOPGUARD_CLEANUP_S, who, context,
	           true, status);
}

void
stopguard_disarm(void)
{
	pthread_mutex_lock(&guard.mu);
	guard.deadline.tv_sec = 0;
	if (guard.started)
		pthread_cond_signal(&guard.cv);
	pthread_mutex_unlock(&guard.mu);
}
