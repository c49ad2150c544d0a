/* ops.c — decodes broker requests and dispatches them by op name to the handlers of ops_*.c
 * (docs/broker-protocol.md); batch and the reply's out-of-memory fallback live here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ops.h"
#include "validate.h"
#include "wire.h"

static const struct {
	const char *name;
	void (*fn)(struct req *);
} ops[] = {
    {"send", op_send},
    {"typing", op_typing},
    {"join", op_join},
    {"leave", op_leave},
    {"heartbeat", op_heartbeat},
    {"private", op_private},
    {"history", op_history},
    {"list_rooms", op_list_rooms},
    {"get_room", op_get_room},
    {"create_room", op_create_room},
    {"delete_room", op_delete_room},
    {"hello", op_hello},
    {"sync", op_sync},
    {"stats", op_stats},
    {"health", op_health},
    {"kick", op_kick},
    {"ban", op_ban},
    {"unban", op_unban},
    {"list_bans", op_list_bans},
    {"mute", op_mute},
    {"unmute", op_unmute},
    {"list_mutes", op_list_mutes},
    {"delete_message", op_delete_message},
    {"slow_mode", op_slow_mode},
    {"set_room", op_set_room},
    {"audit", op_audit},
};

static bool
dispatch(struct req *q, const char *op)
{
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (strcmp(op, ops[i].name) == 0) {
			ops[i].fn(q);
			return true;
		}
	}
	return false;
}

/* batch {requests:[{op…},…]} — applies each request in order, as if sent alone; the replies come
 * back in the same order. Lets a front-end send everything one loop turn produced in one message.
 */
static void
op_batch(struct req *q)
{
	struct broker *b = q->b;
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(q->rq, "requests");
	const cJSON *item;
	struct sbuf one;
	struct jsonw w;

	if (!cJSON_IsArray(list) || cJSON_GetArraySize(list) > MADANG_BATCH_MAX) {
		ops_reply_error(q, ERR_INVALID_ARGUMENT, "requests must be an array of at most %d",
		                MADANG_BATCH_MAX);
		return;
	}
	sbuf_init(&one);
	ops_reply_begin(q, &w);
	jw_arr(&w, "replies");
	cJSON_ArrayForEach(item, list)
	{
		struct req sub = {.b = b, .rq = item, .out = &one};
		const char *op = cJSON_IsObject(item) ? wire_str(item, "op", NULL) : NULL;

		sbuf_reset(&one);
		b->ctr.requests++;
		if (op == NULL)
			ops_reply_error(&sub, ERR_INVALID_REQUEST, "op must be a string");
		else if (strcmp(op, "batch") == 0)
			ops_reply_error(&sub, ERR_INVALID_REQUEST, "batches do not nest");
		else if (!dispatch(&sub, op))
			ops_reply_error(&sub, ERR_UNKNOWN_OP, "unknown op");
		jw_raw(&w, NULL, one.data, one.len);
		if (one.oom)
			q->out->oom = true;
	}
	jw_end(&w);
	jw_end(&w);
	sbuf_fini(&one);
}

void
broker_handle(struct broker *b, const char *text, size_t len, int64_t wall_ms, uint64_t mono_ms,
              struct sbuf *reply)
{
	struct req q = {.b = b, .out = reply};
	const char *why, *op;
	cJSON *rq;

	fe_clock_advance(b, wall_ms, mono_ms);
	b->ctr.requests++;
	sbuf_reset(reply);
	if ((rq = wire_parse_object(text, len, MADANG_RPC_MAX, &why)) == NULL) {
		ops_reply_error(&q, ERR_INVALID_REQUEST, "%s", why);
		return;
	}
	q.rq = rq;
	if ((op = wire_str(rq, "op", NULL)) == NULL) {
		ops_reply_error(&q, ERR_INVALID_REQUEST, "op must be a string");
		goto out;
	}
	if (strcmp(op, "batch") == 0)
		op_batch(&q);
	else if (!dispatch(&q, op))
		ops_reply_error(&q, ERR_UNKNOWN_OP, "unknown op");
out:
	room_reap(b);
	if (reply->oom) {
		sbuf_reset(reply);
		sbuf_adds(reply,
		          "{\"ok\":false,\"error\":\"internal\",\"message\":\"out of memory\"}");
	}
	cJSON_Delete(rq);
}
