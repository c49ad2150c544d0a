/* token.c — madang-token: mints an HS256 token for madang's optional authentication.
 *
 *   madang-token --secret-file FILE --name NICK [--sub SUBJECT] [--admin] [--ttl SECONDS]
 *
 * Prints the token; pass it as ?token=… on the WebSocket URL, or as "Authorization: Bearer …" to
 * madang-api. For tests and small deployments; a real site mints tokens in its login service. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jwt.h"
#include "opt.h"
#include "validate.h"

#define TOKEN_TTL_MAX (366LL * 86400) /* --ttl: a year and a day at most */

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"secret-file", required_argument, NULL, 's'}, {"name", required_argument, NULL, 'n'},
	    {"sub", required_argument, NULL, 'u'},         {"admin", no_argument, NULL, 'a'},
	    {"ttl", required_argument, NULL, 't'},         {"help", no_argument, NULL, 'h'},
	    {"version", no_argument, NULL, 'V'},           {NULL, 0, NULL, 0},
	};
	const char *secret_file = NULL, *name = NULL, *sub = NULL;
	bool admin = false;
	long long ttl = 3600;
	struct jwt_secret secret;
	char err[512], canon[MADANG_NICK_MAX_BYTES + 1];
	const char *why;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			secret_file = optarg;
			break;
		case 'n':
			name = optarg;
			break;
		case 'u':
			sub = optarg;
			break;
		case 'a':
			admin = true;
			break;
		case 't':
			if (opt_number_cli("madang-token", "--ttl", optarg, 1, TOKEN_TTL_MAX,
			                   &ttl) != 0)
				return 2;
			break;
		case 'V':
			opt_print_version(stdout, "madang-token");
			return 0;
		default:
			fprintf(c == 'h' ? stdout : stderr,
			        "usage: madang-token --secret-file FILE --name NICK [--sub "
			        "SUBJECT] [--admin] "
			        "[--ttl SECONDS (default 3600, 1..31622400)] [--version]\n");
			return c == 'h' ? 0 : 2;
		}
	}
	if (secret_file == NULL || name == NULL) {
		fprintf(stderr, "madang-token: --secret-file and --name are required\n");
		return 2;
	}
	if (!nick_canonical(name, strlen(name), canon, sizeof(canon), &why)) {
		fprintf(stderr, "madang-token: %s\n", why);
		return 2;
	}
	if (sub != NULL && !jwt_subject_ok(sub, strlen(sub))) {
		fprintf(stderr,
		        "madang-token: --sub: 1..%d bytes of UTF-8 without control characters\n",
		        MADANG_SUBJECT_MAX);
		return 2;
	}
	if (jwt_secret_load(secret_file, &secret, err, sizeof(err)) != 0) {
		fprintf(stderr, "madang-token: %s\n", err);
		return 1;
	}
	char *tok = jwt_mint_sub(&secret, canon, sub, admin, (int64_t)time(NULL), ttl);
	if (tok == NULL)
		return 1;
	printf("%s\n", tok);
	free(tok);
	return 0;
}
