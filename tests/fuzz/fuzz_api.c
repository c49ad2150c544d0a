/* fuzz_api.c — libFuzzer target for madang-api's request handling (api_handle): method, URI,
 * Content-Length, Authorization and body come from the input ("\n"-separated, body last), the
 * broker is a stand-in that answers every call with a plausible reply. Every answer must be a
 * well-formed response with a status from 200 to 503 and never 500. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "rest-fcgi/api.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct body {
	const char *p;
	size_t n;
};

static long
read_body(void *arg, char *buf, size_t n)
{
	struct body *b = arg;
	size_t k = n < b->n ? n : b->n;
	memcpy(buf, b->p, k);
	b->p += k;
	b->n -= k;
	return (long)k;
}

static enum api_call_result
call(void *arg, const cJSON *req, cJSON **reply)
{
	const char *op = cJSON_GetStringValue(cJSON_GetObjectItem(req, "op"));
	(void)arg;
	if (op && strcmp(op, "list_rooms") == 0)
		*reply = cJSON_Parse("{\"ok\":true,\"rooms\":[{\"id\":\"room1\",\"name\":\"A\",\"users_count\":1}]}");
	else if (op && strcmp(op, "get_room") == 0)
		*reply = cJSON_Parse("{\"ok\":false,\"error\":\"no_such_room\",\"message\":\"no\"}");
	else
		*reply = cJSON_Parse("{\"ok\":true,\"status\":\"ok\",\"events\":[],\"counters\":{}}");
	return *reply ? API_CALL_OK : API_CALL_BAD_REPLY;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char buf[70000];
	char *fields[4] = {NULL, NULL, NULL, NULL};
	size_t off = 0;

	if (size > sizeof(buf) - 1)
		return 0;
	memcpy(buf, data, size);
	buf[size] = '\0';
	for (int i = 0; i < 4; i++) {
		fields[i] = buf + off;
		char *nl = memchr(buf + off, '\n', size - off);
		if (nl == NULL) {
			off = size;
			break;
		}
		*nl = '\0';
		off = (size_t)(nl - buf) + 1;
	}
	struct body b = {buf + off, size - off};
	struct api_config cfg = {.admin_token = "0123456789abcdef-token"};
	struct api_input in = {
		.method = fields[0], .uri = fields[1], .content_length = fields[2],
		.authorization = fields[3], .content_type = "application/json",
		.read_body = read_body, .read_arg = &b, .call = call,
	};
	struct api_response r;
	api_response_init(&r);
	api_handle(&cfg, &in, &r);
	if (r.status < 200 || r.status > 503 || r.status == 500)
		__builtin_trap();
	api_response_fini(&r);
	return 0;
}
