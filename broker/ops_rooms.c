/* ops_rooms.c — list_rooms, get_room, create_room and delete_room. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "jwt.h"
#include "log.h"
#include "ops.h"
#include "validate.h"
#include "wire.h"

/* list_rooms {} */
void
op_list_rooms(struct req *q)
{
	struct broker *b = q->b;
	struct jsonw w;

	ops_reply_begin(q, &w);
	jw_arr(&w, "rooms");
	for (size_t i = 0; i < b->nrooms; i++) {
		jw_obj(&w, NULL);
		ops_room_summary(&w, b->rooms_v[i]);
		jw_end(&w);
	}
	jw_end(&w);
	jw_end(&w);
}

/* get_room {room_id} */
void
op_get_room(struct req *q)
{
	struct room *r = ops_arg_room(q);
	struct jsonw w;

	if (r == NULL)
		return;
	ops_reply_begin(q, &w);
	jw_obj(&w, "room");
	ops_room_summary(&w, r);
	jw_arr(&w, "members");
	for (size_t i = 0; i < r->nmembers; i++)
		jw_str(&w, NULL, member_user(r->members_v[i]));
	jw_end(&w);
	jw_int(&w, "seq", (int64_t)r->seq);
	mod_write_meta(&w, "moderation", r);
	jw_end(&w);
	jw_end(&w);
}

/* How many rooms name subject as their owner. */
static uint32_t
rooms_owned(struct broker *b, const char *subject)
{
	uint32_t n = 0;
	for (size_t i = 0; i < b->nrooms; i++) {
		const struct room *r = b->rooms_v[i];
		if (r->mod != NULL && r->mod->owner != NULL && strcmp(r->mod->owner, subject) == 0)
			n++;
	}
	return n;
}

/* create_room {room_id, [name], [owner], [actor]}: with an actor that is no admin, the owner may
 * own at most --rooms-per-owner rooms (create_limit); a room with an owner gets an audit entry. */
void
op_create_room(struct req *q)
{
	struct broker *b = q->b;
	const char *id, *name, *why, *owner;
	char canon[MADANG_ROOM_NAME_MAX_BYTES + 1];
	size_t nlen, olen;
	struct room *r;
	struct actor a;
	bool has_actor = wire_has(q->rq, "actor");

	if (!b->cfg.allow_create) {
		ops_reply_error(q, ERR_FORBIDDEN, "room creation is disabled on this broker");
		return;
	}
	if ((id = ops_arg_id(q, "room_id")) == NULL)
		return;
	if (has_actor && !ops_arg_api_actor(q, &a))
		return;
	name = wire_str(q->rq, "name", &nlen);
	if (name == NULL && wire_has(q->rq, "name")) {
		ops_reply_error(q, ERR_INVALID_ARGUMENT, "name must be a string");
		return;
	}
	if (name == NULL) {
		name = id;
		nlen = strlen(id);
	}
	if (!room_name_canonical(name, nlen, canon, sizeof(canon), &why)) {
		ops_reply_error(q, ERR_INVALID_ARGUMENT, "%s", why);
		return;
	}
	owner = wire_str(q->rq, "owner", &olen);
	if (wire_has(q->rq, "owner") && !cJSON_IsNull(cJSON_GetObjectItem(q->rq, "owner")) &&
	    (owner == NULL || !jwt_subject_ok(owner, olen))) {
		ops_reply_error(q, ERR_INVALID_ARGUMENT,
		                "owner must be a subject: 1-128 bytes of UTF-8 without control "
		                "characters");
		return;
	}
	if (room_get(b, id) != NULL) {
		ops_reply_error(q, ERR_ROOM_EXISTS, "room %s already exists", id);
		return;
	}
	if ((r = room_by_name(b, canon)) != NULL) {
		ops_reply_error(q, ERR_NAME_TAKEN, "room %s already has this name", r->id);
		return;
	}
	if (b->nrooms >= b->cfg.max_rooms) {
		ops_reply_error(q, ERR_TOO_MANY_ROOMS, "the broker already has %zu rooms",
		                b->nrooms);
		return;
	}
	if (owner != NULL && has_actor && !a.admin &&
	    rooms_owned(b, owner) >= b->cfg.rooms_per_owner) {
		ops_reply_error(q, ERR_CREATE_LIMIT, "%s already owns %u rooms (--rooms-per-owner)",
		                owner, b->cfg.rooms_per_owner);
		return;
	}
	if ((r = room_create_new(b, id, canon)) == NULL) {
		ops_reply_error(q, ERR_INTERNAL, "out of memory");
		return;
	}
	if (owner != NULL) {
		if (mod_get(r) == NULL || (r->mod->owner = strdup(owner)) == NULL) {
			ops_reply_error(q, ERR_INTERNAL, "out of memory");
			return;
		}
		mod_meta_changed(b, r);
		struct actor unknown = {.name = "unknown", .role = ROLE_MEMBER};
		struct audit_info ai = ops_audit_info("owner");
		ai.subject = owner;
		ops_audit(b, r, has_actor ? &a : &unknown, &ai);
	}
	b->ctr.rooms_created++;
	log_info("broker: room %s created%s%s", r->id, owner ? ", owner " : "", owner ? owner : "");
	struct jsonw w;
	ops_event_begin(b, &w, "room_created");
	jw_str(&w, "room_id", r->id);
	jw_str(&w, "name", r->name);
	jw_end(&w);
	room_publish(b, WIRE_TOPIC_ALL, strlen(WIRE_TOPIC_ALL), b->ev.data, b->ev.len);
	ops_reply_begin(q, &w);
	jw_obj(&w, "room");
	ops_room_summary(&w, r);
	jw_end(&w);
	jw_end(&w);
}

/* delete_room {room_id} */
void
op_delete_room(struct req *q)
{
	struct broker *b = q->b;
	struct room *r = ops_arg_room(q);

	if (r == NULL)
		return;
	while (r->nmembers > 0)
		sess_leave(b, r->members_v[r->nmembers - 1], NULL);
	struct jsonw e;
	room_event_begin(b, r, "room_deleted", &e);
	jw_end(&e);
	room_emit(b, r, NULL, NULL);
	room_publish(b, WIRE_TOPIC_ALL, strlen(WIRE_TOPIC_ALL), b->ev.data, b->ev.len);
	if (b->store.room_deleted && !r->ephemeral)
		b->store.room_deleted(b->store.arg, r->id, r->seq);
	log_info("broker: room %s deleted", r->id);
	room_destroy(b, r);
	b->ctr.rooms_deleted++;
	ops_reply_ok(q);
}
