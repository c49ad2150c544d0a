/* opt.c — ranged number options and the version line (opt.h). */
#include "opt.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#ifndef MADANG_VERSION
#define MADANG_VERSION "unknown" /* built without the Makefile */
#endif

/* Writes the refusal of text for name into err: the range, then the text (cut, control bytes
 * shown as '?': the message goes to a terminal or a journal). */
static void
opt_refuse(char *err, size_t errsz, const char *name, const char *range, const char *text)
{
	char shown[OPT_SHOW_MAX + 1];
	size_t i;

	if (err == NULL || errsz == 0)
		return;
	for (i = 0; i < OPT_SHOW_MAX && text[i] != '\0'; i++)
		shown[i] = (unsigned char)text[i] < 0x20 || text[i] == 0x7f ? '?' : text[i];
	shown[i] = '\0';
	snprintf(err, errsz, "%s must be a number from %s (not '%s')", name, range, shown);
}

int
opt_number(const char *name, const char *text, long long min, long long max, long long *out,
           char *err, size_t errsz)
{
	const char *p = text;
	char range[64];
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
	snprintf(range, sizeof(range), "%lld to %lld", min, max);
	opt_refuse(err, errsz, name, range, text);
	return -1;
}

int
opt_decimal(const char *name, const char *text, double min, double max, double *out, char *err,
            size_t errsz)
{
	const char *p = text;
	size_t ints, fracs = 0;
	char range[64];
	double v;

	if (*p == '-' && min < 0)
		p++;
	ints = strspn(p, "0123456789");
	p += ints;
	if (*p == '.') {
		fracs = strspn(p + 1, "0123456789");
		p += 1 + fracs;
	}
	if (*p != '\0' || ints + fracs == 0)
		goto fail;
	v = strtod(text, NULL);
	if (!(v >= min && v <= max)) /* also refuses an overflow to infinity */
		goto fail;
	*out = v;
	return 0;
fail:
	snprintf(range, sizeof(range), "%.15g to %.15g", min, max);
	opt_refuse(err, errsz, name, range, text);
	return -1;
}

int
opt_decimal_cli(const char *prog, const char *name, const char *text, double min, double max,
                double *out)
{
	char err[OPT_ERR_MAX];

	if (opt_decimal(name, text, min, max, out, err, sizeof(err)) == 0)
		return 0;
	fprintf(stderr, "%s: %s\n", prog, err);
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
