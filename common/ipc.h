/* ipc.h — where the broker's ipc:// sockets live by default, and the checks that keep another
 * local user from putting a fake broker in their place (docs/deploy-systemd.md, "Who may
 * connect to the broker"). Used by madang-broker (listen side) and madang-ws, madang-api and
 * the tools (dial side). No nng here: the broker sets the socket mode itself. */
#ifndef MADANG_IPC_H
#define MADANG_IPC_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define MADANG_IPC_ROOT_DIR    "/run/madang" /* default socket directory as root */
#define MADANG_IPC_DIR_NAME    "madang"      /* under $XDG_RUNTIME_DIR otherwise */
#define MADANG_IPC_RPC_NAME    "broker.rpc"
#define MADANG_IPC_EVENTS_NAME "broker.events"
#define MADANG_IPC_DIR_MODE    0700 /* a socket directory the broker creates */
#define MADANG_IPC_SOCKET_MODE 0600 /* the broker's sockets (--ipc-mode 0600 or 0660) */
#define MADANG_IPC_URL_MAX     256  /* an ipc:// URL; its path must also fit sun_path (108) */

/* Writes the default socket directory for a process running as euid, given the value of
 * $XDG_RUNTIME_DIR (NULL when unset): /run/madang as root; else $XDG_RUNTIME_DIR/madang when
 * that is an absolute path; else /tmp/madang-<euid> (which the checks below make safe: one
 * created by another user is refused). Returns 0, or -1 when it does not fit in out. */
int ipc_default_dir(uid_t euid, const char *xdg, char *out, size_t outsz);

/* The default request/reply and event URLs of this process ("ipc://DIR/broker.rpc" and
 * "ipc://DIR/broker.events"), resolved from geteuid() and the environment at the first call.
 * Not thread-safe at the first call: call it from main() before starting threads. */
const char *ipc_default_rpc_url(void);
const char *ipc_default_events_url(void);

/* The file system path of an ipc:// URL, or NULL for any other scheme. */
const char *ipc_url_path(const char *url);

/* Checks the directory dir that holds (or will hold) a socket, for a process running as euid.
 * Refused (-1 with a reason in err): dir missing or not a directory (a symbolic link included);
 * dir owned by another user than euid or root; dir writable by others, or with own (the
 * broker) by its group; any ancestor of dir writable by its group or others without the
 * sticky bit, or owned by another user than root or euid. Returns 0 when it is safe. */
int ipc_dir_check(const char *dir, uid_t euid, bool own, char *err, size_t errsz);

/* Listen side (madang-broker): for an ipc:// URL, creates the socket's directory and its
 * missing parents with mode 0700, then checks it with own = true. Other schemes: 0. */
int ipc_listen_prepare(const char *url, char *err, size_t errsz);

/* Dial side (madang-ws, madang-api, tools): for an ipc:// URL, checks the socket's directory
 * with own = false. A directory that does not exist yet is accepted (the broker will make it).
 * Other schemes: 0. */
int ipc_dial_check(const char *url, char *err, size_t errsz);

/* Parses an --ipc-mode value: "0600" or "0660" (octal). Returns 0 and sets *mode, or -1. */
int ipc_parse_mode(const char *s, int *mode);

#endif
