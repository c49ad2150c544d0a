/* opt.h — what every madang binary's command line shares: numbers checked against their
 * range, and the version line. No global state; nothing here prints unless asked to. */
#ifndef MADANG_OPT_H
#define MADANG_OPT_H

#include <stddef.h>
#include <stdio.h>

#define OPT_ERR_MAX  160 /* room for any message of opt_number, the text shown cut to 32 bytes */
#define OPT_SHOW_MAX 32  /* bytes of a refused value repeated in the message */

/* Parses text as a decimal integer in [min, max] for the option called name ("--history").
 * Only an optional '-' (when min < 0) and the digits 0-9 are accepted: no blanks, no '+', no
 * hex, no suffix, nothing after the digits. Returns 0 and sets *out; or -1, *out untouched, with
 * err set to "NAME must be a number from MIN to MAX (not 'TEXT')". err may be NULL. */
int opt_number(const char *name, const char *text, long long min, long long max, long long *out,
               char *err, size_t errsz);

/* opt_number for a main(): on refusal writes "PROG: REASON\n" to stderr. Returns 0 or -1. */
int opt_number_cli(const char *prog, const char *name, const char *text, long long min,
                   long long max, long long *out);

/* Like opt_number for a decimal fraction ("0.5", "12", ".25", "3."): digits with at most one
 * '.', an optional '-' when min < 0; no exponent, "inf", "nan", hex or blanks. The message
 * shows the range with %.15g. */
int opt_decimal(const char *name, const char *text, double min, double max, double *out, char *err,
                size_t errsz);
int opt_decimal_cli(const char *prog, const char *name, const char *text, double min, double max,
                    double *out);

/* The version of this build: MADANG_VERSION from the Makefile (`git describe` when built from
 * git, else the release number in common/module.mk). */
const char *opt_version(void);

/* Writes "PROG VERSION\n" to f (what --version prints). */
void opt_print_version(FILE *f, const char *prog);

#endif
