/* hist.c — packed history records (hist.h). */
#include "hist.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notices.h"

/* One allocation per event: the sender's subject when there is one, the pair for duplicate
 * detection when there is one, then either the whole text or, packed, the type and the time
 * (each NUL-terminated) and the rest of the text after the head, coded when it can be. */
struct hist_rec {
	uint32_t len;   /* the whole text's length */
	uint8_t packed; /* the head is left out */
	uint8_t dedup;  /* data holds user_key and client_id (after the subject) */
	uint8_t owned;  /* data begins with the sender's subject */
	uint8_t coded;  /* the rest holds codes of DICT (packed records only) */
	char data[];
};

/* Strings that recur in the events' rest, each kept as one byte, its index here (1 to 31): a
 * join notice's rest (`"user":"U","sender":"시스템","message":"U님이 입장했습니다.",
 * "users_count":N}`) goes from about 80 bytes and twice its nickname to 8 and twice its nickname.
 * JSON text never holds a byte below 0x20 as itself (inside a string it is escaped), so those
 * bytes are free to be codes; a rest that holds one all the same is kept as it is. Where two
 * entries begin alike, the longer comes first. */
static const char *const DICT[] = {
    NULL, /* 0 ends the text */
    "\"user\":\"",
    "\",\"sender\":\"",
    "\"sender\":\"",
    "\",\"message\":\"",
    "\",\"users_count\":",
    "\",\"client_id\":\"",
    ",\"reason\":\"",
    "disconnected",
    NOTICE_KO_SENDER,
    NOTICE_KO_JOINED,
    NOTICE_KO_LEFT,
    NOTICE_KO_KICKED,
    NOTICE_KO_BANNED,
    NOTICE_EN_SENDER,
    NOTICE_EN_JOINED,
    NOTICE_EN_LEFT,
    NOTICE_EN_KICKED,
    NOTICE_EN_BANNED,
};
#define DICT_N (sizeof(DICT) / sizeof(*DICT))
_Static_assert(DICT_N <= 0x20, "codes are the bytes 1 to 31");

/* The entries' lengths, and the bytes that begin one. */
static size_t dict_len[DICT_N];
static bool dict_first[256];
static pthread_once_t dict_once = PTHREAD_ONCE_INIT;

static void
dict_init(void)
{
	for (size_t i = 1; i < DICT_N; i++) {
		dict_len[i] = strlen(DICT[i]);
		dict_first[(unsigned char)DICT[i][0]] = true;
	}
}

/* Writes rest[0..n) to out, each entry of DICT as its code, then a NUL. Returns the bytes
 * written (the NUL not counted), or -1 when rest holds a byte below 0x20 (out is then
 * garbage). out has room for n + 1 bytes: a code is never longer than what it stands for. */
static ptrdiff_t
dict_code(const char *rest, size_t n, char *out)
{
	const unsigned char *p = (const unsigned char *)rest, *end = p + n;
	char *o = out;

	pthread_once(&dict_once, dict_init);
	while (p < end) {
		size_t i = 0;

		if (*p < 0x20)
			return -1;
		if (dict_first[*p])
			for (i = 1; i < DICT_N; i++)
				if (dict_len[i] <= (size_t)(end - p) &&
				    memcmp(p, DICT[i], dict_len[i]) == 0)
					break;
		if (i > 0 && i < DICT_N) {
			*o++ = (char)i;
			p += dict_len[i];
		} else {
			*o++ = (char)*p++;
		}
	}
	*o = '\0';
	return o - out;
}

/* Appends the coded text s (NUL-terminated) to out, each code as its entry. */
static void
dict_render(const char *s, struct sbuf *out)
{
	const unsigned char *p = (const unsigned char *)s;

	pthread_once(&dict_once, dict_init);
	for (;;) {
		const unsigned char *q = p;

		while (*q >= 0x20)
			q++;
		sbuf_add(out, p, (size_t)(q - p));
		if (*q == 0)
			return;
		sbuf_add(out, DICT[*q], dict_len[*q]);
		p = q + 1;
	}
}

/* The head's constant parts, in order; the variable parts go between them. */
static const char HEAD_TYPE[] = "{\"type\":\"";
static const char HEAD_ROOM[] = "\",\"room_id\":\"";
static const char HEAD_SEQ[] = "\",\"seq\":";
static const char HEAD_EPOCH[] = ",\"epoch\":\"";
static const char HEAD_TIME[] = "\",\"time\":\"";
static const char HEAD_END[] = "\",";

/* Longest type and time a packed record keeps (longer ones: the text is kept whole). */
#define HIST_TYPE_MAX 32
#define HIST_TIME_MAX 40

/* Consumes the literal lit at *p if the text continues with it. */
static bool
take(const char **p, const char *end, const char *lit, size_t n)
{
	if ((size_t)(end - *p) < n || memcmp(*p, lit, n) != 0)
		return false;
	*p += n;
	return true;
}

/* Consumes a string body of at most max bytes up to the next quote, with no escape in it;
 * its start and length in *s and *n. */
static bool
take_plain(const char **p, const char *end, size_t max, const char **s, size_t *n)
{
	const char *q = *p;

	while (q < end && *q != '"' && *q != '\\' && (size_t)(q - *p) <= max)
		q++;
	if (q == end || *q != '"' || (size_t)(q - *p) > max)
		return false;
	*s = *p;
	*n = (size_t)(q - *p);
	*p = q;
	return true;
}

/* Finds the head of json for (room_id, seq, epoch): the type and the time in it, and where
 * the rest begins. False when the text does not begin with exactly that head. */
static bool
split_head(const char *json, size_t len, const char *room_id, uint64_t seq, const char *epoch,
           const char **type, size_t *tlen, const char **time, size_t *timelen, const char **rest)
{
	const char *p = json, *end = json + len;
	char num[24];
	int n = snprintf(num, sizeof(num), "%" PRIu64, seq);

	if (!take(&p, end, HEAD_TYPE, sizeof(HEAD_TYPE) - 1) ||
	    !take_plain(&p, end, HIST_TYPE_MAX, type, tlen) ||
	    !take(&p, end, HEAD_ROOM, sizeof(HEAD_ROOM) - 1) ||
	    !take(&p, end, room_id, strlen(room_id)) ||
	    !take(&p, end, HEAD_SEQ, sizeof(HEAD_SEQ) - 1) || !take(&p, end, num, (size_t)n) ||
	    !take(&p, end, HEAD_EPOCH, sizeof(HEAD_EPOCH) - 1) ||
	    !take(&p, end, epoch, strlen(epoch)) ||
	    !take(&p, end, HEAD_TIME, sizeof(HEAD_TIME) - 1) ||
	    !take_plain(&p, end, HIST_TIME_MAX, time, timelen) ||
	    !take(&p, end, HEAD_END, sizeof(HEAD_END) - 1))
		return false;
	*rest = p;
	return true;
}

int
hist_make(struct hist_ev *ev, uint64_t seq, const char *room_id, const char *epoch,
          const char *json, size_t len, const char *user_key, const char *client_id,
          const char *subject)
{
	const char *type = NULL, *time = NULL, *rest = json;
	size_t tlen = 0, timelen = 0, klen = 0, clen = 0, slen = 0, size;
	bool packed, dedup = user_key != NULL && client_id != NULL, owned = subject != NULL;
	struct hist_rec *r;
	char *d;

	if (len > UINT32_MAX)
		return -1;
	/* Packed, the rest is read back up to its NUL: a text with a NUL in it is kept whole. */
	packed = split_head(json, len, room_id, seq, epoch, &type, &tlen, &time, &timelen, &rest) &&
	         memchr(rest, '\0', (size_t)(json + len - rest)) == NULL;
	if (!packed)
		rest = json;
	if (dedup) {
		klen = strlen(user_key) + 1;
		clen = strlen(client_id) + 1;
	}
	if (owned)
		slen = strlen(subject) + 1;
	size = sizeof(*r) + slen + klen + clen + (packed ? tlen + 1 + timelen + 1 : 0) +
	       (size_t)(json + len - rest) + 1;
	if ((r = malloc(size)) == NULL)
		return -1;
	r->len = (uint32_t)len;
	r->packed = packed;
	r->dedup = dedup;
	r->owned = owned;
	d = r->data;
	if (owned) {
		memcpy(d, subject, slen);
		d += slen;
	}
	if (dedup) {
		memcpy(d, user_key, klen);
		memcpy(d + klen, client_id, clen);
		d += klen + clen;
	}
	if (packed) {
		memcpy(d, type, tlen);
		d[tlen] = '\0';
		d += tlen + 1;
		memcpy(d, time, timelen);
		d[timelen] = '\0';
		d += timelen + 1;
	}
	r->coded = 0;
	if (packed) {
		ptrdiff_t n = dict_code(rest, (size_t)(json + len - rest), d);
		if (n >= 0) {
			struct hist_rec *shrunk;
			r->coded = 1;
			size = (size_t)(d - (char *)r) + (size_t)n + 1;
			if ((shrunk = realloc(r, size)) != NULL)
				r = shrunk;
			ev->seq = seq;
			ev->rec = r;
			return 0;
		}
	}
	memcpy(d, rest, (size_t)(json + len - rest));
	d[json + len - rest] = '\0';
	ev->seq = seq;
	ev->rec = r;
	return 0;
}

void
hist_free(struct hist_ev *ev)
{
	free(ev->rec);
	ev->rec = NULL;
	ev->seq = 0;
}

size_t
hist_len(const struct hist_ev *ev)
{
	return ev->rec->len;
}

/* Where the text (or, packed, the type) begins. */
static const char *
body(const struct hist_rec *r)
{
	const char *d = r->data;

	if (r->owned)
		d += strlen(d) + 1;
	if (r->dedup) {
		d += strlen(d) + 1;
		d += strlen(d) + 1;
	}
	return d;
}

void
hist_render(const struct hist_ev *ev, const char *room_id, const char *epoch, struct sbuf *out)
{
	const struct hist_rec *r = ev->rec;
	const char *d = body(r), *time;
	size_t tlen;

	if (!r->packed) {
		sbuf_add(out, d, r->len);
		return;
	}
	tlen = strlen(d);
	time = d + tlen + 1;
	sbuf_add(out, HEAD_TYPE, sizeof(HEAD_TYPE) - 1);
	sbuf_add(out, d, tlen);
	sbuf_add(out, HEAD_ROOM, sizeof(HEAD_ROOM) - 1);
	sbuf_adds(out, room_id);
	sbuf_add(out, HEAD_SEQ, sizeof(HEAD_SEQ) - 1);
	sbuf_addi(out, (int64_t)ev->seq);
	sbuf_add(out, HEAD_EPOCH, sizeof(HEAD_EPOCH) - 1);
	sbuf_adds(out, epoch);
	sbuf_add(out, HEAD_TIME, sizeof(HEAD_TIME) - 1);
	sbuf_adds(out, time);
	sbuf_add(out, HEAD_END, sizeof(HEAD_END) - 1);
	if (r->coded)
		dict_render(time + strlen(time) + 1, out);
	else
		sbuf_adds(out, time + strlen(time) + 1);
}

size_t
hist_bytes(const struct hist_ev *ev)
{
	const struct hist_rec *r = ev->rec;
	const char *d = body(r);

	if (!r->packed)
		return sizeof(*r) + (size_t)(d - r->data) + r->len + 1;
	d += strlen(d) + 1; /* the type */
	d += strlen(d) + 1; /* the time */
	return sizeof(*r) + (size_t)(d - r->data) + strlen(d) + 1;
}

/* Where the pair begins (after the subject). */
static const char *
pair(const struct hist_rec *r)
{
	return r->owned ? r->data + strlen(r->data) + 1 : r->data;
}

const char *
hist_user_key(const struct hist_ev *ev)
{
	return ev->rec->dedup ? pair(ev->rec) : NULL;
}

const char *
hist_client_id(const struct hist_ev *ev)
{
	const char *k = pair(ev->rec);

	return ev->rec->dedup ? k + strlen(k) + 1 : NULL;
}

const char *
hist_subject(const struct hist_ev *ev)
{
	return ev->rec->owned ? ev->rec->data : NULL;
}
