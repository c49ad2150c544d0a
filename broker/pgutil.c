/* pgutil.c — small PostgreSQL helpers (pgutil.h). */
#include "pgutil.h"

void
pgutil_copy_field(struct sbuf *b, const char *s, size_t len, char end)
{
	if (s == NULL) {
		sbuf_adds(b, "\\N");
	} else {
		for (size_t i = 0; i < len; i++) {
			char c = s[i];
			if (c == '\\' || c == '\n' || c == '\r' || c == '\t') {
				sbuf_addc(b, '\\');
				c = c == '\n' ? 'n' : c == '\r' ? 'r' : c == '\t' ? 't' : c;
			}
			sbuf_addc(b, c);
		}
	}
	sbuf_addc(b, end);
}

int64_t
pgutil_cluster_key(const char *cluster)
{
	uint64_t h = 1469598103934665603ULL;
	const char *p = "madang-broker:";

	for (int pass = 0; pass < 2; pass++, p = cluster) {
		for (; *p; p++) {
			h ^= (unsigned char)*p;
			h *= 1099511628211ULL;
		}
	}
	return (int64_t)h;
}
