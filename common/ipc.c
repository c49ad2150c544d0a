/* ipc.c — default socket directory and the ownership checks of ipc:// socket directories. */
#include "ipc.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define IPC_PATH_MAX 512

int
ipc_default_dir(uid_t euid, const char *xdg, char *out, size_t outsz)
{
	int n;

	if (euid == 0)
		n = snprintf(out, outsz, "%s", MADANG_IPC_ROOT_DIR);
	else if (xdg != NULL && xdg[0] == '/')
		n = snprintf(out, outsz, "%s/%s", xdg, MADANG_IPC_DIR_NAME);
	else
		n = snprintf(out, outsz, "/tmp/madang-%lu", (unsigned long)euid);
	return n < 0 || (size_t)n >= outsz ? -1 : 0;
}

static char def_rpc[MADANG_IPC_URL_MAX], def_events[MADANG_IPC_URL_MAX];

/* Fills def_rpc and def_events once, from this process's euid and environment. */
static void
defaults_resolve(void)
{
	char dir[MADANG_IPC_URL_MAX - 32];

	if (def_rpc[0] != '\0')
		return;
	if (ipc_default_dir(geteuid(), getenv("XDG_RUNTIME_DIR"), dir, sizeof(dir)) != 0)
		ipc_default_dir(geteuid(), NULL, dir, sizeof(dir)); /* too long: the fallback */
	snprintf(def_rpc, sizeof(def_rpc), "ipc://%s/%s", dir, MADANG_IPC_RPC_NAME);
	snprintf(def_events, sizeof(def_events), "ipc://%s/%s", dir, MADANG_IPC_EVENTS_NAME);
}

const char *
ipc_default_rpc_url(void)
{
	defaults_resolve();
	return def_rpc;
}

const char *
ipc_default_events_url(void)
{
	defaults_resolve();
	return def_events;
}

const char *
ipc_url_path(const char *url)
{
	return url != NULL && strncmp(url, "ipc://", 6) == 0 ? url + 6 : NULL;
}

/* Copies the directory part of an ipc:// URL's path to out. Returns 0, or -1 with err filled. */
static int
url_dir(const char *url, char *out, size_t outsz, char *err, size_t errsz)
{
	const char *path = ipc_url_path(url), *slash;

	if (path == NULL)
		return 1;
	if (path[0] != '/' || (slash = strrchr(path, '/')) == NULL ||
	    (size_t)(slash - path) >= outsz) {
		snprintf(err, errsz,
		         "%s: an ipc:// socket needs an absolute path of at most %zu bytes", url,
		         outsz - 1);
		return -1;
	}
	if (slash == path)
		snprintf(out, outsz, "/");
	else
		snprintf(out, outsz, "%.*s", (int)(slash - path), path);
	return 0;
}

/* The checks of one ancestor: trusted owner, and no one else may rename entries in it. */
static int
ancestor_ok(const char *path, const struct stat *st, uid_t euid, char *err, size_t errsz)
{
	if (st->st_uid != 0 && st->st_uid != euid) {
		snprintf(err, errsz, "%s belongs to another user (uid %lu)", path,
		         (unsigned long)st->st_uid);
		return -1;
	}
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) != 0 && (st->st_mode & S_ISVTX) == 0) {
		snprintf(err, errsz, "%s can be written by other users (mode %04o)", path,
		         (unsigned)(st->st_mode & 07777));
		return -1;
	}
	return 0;
}

int
ipc_dir_check(const char *dir, uid_t euid, bool own, char *err, size_t errsz)
{
	char path[IPC_PATH_MAX];
	struct stat st;
	uid_t owner;

	if (lstat(dir, &st) != 0) {
		snprintf(err, errsz, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errsz, "%s is not a directory", dir);
		return -1;
	}
	owner = st.st_uid;
	if ((st.st_mode & S_IWOTH) != 0 || (own && (st.st_mode & S_IWGRP) != 0)) {
		snprintf(err, errsz,
		         "%s can be written by other users (mode %04o): another user could replace "
		         "the broker's sockets; use a private directory (mode 0700)",
		         dir, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	if (owner != euid && owner != 0) {
		snprintf(err, errsz,
		         "%s belongs to another user (uid %lu): another user could replace the "
		         "broker's sockets; remove it or use a directory of your own",
		         dir, (unsigned long)owner);
		return -1;
	}
	if (snprintf(path, sizeof(path), "%s", dir) >= (int)sizeof(path)) {
		snprintf(err, errsz, "%s: path too long", dir);
		return -1;
	}
	/* Every ancestor, from the parent up to "/". */
	for (;;) {
		char *slash = strrchr(path, '/');

		if (slash == NULL || (slash == path && path[1] == '\0'))
			break;
		if (slash == path)
			slash[1] = '\0';
		else
			*slash = '\0';
		if (stat(path, &st) != 0) {
			snprintf(err, errsz, "%s: %s", path, strerror(errno));
			return -1;
		}
		if (ancestor_ok(path, &st, euid, err, errsz) != 0)
			return -1;
	}
	return 0;
}

/* Creates path and its missing parents with mode 0700 (existing ones are left alone). */
static int
mkdir_private(const char *dir, char *err, size_t errsz)
{
	char path[IPC_PATH_MAX];

	snprintf(path, sizeof(path), "%s", dir);
	for (char *s = path + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;
		*s = '\0';
		if (mkdir(path, MADANG_IPC_DIR_MODE) != 0 && errno != EEXIST) {
			snprintf(err, errsz, "cannot create %s: %s", path, strerror(errno));
			return -1;
		}
		*s = c;
		if (c == '\0')
			return 0;
	}
}

int
ipc_listen_prepare(const char *url, char *err, size_t errsz)
{
	char dir[IPC_PATH_MAX];
	int rv;

	if ((rv = url_dir(url, dir, sizeof(dir), err, errsz)) != 0)
		return rv > 0 ? 0 : -1;
	if (mkdir_private(dir, err, errsz) != 0)
		return -1;
	return ipc_dir_check(dir, geteuid(), true, err, errsz);
}

int
ipc_dial_check(const char *url, char *err, size_t errsz)
{
	char dir[IPC_PATH_MAX];
	struct stat st;
	int rv;

	if ((rv = url_dir(url, dir, sizeof(dir), err, errsz)) != 0)
		return rv > 0 ? 0 : -1;
	if (lstat(dir, &st) == 0 || errno != ENOENT)
		return ipc_dir_check(dir, geteuid(), false, err, errsz);
	/* Not there yet: fine only if no other user can create it before the broker does. */
	for (char *slash; (slash = strrchr(dir, '/')) != NULL;) {
		if (slash == dir)
			slash[1] = '\0';
		else
			*slash = '\0';
		if (stat(dir, &st) == 0) {
			if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
				snprintf(
				    err, errsz,
				    "the socket directory of %s does not exist and other users "
				    "can create it in %s: start the broker first, or use a "
				    "private directory",
				    url, dir);
				return -1;
			}
			return ipc_dir_check(dir, geteuid(), false, err, errsz);
		}
		if (slash == dir)
			break;
	}
	snprintf(err, errsz, "%s: no existing parent directory", url);
	return -1;
}

int
ipc_parse_mode(const char *s, int *mode)
{
	if (strcmp(s, "0600") == 0 || strcmp(s, "600") == 0)
		*mode = 0600;
	else if (strcmp(s, "0660") == 0 || strcmp(s, "660") == 0)
		*mode = 0660;
	else
		return -1;
	return 0;
}
