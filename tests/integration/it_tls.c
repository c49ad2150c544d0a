/* it_tls.c — a test helper: a broker client over tls+tcp:// (or any nng URL) that presents any
 * certificate it is given, with none of madang's start-up checks, so that the tests can play a
 * peer the broker must refuse (self-signed, another CA's, none at all, plain tcp://).
 *
 *   it_tls [--ca FILE] [--cert FILE] [--server-name NAME] [--timeout MS] URL JSON...
 *
 * Sends each JSON request in turn and prints each reply on its own line. With --ca the broker's
 * certificate is verified (against NAME, default none); without, it is not.
 * Exit status: 0 when every request was answered, 1 when one got no reply within MS (default
 * 2000) in all, 2 for a usage error or a file nng cannot load. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>

#include "clock.h"
#include "tls.h"

#define IT_TLS_TIMEOUT_DEFAULT_MS 2000
#define IT_TLS_TIMEOUT_MAX_MS     60000

static int
usage(void)
{
	fprintf(stderr, "usage: it_tls [--ca FILE] [--cert FILE] [--server-name NAME] "
	                "[--timeout MS] URL JSON...\n");
	return 2;
}

/* A client TLS config: verifies the broker against ca (when given) and name, presents cert. */
static int
client_config(nng_dialer d, const char *ca, const char *cert, const char *name)
{
	nng_tls_config *c;
	int rv;

	if ((rv = nng_tls_config_alloc(&c, NNG_TLS_MODE_CLIENT)) != 0)
		return rv;
	if (ca != NULL && (rv = nng_tls_config_ca_file(c, ca)) != 0) {
		fprintf(stderr, "it_tls: --ca %s: %s\n", ca, nng_strerror(rv));
		goto out;
	}
	if (cert != NULL && (rv = nng_tls_config_cert_key_file(c, cert, NULL)) != 0) {
		fprintf(stderr, "it_tls: --cert %s: %s\n", cert, nng_strerror(rv));
		goto out;
	}
	if ((rv = nng_tls_config_auth_mode(c, ca != NULL ? NNG_TLS_AUTH_MODE_REQUIRED
	                                                 : NNG_TLS_AUTH_MODE_NONE)) != 0 ||
	    (name != NULL && (rv = nng_tls_config_server_name(c, name)) != 0) ||
	    (rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, c)) != 0)
		fprintf(stderr, "it_tls: TLS config: %s\n", nng_strerror(rv));
out:
	nng_tls_config_free(c);
	return rv;
}

int
main(int argc, char **argv)
{
	const char *ca = NULL, *cert = NULL, *name = NULL;
	int timeout = IT_TLS_TIMEOUT_DEFAULT_MS, i = 1, status = 0, rv;
	nng_socket sock;
	nng_dialer d;

	while (i + 1 < argc && strncmp(argv[i], "--", 2) == 0) {
		if (strcmp(argv[i], "--ca") == 0) {
			ca = argv[i + 1];
		} else if (strcmp(argv[i], "--cert") == 0) {
			cert = argv[i + 1];
		} else if (strcmp(argv[i], "--server-name") == 0) {
			name = argv[i + 1];
		} else if (strcmp(argv[i], "--timeout") == 0) {
			char *end;
			long v = strtol(argv[i + 1], &end, 10);
			if (*end != '\0' || v < 1 || v > IT_TLS_TIMEOUT_MAX_MS)
				return usage();
			timeout = (int)v;
		} else {
			return usage();
		}
		i += 2;
	}
	if (argc - i < 2)
		return usage();
	if ((rv = nng_req0_open(&sock)) != 0 ||
	    (rv = nng_socket_set_ms(sock, NNG_OPT_RECONNMINT, 50)) != 0 ||
	    (rv = nng_dialer_create(&d, sock, argv[i])) != 0) {
		fprintf(stderr, "it_tls: %s: %s\n", argv[i], nng_strerror(rv));
		return 2;
	}
	if (tls_url_is_tls(argv[i]) && client_config(d, ca, cert, name) != 0)
		return 2;
	if ((rv = nng_dialer_start(d, NNG_FLAG_NONBLOCK)) != 0) {
		fprintf(stderr, "it_tls: %s: %s\n", argv[i], nng_strerror(rv));
		return 2;
	}
	uint64_t deadline = clock_mono_ms() + (uint64_t)timeout;
	for (i++; i < argc; i++) {
		uint64_t now = clock_mono_ms();
		char *buf = NULL;
		size_t len;

		if (now >= deadline ||
		    (rv = nng_socket_set_ms(sock, NNG_OPT_SENDTIMEO,
		                            (nng_duration)(deadline - now))) != 0 ||
		    (rv = nng_socket_set_ms(sock, NNG_OPT_RECVTIMEO,
		                            (nng_duration)(deadline - now))) != 0 ||
		    (rv = nng_send(sock, argv[i], strlen(argv[i]), 0)) != 0 ||
		    (rv = nng_recv(sock, &buf, &len, NNG_FLAG_ALLOC)) != 0) {
			fprintf(stderr, "it_tls: no reply: %s\n",
			        now >= deadline ? "timed out" : nng_strerror(rv));
			status = 1;
			break;
		}
		printf("%.*s\n", (int)len, buf);
		nng_free(buf, len);
	}
	nng_close(sock);
	return status;
}
