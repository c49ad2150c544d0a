/* freeport.c — test helper: prints a free TCP port on 127.0.0.1, or with --check PORT exits 0
 * when something accepts connections on 127.0.0.1:PORT. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int
main(int argc, char **argv)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0)
		return 2;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (argc == 3 && strcmp(argv[1], "--check") == 0) {
		sa.sin_port = htons((unsigned short)atoi(argv[2]));
		return connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 ? 0 : 1;
	}
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &len) != 0)
		return 2;
	printf("%u\n", ntohs(sa.sin_port));
	close(fd);
	return 0;
}
