/* nng_pub.c — a hostile event stream for tests/hostile/events.test.mjs: listens with nng pub0 on
 * URL, where a madang-ws is told (--events) to find the broker's events, and publishes what its
 * commands say. Commands, one per line on stdin; each answers one line on stdout:
 *   wait       until a subscriber is connected (10 s at most): "ready" or "timeout"
 *   hex HEX    publishes the message body HEX (hex-encoded; "-" for an empty body): "sent"
 *   big N      publishes "b\n" and N bytes of 'x': "sent"
 * End of input closes the socket and exits 0.
 *
 * usage: nng_pub URL */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/pubsub0/pub.h>

static atomic_int pipes;

static void
pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	(void)p;
	(void)arg;
	atomic_fetch_add(&pipes, ev == NNG_PIPE_EV_ADD_POST ? 1 : -1);
}

/* Decodes hex into a new buffer of *n bytes; NULL on a bad digit. */
static unsigned char *
unhex(const char *h, size_t *n)
{
	size_t len = strcmp(h, "-") == 0 ? 0 : strlen(h);
	unsigned char *out = malloc(len / 2 + 1);

	if (out == NULL || len % 2 != 0) {
		free(out);
		return NULL;
	}
	for (size_t i = 0; i < len / 2; i++) {
		unsigned v;
		if (sscanf(h + 2 * i, "%2x", &v) != 1) {
			free(out);
			return NULL;
		}
		out[i] = (unsigned char)v;
	}
	*n = len / 2;
	return out;
}

static void
publish(nng_socket s, const unsigned char *body, size_t n)
{
	int rv = nng_send(s, (void *)body, n, 0);

	printf("%s\n", rv == 0 ? "sent" : nng_strerror(rv));
}

int
main(int argc, char **argv)
{
	static char line[4 * 1024 * 1024];
	nng_socket s;
	int rv;

	if (argc != 2) {
		fprintf(stderr, "usage: nng_pub URL\n");
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((rv = nng_pub0_open(&s)) != 0 ||
	    (rv = nng_pipe_notify(s, NNG_PIPE_EV_ADD_POST, pipe_cb, NULL)) != 0 ||
	    (rv = nng_pipe_notify(s, NNG_PIPE_EV_REM_POST, pipe_cb, NULL)) != 0 ||
	    (rv = nng_listen(s, argv[1], NULL, 0)) != 0) {
		fprintf(stderr, "nng_pub: %s: %s\n", argv[1], nng_strerror(rv));
		return 1;
	}
	printf("listening\n");
	while (fgets(line, sizeof(line), stdin) != NULL) {
		line[strcspn(line, "\r\n")] = '\0';
		if (strcmp(line, "wait") == 0) {
			int i;
			for (i = 0; i < 1000 && atomic_load(&pipes) < 1; i++)
				nanosleep(&(struct timespec){0, 10 * 1000000L}, NULL);
			printf("%s\n", i < 1000 ? "ready" : "timeout");
		} else if (strncmp(line, "hex ", 4) == 0) {
			size_t n;
			unsigned char *b = unhex(line + 4, &n);
			if (b == NULL) {
				printf("bad hex\n");
				continue;
			}
			publish(s, b, n);
			free(b);
		} else if (strncmp(line, "big ", 4) == 0) {
			size_t n = strtoul(line + 4, NULL, 10);
			unsigned char *b = malloc(n + 2);
			if (b == NULL) {
				printf("out of memory\n");
				continue;
			}
			memcpy(b, "b\n", 2);
			memset(b + 2, 'x', n);
			publish(s, b, n + 2);
			free(b);
		} else {
			printf("unknown command\n");
		}
	}
	nng_close(s);
	return 0;
}
