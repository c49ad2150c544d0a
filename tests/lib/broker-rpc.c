/* broker-rpc.c — build/tests/broker-rpc: sends one request to a madang-broker and prints its
 * reply, for the tests that set up state no client may set (room owners, moderators):
 *
 *   broker-rpc URL '{"op":"set_room","room_id":"r1","actor":{"name":"admin","admin":true},…}'
 *
 * Exit 0 with the reply on stdout (whatever "ok" says), 1 when no reply came within 5 s, 2 on
 * usage errors. */
#include <stdio.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>

#define BROKER_RPC_WAIT_MS 5000

int
main(int argc, char **argv)
{
	nng_socket s;
	char *reply = NULL;
	size_t len = 0;
	int rv;

	if (argc != 3) {
		fprintf(stderr, "usage: broker-rpc URL JSON\n");
		return 2;
	}
	if ((rv = nng_req0_open(&s)) != 0 ||
	    (rv = nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, BROKER_RPC_WAIT_MS)) != 0 ||
	    (rv = nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, BROKER_RPC_WAIT_MS)) != 0 ||
	    (rv = nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, 0)) != 0 ||
	    (rv = nng_dial(s, argv[1], NULL, 0)) != 0 ||
	    (rv = nng_send(s, argv[2], strlen(argv[2]), 0)) != 0 ||
	    (rv = nng_recv(s, &reply, &len, NNG_FLAG_ALLOC)) != 0) {
		fprintf(stderr, "broker-rpc: %s: %s\n", argv[1], nng_strerror(rv));
		return 1;
	}
	fwrite(reply, 1, len, stdout);
	fputc('\n', stdout);
	nng_free(reply, len);
	nng_close(s);
	return 0;
}
