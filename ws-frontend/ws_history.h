/* ws_history.h — what the history command costs (issue 25: a 60-byte command returned 2 MB):
 * byte budgets per connection (--history-rate) and per client address (--history-rate-per-ip),
 * reserved when a request goes out and settled for the bytes its reply took, and the trim of a
 * reply to --history-max-bytes for a broker that does not do it.
 *
 * Threads: the lws service thread only. */
#ifndef MADANG_WS_HISTORY_H
#define MADANG_WS_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "bucket.h"
#include "session.h"

/* The history byte budget of s's client address, created on first use (now: monotonic ns);
 * NULL when the address is unknown or memory runs out. Paid-up budgets are swept every
 * WS_HISTORY_SWEEP_MS. */
struct bytebucket *history_ip_budget(struct ws_session *s, uint64_t now);
/* Settles a reply's reservation (*reserved bytes, then 0): s's budgets pay for the sent bytes
 * (sent < 0: none went out, all is given back). */
void history_settle(struct ws_session *s, size_t *reserved, int64_t sent);
/* Keeps the newest events of reply's "events" whose JSON fits in max bytes, as the broker
 * would, marking the reply truncated and incomplete when some went. */
void history_trim(cJSON *reply, size_t max);
/* Frees the address budgets (shutdown). */
void history_fini(void);

#endif
