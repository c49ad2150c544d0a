/* opt.c — ranged number options and the version line (opt.h). */
#include "opt.h"

#include <errno.h>
#include <stdlib.h>

#ifndef MADANG_VERSION
#define MADANG_VERSION "unknown" /* built without the Makefile */
#endif

int
opt_number(const char *name, const char *text, long long min, long long max, long long *out,
           char *err, size_t errsz)
{
	const char *p = text;
	char *end;
	long long v;

	if (*p == '-' && min < 0)
		p++;
	if (*p < '0' || *p > '9')
		goto fail;
	errno = 0;
	v = strtoll(text, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		goto fail;
	*out = v;
	return 0;
fail:
	if (err != NULL && errsz > 0) {
		char shown[OPT_SHOW_MAX + 1];
		size_t i;

		/* Control bytes shown as '?': the message goes to a terminal or a journal. */
		for (i = 0; i < OPT_SHOW_MAX && text[i] != '\0'; i++)
			shown[i] = (unsigned char)text[i] < 0x20 || text[i] == 0x7f ? '?' : text[i];
		shown[i] = '\0';
		snprintf(err, errsz, "%s must be a number from %lld to %lld (not '%s')", name, min,
		         max, shown);
	}
	return -1;
}

int
opt_number_cli(const char *prog, const char *name, const char *text, long long min, long long max,
               long long *out)
{
	char err[OPT_ERR_MAX];

	if (opt_number(name, text, min, max, out, err, sizeof(err)) == 0)
		return 0;
	fprintf(stderr, "%s: %s\n", prog, err);
	return -1;
}

const char *
opt_version(void)
{
	return MADANG_VERSION;
}

void
opt_print_version(FILE *f, const char *prog)
{
	fprintf(f, "%s %s\n", prog, MADANG_VERSION);
}
