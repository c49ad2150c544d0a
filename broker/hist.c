/* hist.c — packed history records (hist.h). */
#include "hist.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "notices.h"
#include "slab.h"

/* One allocation per event, from offsetof(data): the sender's subject when there is one, the
 * pair for duplicate detection when there is one, then either the whole text or, packed, the
 * type (unless it is one of TYPES) and the time (each NUL-terminated, or the time as 6 bytes of
 * milliseconds when its text is what clock_iso8601 writes) and the rest of the text after the
 * head, coded when it can be. The record is a slab item, sized to 8 bytes: a join notice of the
 * bench's nicknames takes 32 bytes (docs/performance.md, findings 33 and 34: 48 of malloc's
 * before, 64 before finding 33). */
struct hist_rec {
	uint32_t len;     /* the whole text's length */
	bool packed : 1;  /* the head is left out */
	bool dedup : 1;   /* data holds user_key and client_id (after the subject) */
	bool owned : 1;   /* data begins with the sender's subject */
	bool coded : 1;   /* the rest holds codes of DICT (packed records only) */
	bool time_ms : 1; /* packed: the time is TIME_BYTES of milliseconds, not its text */
	uint8_t type;     /* packed: the type's index in TYPES, 0 when it is kept as text */
	char data[];
};

/* The types most events have, kept as their index (1 to 255) in a packed record. */
static const char *const TYPES[] = {NULL, "message", "join", "leave"};
#define TYPES_N (sizeof(TYPES) / sizeof(*TYPES))

/* A time of clock_iso8601 ("2026-11-22T03:06:46.123Z", 1970 to 9999) as milliseconds, little
 * endian, in 6 bytes (2^48 ms is about 8,900 years). */
#define TIME_BYTES 6
#define TIME_TEXT  (CLOCK_ISO8601_LEN - 1)

/* Days from 1970-01-01 to y-m-d of the proleptic Gregorian calendar (y >= 1970). */
static int64_t
days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = y / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + (int64_t)doe - 719468;
}

/* Reads n digits at s; -1 when one is not a digit. */
static int
digits(const char *s, int n)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	return v;
}

/* The milliseconds of t (tlen bytes) when t is exactly what clock_iso8601 writes for them, in
 * 1970 to 9999; else -1. No library call: this runs for every event the ring keeps. */
static int64_t
time_pack(const char *t, size_t tlen)
{
	static const unsigned char mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, mo, d, h, mi, s, ms;

	if (tlen != TIME_TEXT || t[4] != '-' || t[7] != '-' || t[10] != 'T' || t[13] != ':' ||
	    t[16] != ':' || t[19] != '.' || t[23] != 'Z')
		return -1;
	y = digits(t, 4), mo = digits(t + 5, 2), d = digits(t + 8, 2), h = digits(t + 11, 2);
	mi = digits(t + 14, 2), s = digits(t + 17, 2), ms = digits(t + 20, 3);
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h < 0 || h > 23 ||
	    mi < 0 || mi > 59 || s < 0 || s > 59 || ms < 0)
		return -1;
	if (mo == 2 && d == 29 && !(y % 4 == 0 && (y % 100 != 0 || y % 400 == 0)))
		return -1;
	return ((days_from_civil(y, (unsigned)mo, (unsigned)d) * 24 + h) * 60 + mi) * 60000 +
	       (int64_t)s * 1000 + ms;
}

/* Writes n digits of v at s. */
static void
put_digits(char *s, unsigned v, int n)
{
	while (n-- > 0) {
		s[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

/* The text of ms (0 to 9999-12-31T23:59:59.999Z) as clock_iso8601 writes it, without its
 * gmtime_r and snprintf: a history reply renders one per record. */
static const char *
time_text(int64_t ms, char out[CLOCK_ISO8601_LEN])
{
	int64_t days = ms / 86400000, z = days + 719468;
	unsigned msd = (unsigned)(ms % 86400000);
	int64_t era = z / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;
	unsigned d = doy - (153 * mp + 2) / 5 + 1, m = mp < 10 ? mp + 3 : mp - 9;
	int64_t y = (int64_t)yoe + era * 400 + (m <= 2);

	memcpy(out, "0000-00-00T00:00:00.000Z", CLOCK_ISO8601_LEN);
	put_digits(out, (unsigned)y, 4);
	put_digits(out + 5, m, 2);
	put_digits(out + 8, d, 2);
	put_digits(out + 11, msd / 3600000, 2);
	put_digits(out + 14, msd / 60000 % 60, 2);
	put_digits(out + 17, msd / 1000 % 60, 2);
	put_digits(out + 20, msd % 1000, 3);
	return out;
}

static void
time_put(char *d, int64_t ms)
{
	for (int i = 0; i < TIME_BYTES; i++)
		d[i] = (char)(uint8_t)((uint64_t)ms >> (8 * i));
}

static int64_t
time_get(const char *d)
{
	uint64_t v = 0;

	for (int i = TIME_BYTES; i-- > 0;)
		v = v << 8 | (uint8_t)d[i];
	return (int64_t)v;
}

/* The index of type (tlen bytes) in TYPES, or 0. */
static uint8_t
type_code(const char *type, size_t tlen)
{
	for (size_t i = 1; i < TYPES_N; i++)
		if (strlen(TYPES[i]) == tlen && memcmp(TYPES[i], type, tlen) == 0)
			return (uint8_t)i;
	return 0;
}

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
	size_t tlen = 0, timelen = 0, klen = 0, clen = 0, slen = 0, head = 0, rlen, size;
	bool packed, dedup = user_key != NULL && client_id != NULL, owned = subject != NULL;
	uint8_t tcode = 0;
	int64_t tms = -1;
	ptrdiff_t coded = -1;
	char code[HIST_CODE_MAX + 1];
	struct hist_rec *r;
	char *d;

	if (len > UINT32_MAX)
		return -1;
	/* Packed, the rest is read back up to its NUL: a text with a NUL in it is kept whole. */
	packed = split_head(json, len, room_id, seq, epoch, &type, &tlen, &time, &timelen, &rest) &&
	         memchr(rest, '\0', (size_t)(json + len - rest)) == NULL;
	if (!packed)
		rest = json;
	rlen = (size_t)(json + len - rest);
	if (dedup) {
		klen = strlen(user_key) + 1;
		clen = strlen(client_id) + 1;
	}
	if (owned)
		slen = strlen(subject) + 1;
	if (packed) {
		tcode = type_code(type, tlen);
		tms = time_pack(time, timelen);
		head = (tcode ? 0 : tlen + 1) + (tms >= 0 ? TIME_BYTES : timelen + 1);
		if (rlen <= HIST_CODE_MAX)
			coded = dict_code(rest, rlen, code);
	}
	size = offsetof(struct hist_rec, data) + slen + klen + clen + head +
	       (coded >= 0 ? (size_t)coded : rlen) + 1;
	if ((r = slab_malloc(size)) == NULL)
		return -1;
	r->len = (uint32_t)len;
	r->packed = packed;
	r->dedup = dedup;
	r->owned = owned;
	r->coded = coded >= 0;
	r->time_ms = tms >= 0;
	r->type = tcode;
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
	if (packed && !tcode) {
		memcpy(d, type, tlen);
		d[tlen] = '\0';
		d += tlen + 1;
	}
	if (packed && tms >= 0) {
		time_put(d, tms);
		d += TIME_BYTES;
	} else if (packed) {
		memcpy(d, time, timelen);
		d[timelen] = '\0';
		d += timelen + 1;
	}
	if (coded >= 0) {
		memcpy(d, code, (size_t)coded + 1);
	} else {
		memcpy(d, rest, rlen);
		d[rlen] = '\0';
	}
	ev->seq = seq;
	ev->rec = r;
	return 0;
}

void
hist_free(struct hist_ev *ev)
{
	slab_release(ev->rec);
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

/* A packed record's type (NUL-terminated) and where its time is; returns where the rest
 * begins. */
static const char *
packed_head(const struct hist_rec *r, const char **type, const char **time)
{
	const char *d = body(r);

	if (r->type != 0) {
		*type = TYPES[r->type];
	} else {
		*type = d;
		d += strlen(d) + 1;
	}
	*time = d;
	return r->time_ms ? d + TIME_BYTES : d + strlen(d) + 1;
}

void
hist_render(const struct hist_ev *ev, const char *room_id, const char *epoch, struct sbuf *out)
{
	const struct hist_rec *r = ev->rec;
	const char *type, *time, *rest;
	char iso[CLOCK_ISO8601_LEN];

	if (!r->packed) {
		sbuf_add(out, body(r), r->len);
		return;
	}
	rest = packed_head(r, &type, &time);
	sbuf_add(out, HEAD_TYPE, sizeof(HEAD_TYPE) - 1);
	sbuf_adds(out, type);
	sbuf_add(out, HEAD_ROOM, sizeof(HEAD_ROOM) - 1);
	sbuf_adds(out, room_id);
	sbuf_add(out, HEAD_SEQ, sizeof(HEAD_SEQ) - 1);
	sbuf_addi(out, (int64_t)ev->seq);
	sbuf_add(out, HEAD_EPOCH, sizeof(HEAD_EPOCH) - 1);
	sbuf_adds(out, epoch);
	sbuf_add(out, HEAD_TIME, sizeof(HEAD_TIME) - 1);
	sbuf_adds(out, r->time_ms ? time_text(time_get(time), iso) : time);
	sbuf_add(out, HEAD_END, sizeof(HEAD_END) - 1);
	if (r->coded)
		dict_render(rest, out);
	else
		sbuf_adds(out, rest);
}

size_t
hist_bytes(const struct hist_ev *ev)
{
	const struct hist_rec *r = ev->rec;
	const char *d = body(r), *type, *time;

	if (!r->packed)
		return offsetof(struct hist_rec, data) + (size_t)(d - r->data) + r->len + 1;
	d = packed_head(r, &type, &time);
	return offsetof(struct hist_rec, data) + (size_t)(d - r->data) + strlen(d) + 1;
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
