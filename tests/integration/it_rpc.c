/* it_rpc.c — a test helper: sends JSON requests to the broker's request/reply URL, one after the
 * other on one connection, and prints each reply on its own line.
 *
 *   it_rpc [--timeout MS] [--check] URL JSON...
 *
 * Exit status: 0 when every request was answered (with --check: and every reply has "ok":true),
 * 1 when a request got no reply (timeout, bad reply) or with --check a reply said ok:false,
 * 2 for a usage error (including a JSON argument that is not an object). */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rpc.h"
#include "wire.h"

#define IT_RPC_TIMEOUT_DEFAULT_MS 2000
#define IT_RPC_TIMEOUT_MAX_MS     60000

static int
usage(void)
{
	fprintf(stderr, "usage: it_rpc [--timeout MS] [--check] URL JSON...\n");
	return 2;
}

int
main(int argc, char **argv)
{
	int timeout = IT_RPC_TIMEOUT_DEFAULT_MS, i = 1, status = 0, rv;
	bool check = false;
	nng_socket sock;

	while (i < argc && strncmp(argv[i], "--", 2) == 0) {
		if (strcmp(argv[i], "--check") == 0) {
			check = true;
			i++;
		} else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
			char *end;
			long v = strtol(argv[i + 1], &end, 10);

			if (*end != '\0' || v < 1 || v > IT_RPC_TIMEOUT_MAX_MS)
				return usage();
			timeout = (int)v;
			i += 2;
		} else {
			return usage();
		}
	}
	if (argc - i < 2)
		return usage();
	for (int j = i + 1; j < argc; j++) {
		const char *why;
		cJSON *o = wire_parse_object(argv[j], strlen(argv[j]), MADANG_RPC_MAX, &why);

		if (o == NULL) {
			fprintf(stderr, "it_rpc: argument %d: %s\n", j - i, why);
			return 2;
		}
		cJSON_Delete(o);
	}
	if ((rv = rpc_open(&sock, argv[i])) != 0) {
		fprintf(stderr, "it_rpc: %s: %s\n", argv[i], nng_strerror(rv));
		return 1;
	}
	for (int j = i + 1; j < argc && status == 0; j++) {
		cJSON *reply = NULL;
		char *text;
		bool ok = false;

		rv = rpc_call_raw(sock, argv[j], strlen(argv[j]), &reply, timeout);
		if (rv != 0) {
			fprintf(stderr, "it_rpc: request %d: %s\n", j - i, nng_strerror(rv));
			status = 1;
			break;
		}
		if ((text = cJSON_PrintUnformatted(reply)) != NULL) {
			printf("%s\n", text);
			cJSON_free(text);
		}
		if (check && (!wire_bool(reply, "ok", &ok) || !ok))
			status = 1;
		cJSON_Delete(reply);
	}
	fflush(stdout);
	nng_close(sock);
	return status;
}
