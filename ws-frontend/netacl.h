/* netacl.h — address lists (--trusted-proxies), the real client address behind trusted
 * proxies (X-Forwarded-For), and per-address connection counts. Pure: no sockets. */
#ifndef MADANG_WS_NETACL_H
#define MADANG_WS_NETACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "hmap.h"

#define NETACL_MAX      32 /* entries in one --trusted-proxies list */
#define NETACL_ADDR_MAX 46 /* INET6_ADDRSTRLEN */
#define NETACL_XFF_HOPS 16 /* X-Forwarded-For entries looked at, from the right */

struct netacl_net {
	int family; /* AF_INET or AF_INET6 */
	unsigned char addr[16];
	unsigned bits;
};

struct netacl {
	struct netacl_net v[NETACL_MAX];
	size_t n;
};

/* "10.0.0.1,192.168.0.0/16,::1" → list. Returns 0 or -1 with *why. */
int netacl_parse(struct netacl *a, const char *list, const char **why);
/* True when the textual address (IPv4, IPv6 or v4-mapped IPv6) lies in the list. */
bool netacl_contains(const struct netacl *a, const char *addr);
/* The client address for a connection from peer: when peer is trusted and xff (may be NULL)
 * is given, the rightmost X-Forwarded-For entry that is not itself trusted (or the leftmost
 * one when all are). Otherwise peer. Writes it to out (NETACL_ADDR_MAX). */
void netacl_client(const struct netacl *trusted, const char *peer, const char *xff, char *out);

/* Connections per client address (common/hmap of entries keyed by their own addr, each
 * sized to its address, in a slab), an entry freed when its count drops to zero. Its addr is
 * the one copy of the address its connections keep (docs/performance.md, finding 32). */
struct ipcount_entry {
	uint32_t n;
	char addr[];
};
struct ipcount {
	struct hmap map;
	size_t addrs; /* distinct addresses with at least one connection */
};
void ipcount_init(struct ipcount *t);
void ipcount_fini(struct ipcount *t);
/* Adds a connection from addr unless it already has limit: the entry's copy of addr, which
 * lives until the matching ipcount_drop; NULL when refused (or no memory). */
const char *ipcount_take(struct ipcount *t, const char *addr, uint32_t limit);
/* Removes one connection from addr. */
void ipcount_drop(struct ipcount *t, const char *addr);
uint32_t ipcount_get(const struct ipcount *t, const char *addr);

#endif
