/* netacl.c — trusted proxy lists, X-Forwarded-For, per-address connection counts. */
#include "netacl.h"

#include "slab.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/* Text → family + 16 bytes; a v4-mapped IPv6 address becomes IPv4. */
static bool
netacl_addr(const char *s, int *family, unsigned char out[16])
{
	memset(out, 0, 16);
	if (inet_pton(AF_INET, s, out) == 1) {
		*family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, s, out) == 1) {
		static const unsigned char mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (memcmp(out, mapped, 12) == 0) {
			memmove(out, out + 12, 4);
			memset(out + 4, 0, 12);
			*family = AF_INET;
		} else {
			*family = AF_INET6;
		}
		return true;
	}
	return false;
}

int
netacl_parse(struct netacl *a, const char *list, const char **why)
{
	const char *p = list;

	memset(a, 0, sizeof(*a));
	while (*p != '\0') {
		char item[NETACL_ADDR_MAX + 8], *slash;
		size_t n = strcspn(p, ",");
		struct netacl_net *net;
		unsigned maxbits;

		if (n == 0 || n >= sizeof(item)) {
			*why = "each entry must be an address or address/prefix";
			return -1;
		}
		if (a->n == NETACL_MAX) {
			*why = "too many entries (at most 32)";
			return -1;
		}
		memcpy(item, p, n);
		item[n] = '\0';
		net = &a->v[a->n];
		slash = strchr(item, '/');
		if (slash != NULL)
			*slash = '\0';
		if (!netacl_addr(item, &net->family, net->addr)) {
			*why = "not an IPv4 or IPv6 address";
			return -1;
		}
		maxbits = net->family == AF_INET ? 32 : 128;
		net->bits = maxbits;
		if (slash != NULL) {
			char *end;
			long b = strtol(slash + 1, &end, 10);
			if (slash[1] == '\0' || *end != '\0' || b < 0 ||
			    (unsigned long)b > maxbits) {
				*why = "bad prefix length";
				return -1;
			}
			net->bits = (unsigned)b;
		}
		a->n++;
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}

static bool
netacl_match(const struct netacl_net *net, int family, const unsigned char *addr)
{
	unsigned full = net->bits / 8, rest = net->bits % 8;

	if (net->family != family)
		return false;
	if (memcmp(net->addr, addr, full) != 0)
		return false;
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xff << (8 - rest));
	return (net->addr[full] & mask) == (addr[full] & mask);
}

bool
netacl_contains(const struct netacl *a, const char *s)
{
	unsigned char addr[16];
	int family;

	if (!netacl_addr(s, &family, addr))
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (netacl_match(&a->v[i], family, addr))
			return true;
	return false;
}

/* Copies the entry xff[b..e) trimmed of blanks to out; false when empty or too long. */
static bool
netacl_item(const char *b, const char *e, char *out)
{
	while (b < e && (*b == ' ' || *b == '\t'))
		b++;
	while (e > b && (e[-1] == ' ' || e[-1] == '\t'))
		e--;
	if (e == b || (size_t)(e - b) >= NETACL_ADDR_MAX)
		return false;
	memcpy(out, b, (size_t)(e - b));
	out[e - b] = '\0';
	return true;
}

void
netacl_client(const struct netacl *trusted, const char *peer, const char *xff, char *out)
{
	char item[NETACL_ADDR_MAX];
	unsigned char tmp[16];
	int family, hops = 0;
	const char *end;

	snprintf(out, NETACL_ADDR_MAX, "%s", peer);
	if (xff == NULL || !netacl_contains(trusted, peer))
		return;
	/* Walk right to left: each trusted hop vouches for the entry before it. */
	end = xff + strlen(xff);
	while (end > xff && hops++ < NETACL_XFF_HOPS) {
		const char *b = end;
		while (b > xff && b[-1] != ',')
			b--;
		if (!netacl_item(b, end, item) || !netacl_addr(item, &family, tmp))
			return; /* garbage: stop at the last address we could trust */
		snprintf(out, NETACL_ADDR_MAX, "%s", item);
		if (!netacl_contains(trusted, item))
			return;
		end = b > xff ? b - 1 : b;
	}
}

void
ipcount_init(struct ipcount *t)
{
	hmap_init(&t->map);
	t->addrs = 0;
}

void
ipcount_fini(struct ipcount *t)
{
	void *e;

	for (size_t i = 0; hmap_next(&t->map, &i, NULL, &e);)
		slab_release(e);
	hmap_fini(&t->map);
	t->addrs = 0;
}

const char *
ipcount_take(struct ipcount *t, const char *addr, uint32_t limit)
{
	struct ipcount_entry *e = hmap_get(&t->map, addr);
	size_t len = strnlen(addr, NETACL_ADDR_MAX - 1);

	if (e == NULL) {
		if (limit == 0 || (e = slab_zalloc(sizeof(*e) + len + 1)) == NULL)
			return NULL;
		memcpy(e->addr, addr, len);
		if (hmap_put(&t->map, e->addr, e) != 0) {
			slab_release(e);
			return NULL;
		}
		t->addrs++;
	}
	if (e->n >= limit)
		return NULL;
	e->n++;
	return e->addr;
}

void
ipcount_drop(struct ipcount *t, const char *addr)
{
	struct ipcount_entry *e = hmap_get(&t->map, addr);

	if (e == NULL)
		return;
	if (--e->n == 0) {
		hmap_del(&t->map, e->addr);
		slab_release(e);
		t->addrs--;
	}
}

uint32_t
ipcount_get(const struct ipcount *t, const char *addr)
{
	const struct ipcount_entry *e = hmap_get(&t->map, addr);

	return e != NULL ? e->n : 0;
}
