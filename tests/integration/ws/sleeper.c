/* sleeper.c — a WebSocket client that joins a room and then stops reading, for the slow-consumer
 * tests. Node cannot shrink a socket's receive buffer, so the kernel would soak up tens of
 * megabytes before madang-ws noticed anything; this client sets SO_RCVBUF before connecting.
 *
 * usage: ws-sleeper PORT PATH SECONDS [UNTIL]
 * Connects to 127.0.0.1:PORT, upgrades PATH, prints "joined" once the joined event arrived,
 * then reads nothing for SECONDS and exits 0 (1 on any error before "joined"). With UNTIL it
 * reads nothing until a line arrives on its standard input (or SECONDS pass), then reads on:
 * prints every text message received since the upgrade, one per line, until one contains UNTIL
 * (exit 0), or exits 1 when nothing comes for SLEEPER_WAIT_MS, the connection ends, or a frame
 * is malformed. */
#include <netinet/in.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#define SLEEPER_RCVBUF  4096
#define SLEEPER_WAIT_MS 5000
#define SLEEPER_BUF     (1 << 20)

/* Prints each whole server frame of in[0, *len) that is a text message; keeps the partial rest.
 * Returns 1 when a message contained until, -1 on a malformed frame, else 0. */
static int
frames(unsigned char *in, size_t *len, const char *until)
{
	size_t off = 0, n = *len;
	int found = 0;

	while (n - off >= 2) {
		unsigned char op = in[off] & 0x0f;
		uint64_t plen = in[off + 1] & 0x7f;
		size_t hdr = 2;
		if (in[off + 1] & 0x80)
			return -1; /* a server never masks */
		if (plen == 126) {
			if (n - off < 4)
				break;
			plen = ((uint64_t)in[off + 2] << 8) | in[off + 3];
			hdr = 4;
		} else if (plen == 127) {
			if (n - off < 10)
				break;
			plen = 0;
			for (int i = 0; i < 8; i++)
				plen = plen << 8 | in[off + 2 + i];
			hdr = 10;
		}
		if (plen > SLEEPER_BUF)
			return -1;
		if (n - off - hdr < plen)
			break;
		if (op == 0x1) {
			fwrite(in + off + hdr, 1, (size_t)plen, stdout);
			fputc('\n', stdout);
			if (memmem(in + off + hdr, (size_t)plen, until, strlen(until)) != NULL)
				found = 1;
		} else if (op == 0x8) {
			return -1; /* closed by the server */
		}
		off += hdr + (size_t)plen;
		if (found)
			break;
	}
	memmove(in, in + off, n - off);
	*len = n - off;
	return found;
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	char req[1024], buf[65536];
	size_t have = 0;
	int fd, rcv = SLEEPER_RCVBUF;
	long port, secs;

	if ((argc != 4 && argc != 5) || (port = strtol(argv[1], NULL, 10)) <= 0 || port > 65535 ||
	    (secs = strtol(argv[3], NULL, 10)) < 0 || strlen(argv[2]) > 512) {
		fprintf(stderr, "usage: ws-sleeper PORT PATH SECONDS [UNTIL]\n");
		return 2;
	}
	sa.sin_port = htons((unsigned short)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv)) != 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		perror("ws-sleeper: connect");
		return 1;
	}
	int n = snprintf(req, sizeof(req),
	                 "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%ld\r\nUpgrade: websocket\r\n"
	                 "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	                 "Sec-WebSocket-Version: 13\r\n\r\n",
	                 argv[2], port);
	if (write(fd, req, (size_t)n) != n) {
		perror("ws-sleeper: write");
		return 1;
	}
	/* Read the 101 response and the first frames until "joined" shows up. */
	for (;;) {
		struct pollfd p = {.fd = fd, .events = POLLIN};
		ssize_t got;
		if (poll(&p, 1, SLEEPER_WAIT_MS) != 1 || have == sizeof(buf) - 1 ||
		    (got = read(fd, buf + have, sizeof(buf) - 1 - have)) <= 0) {
			fprintf(stderr, "ws-sleeper: no joined event\n");
			return 1;
		}
		have += (size_t)got;
		buf[have] = '\0';
		if (strncmp(buf, "HTTP/1.1 101", 12) != 0 && have >= 12) {
			fprintf(stderr, "ws-sleeper: upgrade refused\n");
			return 1;
		}
		if (memmem(buf, have, "\"type\":\"joined\"", 15) != NULL)
			break;
	}
	printf("joined\n");
	fflush(stdout);
	if (argc == 5) {
		/* Until told on stdin; then the frames after the 101 response, and everything that
		 * was held back. */
		struct pollfd in0 = {.fd = 0, .events = POLLIN};
		char *end = memmem(buf, have, "\r\n\r\n", 4);
		unsigned char *in = malloc(SLEEPER_BUF);
		size_t len;
		int rc = 0;
		if (poll(&in0, 1, (int)(secs > 3600 ? 3600 : secs) * 1000) < 0 || end == NULL ||
		    in == NULL)
			return 1;
		len = have - (size_t)(end + 4 - buf);
		memcpy(in, end + 4, len);
		while ((rc = frames(in, &len, argv[4])) == 0) {
			struct pollfd p = {.fd = fd, .events = POLLIN};
			ssize_t got;
			if (len == SLEEPER_BUF || poll(&p, 1, SLEEPER_WAIT_MS) != 1 ||
			    (got = read(fd, in + len, SLEEPER_BUF - len)) <= 0) {
				rc = -1;
				break;
			}
			len += (size_t)got;
		}
		fflush(stdout);
		free(in);
		close(fd);
		return rc == 1 ? 0 : 1;
	}
	sleep((unsigned)secs);
	close(fd);
	return 0;
}
