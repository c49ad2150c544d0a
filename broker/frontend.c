/* frontend.c — registered front-ends, their sessions, and expiry of silent front-ends. */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "core.h"
#include "log.h"
#include "slab.h"

struct frontend *
fe_get(struct broker *b, const char *id)
{
	return hmap_get(&b->frontends, id);
}

void
fe_set_bundles(struct broker *b, struct frontend *fe, bool on)
{
	if (fe->bundles == on)
		return;
	fe->bundles = on;
	if (on)
		b->frontends_bundled++;
	else
		b->frontends_bundled--;
}

static void
fe_destroy(struct broker *b, struct frontend *fe)
{
	fe_set_bundles(b, fe, false);
	hmap_del(&b->frontends, fe->id);
	iset_fini(&fe->sessions);
	free(fe);
}

/* Registers instance under id. An older instance under the same id is expired first. */
struct frontend *
fe_register(struct broker *b, const char *id, const char *instance)
{
	struct frontend *fe = fe_get(b, id);

	if (fe != NULL) {
		if (strcmp(fe->instance, instance) == 0) {
			fe->last_seen_ms = b->now_mono;
			return fe;
		}
		log_info("broker: front-end %s restarted (instance %s replaces %s)", id, instance,
		         fe->instance);
		fe_expire(b, fe, "expired");
	}
	if ((fe = calloc(1, sizeof(*fe))) == NULL)
		return NULL;
	strncpy(fe->id, id, sizeof(fe->id) - 1);
	strncpy(fe->instance, instance, sizeof(fe->instance) - 1);
	iset_init(&fe->sessions, offsetof(struct session, key));
	fe->last_seen_ms = b->now_mono;
	if (hmap_put(&b->frontends, fe->id, fe) != 0) {
		free(fe);
		return NULL;
	}
	b->ctr.frontends_registered++;
	log_info("broker: front-end %s registered (instance %s)", id, instance);
	return fe;
}

/* Every member of every session of fe leaves (with leave events), then fe is forgotten. */
void
fe_expire(struct broker *b, struct frontend *fe, const char *reason)
{
	size_t it = 0, members = 0, sessions = 0;
	void *v;

	while (iset_next(&fe->sessions, &it, &v)) {
		struct session *s = v;
		sessions++;
		/* sess_leave frees the session with its last room: take the count first. */
		for (size_t n = s->nrooms; n > 0; n--) {
			members++;
			sess_leave(b, sess_rooms(s)[n - 1], reason);
		}
	}
	log_info("broker: front-end %s (instance %s) %s: %zu sessions, %zu memberships left",
	         fe->id, fe->instance, reason, sessions, members);
	fe_destroy(b, fe);
}

/* The key of id into key (SESSION_PACKED + 1 bytes) when id is 32 lowercase hex digits: the
 * 128 bits after 5 zero bits, 7 to a byte, each with the high bit set. Else id itself. */
static const char *
sess_key(const char *id, char *key)
{
	uint32_t acc = 0;
	int bits = 5, n = 0;

	for (int i = 0; i < 32; i++) {
		char c = id[i];
		uint32_t v;
		if (c >= '0' && c <= '9')
			v = (uint32_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = (uint32_t)(c - 'a' + 10);
		else
			return id; /* shorter, or not lowercase hex */
		acc = (acc << 4 | v) & 0x3ff;
		for (bits += 4; bits >= 7; bits -= 7)
			key[n++] = (char)(0x80 | (acc >> (bits - 7) & 0x7f));
	}
	if (id[32] != '\0')
		return id;
	key[n] = '\0'; /* n == SESSION_PACKED: 5 + 128 bits are 19 × 7 */
	return key;
}

const char *
sess_id(const struct session *s, char buf[MADANG_SESSION_MAX + 1])
{
	uint32_t acc = 0;
	int bits = -5, n = 0; /* the first 5 bits are the padding */

	if (!((unsigned char)s->key[0] & 0x80) ||
	    strnlen(s->key, SESSION_PACKED + 1) != SESSION_PACKED)
		return s->key; /* as given (the length check: never read past a key) */
	for (int i = 0; i < SESSION_PACKED; i++) {
		acc = (acc << 7 | ((unsigned char)s->key[i] & 0x7f)) & 0x3ff;
		for (bits += 7; bits >= 4; bits -= 4)
			buf[n++] = "0123456789abcdef"[acc >> (bits - 4) & 0xf];
	}
	buf[n] = '\0';
	return buf;
}

void
jw_session(struct jsonw *w, const struct session *s)
{
	char buf[MADANG_SESSION_MAX + 1];

	jw_str(w, "session", sess_id(s, buf));
}

struct session *
sess_get(struct frontend *fe, const char *id)
{
	char key[SESSION_PACKED + 1];

	return iset_get(&fe->sessions, sess_key(id, key));
}

struct session *
sess_get_or_create(struct broker *b, struct frontend *fe, const char *id)
{
	char packed[SESSION_PACKED + 1];
	const char *key = sess_key(id, packed);
	struct session *s = iset_get(&fe->sessions, key);

	if (s != NULL)
		return s;
	size_t n = strnlen(key, MADANG_SESSION_MAX);
	if ((s = slab_zalloc(offsetof(struct session, key) + n + 1)) == NULL)
		return NULL;
	memcpy(s->key, key, n);
	s->fe = fe;
	if (iset_put(&fe->sessions, s) != 0) {
		slab_release(s);
		return NULL;
	}
	b->sessions_total++;
	return s;
}

static void
sess_destroy(struct broker *b, struct session *s)
{
	iset_del(&s->fe->sessions, s->key);
	if (s->rooms_log2)
		slab_release(s->rooms.many);
	slab_release(s);
	b->sessions_total--;
}

void
sess_release_if_empty(struct broker *b, struct session *s)
{
	if (s->nrooms == 0)
		sess_destroy(b, s);
}

struct member *
sess_member_of(struct session *s, struct room *r)
{
	for (size_t i = 0; i < s->nrooms; i++)
		if (sess_rooms(s)[i]->room == r)
			return sess_rooms(s)[i];
	return NULL;
}

void
sess_leave(struct broker *b, struct member *m, const char *reason)
{
	struct session *s = m->sess;

	if (reason != NULL)
		room_emit_leave(b, m, reason);
	room_member_remove(b, m);
	if (s->nrooms == 0)
		sess_destroy(b, s);
}

void
fe_clock_advance(struct broker *b, int64_t wall_ms, uint64_t mono_ms)
{
	size_t it = 0;
	void *v;

	b->now_wall = wall_ms;
	b->now_mono = mono_ms;
	clock_iso8601(wall_ms, b->now_iso);
	/* A gap since the loop last ran (SIGSTOP, a frozen VM, swapping) is time in which the
	 * broker heard nobody because it listened to nobody: it is not the front-ends' silence.
	 * Every front-end gets a fresh grace period (a full timeout from now), which also covers
	 * one that is still backing off after its requests timed out during the stall. */
	uint64_t stall = b->cfg.frontend_timeout_ms / 3;
	if (stall > BROKER_STALL_MS)
		stall = BROKER_STALL_MS;
	if (stall < BROKER_STALL_MIN_MS)
		stall =
		    BROKER_STALL_MIN_MS; /* else every tick of a tiny timeout would be a stall */
	if (b->last_run_ms != 0 && mono_ms > b->last_run_ms && mono_ms - b->last_run_ms > stall) {
		b->ctr.stalls++;
		log_warn("broker: the loop did not run for %llu ms: every front-end gets a fresh "
		         "%llu ms to be heard from",
		         (unsigned long long)(mono_ms - b->last_run_ms),
		         (unsigned long long)b->cfg.frontend_timeout_ms);
		while (hmap_next(&b->frontends, &it, NULL, &v)) {
			struct frontend *fe = v;
			if (fe->last_seen_ms < mono_ms)
				fe->last_seen_ms = mono_ms;
		}
	}
	if (mono_ms > b->last_run_ms)
		b->last_run_ms = mono_ms;
}

void
broker_tick(struct broker *b, int64_t wall_ms, uint64_t mono_ms)
{
	size_t it = 0;
	void *v;

	fe_clock_advance(b, wall_ms, mono_ms);
	while (hmap_next(&b->frontends, &it, NULL, &v)) {
		struct frontend *fe = v;
		/* last_seen may be a little ahead of mono_ms (taken while a batch was applied). */
		if (mono_ms > fe->last_seen_ms &&
		    mono_ms - fe->last_seen_ms > b->cfg.frontend_timeout_ms) {
			b->ctr.frontends_expired++;
			log_warn("broker: front-end %s missed heartbeats for %llu ms", fe->id,
			         (unsigned long long)(mono_ms - fe->last_seen_ms));
			fe_expire(b, fe, "expired");
		}
	}
	mod_expire(b);
	room_reap(b);
}
