/* sdnotify.h — the systemd notify protocol without libsystemd: READY=1, STOPPING=1, STATUS=...,
 * WATCHDOG=1, sent as one datagram to $NOTIFY_SOCKET. A no-op when not started by systemd. */
#ifndef MADANG_SDNOTIFY_H
#define MADANG_SDNOTIFY_H

/* Sends state (e.g. "READY=1\nSTATUS=serving"). Returns 0, or -1 with errno when sending failed;
 * returns 0 and does nothing when $NOTIFY_SOCKET is unset. */
int sd_notify_send(const char *state);

#endif
