/* apifake.h — stand-ins for madang-api's unit tests (test_api_handler.c, test_api_moderation.c):
 * a broker that answers every request with one reply text and remembers the last request, and
 * a request body read in chunks. */
#ifndef MADANG_TEST_APIFAKE_H
#define MADANG_TEST_APIFAKE_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "../../rest-fcgi/api.h"

struct fake_broker {
	enum api_call_result result; /* API_CALL_OK: answer with reply */
	const char *reply;           /* JSON text */
	char last[2048];             /* the last request, as JSON */
	int calls;
};

/* api_input.call: arg is a struct fake_broker. */
enum api_call_result fake_call(void *arg, const cJSON *req, cJSON **reply);

struct fake_body {
	const char *data;
	size_t len, off;
	size_t chunk; /* at most this many bytes per read (0: no limit) */
	bool fail;    /* reads fail */
};

/* api_input.read_body: arg is a struct fake_body. */
long fake_read(void *arg, char *buf, size_t n);

#endif
