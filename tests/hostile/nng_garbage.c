/* nng_garbage.c — sends one hostile message to madang-broker's request/reply socket and prints
 * the reply, for tests/suites/71-hostile.sh (cases in nng-cases.txt).
 *
 * usage: nng_garbage URL PAYLOAD
 * PAYLOAD is one of
 *   HEX            the message body, hex-encoded (may be empty: "-")
 *   gen:big:N      {"op":"health","pad":"xxx…"} of N bytes
 *   gen:nest:N     {"op":"health","x":[[[…]]]} nested N deep
 *   gen:batch:N    a batch of N health requests
 *   raw:HEX        no nng: a plain TCP connection to URL's host:port gets these bytes; prints
 *                  "dropped" when the broker closes it within 2 s, else "kept"
 * Prints the reply body (or "timeout" / an nng error) and exits 0. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

static size_t
unhex(const char *h, unsigned char *out)
{
	size_t n = 0;
	if (strcmp(h, "-") == 0)
		return 0;
	for (; h[0] && h[1]; h += 2) {
		unsigned v;
		sscanf(h, "%2x", &v);
		out[n++] = (unsigned char)v;
	}
	return n;
}

static int
raw(const char *url, const char *hex)
{
	const char *hp = strstr(url, "://");
	char host[64];
	unsigned char buf[4096];
	struct sockaddr_in sa = {.sin_family = AF_INET};
	const char *colon;
	int fd;
	size_t n;

	if (hp == NULL || (colon = strrchr(hp + 3, ':')) == NULL || (size_t)(colon - hp - 3) >= sizeof(host)) {
		printf("raw needs a tcp:// URL\n");
		return 0;
	}
	snprintf(host, sizeof(host), "%.*s", (int)(colon - hp - 3), hp + 3);
	sa.sin_port = htons((unsigned short)atoi(colon + 1));
	inet_pton(AF_INET, host, &sa.sin_addr);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		printf("connect failed\n");
		return 0;
	}
	n = unhex(hex, buf);
	if (write(fd, buf, n) != (ssize_t)n) {
		printf("dropped\n");
		return 0;
	}
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		if (poll(&p, 1, 2000) != 1) {
			printf("kept\n");
			break;
		}
		if (read(fd, buf, sizeof(buf)) <= 0) {
			printf("dropped\n");
			break;
		}
	}
	close(fd);
	return 0;
}

int
main(int argc, char **argv)
{
	nng_socket s;
	unsigned char *body;
	size_t len = 0, cap;
	char *reply = NULL;
	size_t rlen = 0;
	int rv;

	if (argc != 3) {
		fprintf(stderr, "usage: nng_garbage URL PAYLOAD\n");
		return 2;
	}
	if (strncmp(argv[2], "raw:", 4) == 0)
		return raw(argv[1], argv[2] + 4);
	cap = strlen(argv[2]) / 2 + 64;
	if (strncmp(argv[2], "gen:", 4) == 0) {
		long n = atol(strrchr(argv[2], ':') + 1);
		cap = (size_t)n * 20 + 64;
	}
	if ((body = malloc(cap)) == NULL)
		return 1;
	if (strncmp(argv[2], "gen:big:", 8) == 0) {
		long n = atol(argv[2] + 8);
		len = (size_t)sprintf((char *)body, "{\"op\":\"health\",\"pad\":\"");
		while ((long)len < n - 2)
			body[len++] = 'x';
		body[len++] = '"';
		body[len++] = '}';
	} else if (strncmp(argv[2], "gen:nest:", 9) == 0) {
		long n = atol(argv[2] + 9);
		len = (size_t)sprintf((char *)body, "{\"op\":\"health\",\"x\":");
		for (long i = 0; i < n; i++)
			body[len++] = '[';
		for (long i = 0; i < n; i++)
			body[len++] = ']';
		body[len++] = '}';
	} else if (strncmp(argv[2], "gen:batch:", 10) == 0) {
		long n = atol(argv[2] + 10);
		len = (size_t)sprintf((char *)body, "{\"op\":\"batch\",\"requests\":[");
		for (long i = 0; i < n; i++)
			len += (size_t)sprintf((char *)body + len, "%s{\"op\":\"health\"}", i ? "," : "");
		len += (size_t)sprintf((char *)body + len, "]}");
	} else {
		len = unhex(argv[2], body);
	}
	if ((rv = nng_req0_open(&s)) != 0 || (rv = nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 3000)) != 0 ||
	    (rv = nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 3000)) != 0 ||
	    (rv = nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, 0)) != 0 || (rv = nng_dial(s, argv[1], NULL, 0)) != 0) {
		printf("nng: %s\n", nng_strerror(rv));
		return 0;
	}
	if ((rv = nng_send(s, body, len, 0)) != 0 || (rv = nng_recv(s, &reply, &rlen, NNG_FLAG_ALLOC)) != 0) {
		printf("%s\n", rv == NNG_ETIMEDOUT ? "timeout" : nng_strerror(rv));
		return 0;
	}
	printf("%.*s\n", (int)(rlen > 2000 ? 2000 : rlen), reply);
	nng_free(reply, rlen);
	nng_close(s);
	free(body);
	return 0;
}
