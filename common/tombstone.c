/* tombstone.c — a deleted message's tombstone (tombstone.h). */
#include "tombstone.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wire.h"

bool
tombstone_target(const cJSON *ev, uint64_t *seq)
{
	const char *type = wire_str(ev, "type", NULL);
	int64_t s;

	if (type == NULL || strcmp(type, "message_deleted") != 0 ||
	    !wire_int(ev, "deleted_seq", &s) || s < 0)
		return false;
	*seq = (uint64_t)s;
	return true;
}

char *
tombstone_json(const char *json, size_t len, const char *note, size_t *out_len, char *sender,
               size_t sender_size)
{
	const char *why, *type, *snd;
	cJSON *o = wire_parse_object(json, len, len, &why), *m;
	bool deleted = false;
	char *out = NULL;

	if (o == NULL)
		return NULL;
	type = wire_str(o, "type", NULL);
	snd = wire_str(o, "sender", NULL);
	if (type == NULL || strcmp(type, "message") != 0 ||
	    (wire_bool(o, "deleted", &deleted) && deleted) || (sender != NULL && snd == NULL))
		goto done;
	if (sender != NULL)
		snprintf(sender, sender_size, "%s", snd);
	/* The text goes, and the client_id with it (it was the sender's, and could name it). */
	cJSON_DeleteItemFromObjectCaseSensitive(o, "client_id");
	if ((m = cJSON_CreateString("")) == NULL ||
	    !cJSON_ReplaceItemInObjectCaseSensitive(o, "message", m)) {
		cJSON_Delete(m);
		goto done;
	}
	cJSON_DeleteItemFromObjectCaseSensitive(o, "deleted");
	cJSON_DeleteItemFromObjectCaseSensitive(o, "note");
	if (cJSON_AddBoolToObject(o, "deleted", true) == NULL ||
	    (note != NULL && cJSON_AddStringToObject(o, "note", note) == NULL))
		goto done;
	if ((out = cJSON_PrintUnformatted(o)) != NULL)
		*out_len = strlen(out);
done:
	cJSON_Delete(o);
	return out;
}
