/* pgutil.h — small PostgreSQL helpers shared by the PostgreSQL store (store_pg.c) and the
 * SQLite-to-PostgreSQL port tool (port_sqlite.c). */
#ifndef MADANG_BROKER_PGUTIL_H
#define MADANG_BROKER_PGUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "sbuf.h"

/* Appends one field of a COPY … FROM STDIN row (\N for NULL; backslash, newline, carriage
 * return and tab escaped), then `end` ('\t' between fields, '\n' after the last). */
void pgutil_copy_field(struct sbuf *b, const char *s, size_t len, char end);

/* The advisory lock key of a cluster (--cluster): FNV-1a over "madang-broker:<cluster>". */
int64_t pgutil_cluster_key(const char *cluster);

#endif
