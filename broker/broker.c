/* broker.c — creating and destroying the broker core, and its rooms at start-up. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core.h"
#include "validate.h"
#include "wire.h"

void
broker_config_defaults(struct broker_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->history = MADANG_HISTORY_DEFAULT;
	cfg->max_members = MADANG_MEMBERS_DEFAULT;
	cfg->max_rooms = MADANG_ROOMS_DEFAULT;
	cfg->frontend_timeout_ms = 3000;
	cfg->join_history = 50;
	cfg->bundles = true;
	cfg->notices = BROKER_NOTICES_KO;
	cfg->ephemeral_per_addr = BROKER_EPHEMERAL_PER_ADDR_DEFAULT;
	cfg->ephemeral_per_user = BROKER_EPHEMERAL_PER_USER_DEFAULT;
	cfg->history_bytes = BROKER_HISTORY_BYTES_DEFAULT;
	cfg->max_bans = MADANG_BANS_DEFAULT;
	cfg->audit_days = BROKER_AUDIT_DAYS_DEFAULT;
	cfg->rooms_per_owner = BROKER_ROOMS_PER_OWNER_DEFAULT;
}

struct broker *
broker_create(const struct broker_config *cfg, const char *epoch, broker_publish_fn publish,
              void *publish_arg)
{
	struct broker *b = calloc(1, sizeof(*b));

	if (b == NULL)
		return NULL;
	b->cfg = *cfg;
	snprintf(b->epoch, sizeof(b->epoch), "%s", epoch);
	b->publish = publish;
	b->publish_arg = publish_arg;
	hmap_init(&b->rooms);
	hmap_init(&b->names);
	hmap_init(&b->eph_addr);
	hmap_init(&b->eph_user);
	hmap_init(&b->frontends);
	sbuf_init(&b->ev);
	b->now_mono = clock_mono_ms();
	b->now_wall = clock_wall_ms();
	b->start_ms = b->now_mono;
	clock_iso8601(b->now_wall, b->now_iso);
	return b;
}

void
broker_destroy(struct broker *b)
{
	size_t it = 0;
	void *v;

	if (b == NULL)
		return;
	/* Drop every membership silently (no events), then the front-ends and rooms. */
	b->publish = NULL;
	while (hmap_next(&b->frontends, &it, NULL, &v)) {
		struct frontend *fe = v;
		size_t jt = 0;
		void *w;
		while (iset_next(&fe->sessions, &jt, &w)) {
			struct session *s = w;
			for (size_t n = s->nrooms; n > 0; n--)
				sess_leave(b, sess_rooms(s)[n - 1], NULL);
		}
		iset_fini(&fe->sessions);
		free(fe);
	}
	hmap_fini(&b->frontends);
	while (b->nrooms > 0)
		room_destroy(b, b->rooms_v[b->nrooms - 1]);
	free(b->rooms_v);
	hmap_fini(&b->rooms);
	hmap_fini(&b->names);
	eph_fini(b);
	sbuf_fini(&b->ev);
	free(b);
}

int
broker_add_room(struct broker *b, const char *id, const char *name, char *err, size_t errsz)
{
	char canon[MADANG_ROOM_NAME_MAX_BYTES + 1];
	const char *why;
	struct room *other;

	if (id == NULL || !valid_room_id(id, strlen(id))) {
		snprintf(err, errsz, "room id \"%s\" must match [A-Za-z0-9_-]{1,64}", id ? id : "");
		return -1;
	}
	if (room_get(b, id) != NULL) {
		snprintf(err, errsz, "room %s is listed twice", id);
		return -1;
	}
	if (name == NULL || !room_name_canonical(name, strlen(name), canon, sizeof(canon), &why)) {
		snprintf(err, errsz, "room %s: %s", id, name ? why : "name missing");
		return -1;
	}
	if ((other = room_by_name(b, canon)) != NULL) {
		snprintf(err, errsz, "room %s: the name \"%s\" is taken by room %s", id, canon,
		         other->id);
		return -1;
	}
	if (b->nrooms >= b->cfg.max_rooms) {
		snprintf(err, errsz, "more than %u rooms", b->cfg.max_rooms);
		return -1;
	}
	if (room_create_new(b, id, canon) == NULL) {
		snprintf(err, errsz, "out of memory");
		return -1;
	}
	return 0;
}

int
broker_add_default_rooms(struct broker *b)
{
	static const char *const rooms[][2] = {
	    {"room1", "일반 대화"},
	    {"room2", "기술 토론"},
	    {"room3", "취미 공유"},
	    {"room4", "음악 & 영화"},
	};
	char err[128];

	for (size_t i = 0; i < sizeof(rooms) / sizeof(rooms[0]); i++)
		if (broker_add_room(b, rooms[i][0], rooms[i][1], err, sizeof(err)) != 0)
			return -1;
	return 0;
}

int
broker_load_rooms(struct broker *b, const char *json, size_t len, char *err, size_t errsz)
{
	cJSON *root = NULL, *list, *item;
	int rv = -1;

	/* Accept a bare array by wrapping it: {"rooms": [...]} is the documented form. */
	root = cJSON_ParseWithLength(json, len);
	if (root == NULL) {
		snprintf(err, errsz, "not valid JSON");
		return -1;
	}
	if (cJSON_IsArray(root)) {
		list = root;
	} else if (cJSON_IsObject(root)) {
		list = cJSON_GetObjectItemCaseSensitive(root, "rooms");
	} else {
		list = NULL;
	}
	if (!cJSON_IsArray(list)) {
		snprintf(err, errsz, "expected {\"rooms\":[{\"id\":…,\"name\":…},…]}");
		goto out;
	}
	cJSON_ArrayForEach(item, list)
	{
		const char *id = cJSON_IsObject(item) ? wire_str(item, "id", NULL) : NULL;
		const char *name = cJSON_IsObject(item) ? wire_str(item, "name", NULL) : NULL;
		if (broker_add_room(b, id, name ? name : id, err, errsz) != 0)
			goto out;
	}
	rv = 0;
out:
	cJSON_Delete(root);
	return rv;
}

void
broker_set_store(struct broker *b, const struct broker_store *store)
{
	b->store = *store;
}

int
broker_restore_room(struct broker *b, const char *id, const char *name, uint64_t seq)
{
	struct room *r = room_create(b, id, name);

	if (r == NULL)
		return -1;
	r->seq = seq;
	return 0;
}

int
broker_restore_event(struct broker *b, const char *room_id, uint64_t seq, const char *json,
                     size_t len, const char *user_key, const char *client_id, const char *subject)
{
	struct room *r = room_get(b, room_id);
	struct hist_ev ev;

	if (r == NULL || r->ring_cap == 0)
		return r == NULL ? -1 : 0;
	if (hist_make(&ev, seq, r->id, b->epoch, json, len, user_key, client_id, subject) != 0)
		return -1;
	return room_ring_push(r, &ev);
}

int
broker_set_epoch(struct broker *b, const char *epoch)
{
	struct sbuf text;
	int rv = 0;

	if (strcmp(epoch, b->epoch) == 0)
		return 0;
	/* The ring's packed events were written under the old epoch (hist.h): each is kept whole
	 * from now on, as it was published. */
	sbuf_init(&text);
	for (size_t i = 0; i < b->nrooms && rv == 0; i++) {
		struct room *r = b->rooms_v[i];
		for (size_t k = 0; k < r->ring_len && rv == 0; k++) {
			struct hist_ev *e = room_hist_at(r, k), t;
			sbuf_reset(&text);
			hist_render(e, r->id, b->epoch, &text);
			if (text.oom ||
			    hist_make(&t, e->seq, r->id, epoch, text.data, text.len,
			              hist_user_key(e), hist_client_id(e), hist_subject(e)) != 0) {
				rv = -1;
				break;
			}
			hist_free(e);
			*e = t;
		}
	}
	sbuf_fini(&text);
	if (rv == 0)
		snprintf(b->epoch, sizeof(b->epoch), "%s", epoch);
	return rv;
}

void
broker_set_term(struct broker *b, uint64_t term)
{
	b->term = term;
}

const char *
broker_epoch(const struct broker *b)
{
	return b->epoch;
}

size_t
broker_room_count(const struct broker *b)
{
	return b->nrooms;
}

size_t
broker_member_count(const struct broker *b)
{
	return b->members_total;
}

size_t
broker_frontend_count(const struct broker *b)
{
	return b->frontends.count;
}

void
broker_event_modes(const struct broker *b, bool *rooms, bool *bundle)
{
	*bundle = b->frontends_bundled > 0;
	*rooms = b->cfg.room_topics || b->frontends_bundled < b->frontends.count ||
	         b->frontends.count == 0;
}
