/* sleeper.c — a WebSocket client that joins a room and then never reads, for the slow-consumer
 * test. Node cannot shrink a socket's receive buffer, so the kernel would soak up tens of
 * megabytes before madang-ws noticed anything; this client sets SO_RCVBUF before connecting.
 *
 * usage: ws-sleeper PORT PATH SECONDS
 * Connects to 127.0.0.1:PORT, upgrades PATH, prints "joined" once the joined event arrived,
 * then reads nothing for SECONDS and exits 0 (1 on any error before "joined"). */
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>

#define SLEEPER_RCVBUF  4096
#define SLEEPER_WAIT_MS 5000

int
main(int argc, char **argv)
{
	struct sockaddr_in sa = {.sin_family = AF_INET};
	char req[1024], buf[65536];
	size_t have = 0;
	int fd, rcv = SLEEPER_RCVBUF;
	long port, secs;

	if (argc != 4 || (port = strtol(argv[1], NULL, 10)) <= 0 || port > 65535 ||
	    (secs = strtol(argv[3], NULL, 10)) < 0 || strlen(argv[2]) > 512) {
		fprintf(stderr, "usage: ws-sleeper PORT PATH SECONDS\n");
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
	sleep((unsigned)secs);
	close(fd);
	return 0;
}
