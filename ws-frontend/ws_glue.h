/* ws_glue.h — madang-ws's lws context and loop: the protocol callbacks (dispatching to
 * ws_conn and ws_http), our own listening socket (shared with SO_REUSEPORT when asked), signals
 * read from a signalfd inside the loop, the tick, the end-of-turn work (reap, requests,
 * writes) and the clean stop on SIGTERM/SIGINT.
 *
 * Threads: the lws service thread (glue_init and glue_fini on it before and after the loop). */
#ifndef MADANG_WS_GLUE_H
#define MADANG_WS_GLUE_H

/* Creates the context, the listener and the signal descriptor, then starts the broker link.
 * Returns 0 or -1 (logged). */
int glue_init(void);
/* Runs the loop until the stop is done. Returns 0, or -1 when lws failed. */
int glue_run(void);
void glue_fini(void);

#endif
