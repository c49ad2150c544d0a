/* apifake.c — madang-api's test stand-ins (apifake.h). */
#include "apifake.h"

#include <stdio.h>
#include <string.h>

enum api_call_result
fake_call(void *arg, const cJSON *req, cJSON **reply)
{
	struct fake_broker *b = arg;
	char *text = cJSON_PrintUnformatted(req);

	b->calls++;
	snprintf(b->last, sizeof(b->last), "%s", text != NULL ? text : "");
	cJSON_free(text);
	*reply = NULL;
	if (b->result != API_CALL_OK)
		return b->result;
	*reply = cJSON_Parse(b->reply);
	return *reply != NULL ? API_CALL_OK : API_CALL_BAD_REPLY;
}

long
fake_read(void *arg, char *buf, size_t n)
{
	struct fake_body *b = arg;
	size_t k = b->len - b->off;

	if (b->fail)
		return -1;
	if (k > n)
		k = n;
	if (b->chunk != 0 && k > b->chunk)
		k = b->chunk;
	memcpy(buf, b->data + b->off, k);
	b->off += k;
	return (long)k;
}
