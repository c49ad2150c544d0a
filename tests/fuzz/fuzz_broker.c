/* fuzz_broker.c — libFuzzer target: arbitrary bytes as a broker request (broker_handle), against a
 * broker with rooms, a front-end and members, so that every op reaches its deeper paths. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "log.h"

static void
drop(void *arg, const char *topic, size_t tlen, const char *json, size_t jlen)
{
	(void)arg;
	(void)topic;
	(void)tlen;
	(void)json;
	(void)jlen;
}

static struct broker *
fresh(void)
{
	static const char *const setup[] = {
		"{\"op\":\"hello\",\"frontend\":\"fe\",\"instance\":\"i\"}",
		/* alice owns room1 and carol moderates it, so that moderation ops by members reach
		 * past the rights check. */
		"{\"op\":\"set_room\",\"room_id\":\"room1\",\"actor\":{\"name\":\"a\",\"admin\":true},\"owner\":\"u-1\",\"moderators\":[\"u-3\"]}",
		"{\"op\":\"join\",\"frontend\":\"fe\",\"session\":\"s1\",\"room_id\":\"room1\",\"user\":\"alice\",\"subject\":\"u-1\"}",
		"{\"op\":\"join\",\"frontend\":\"fe\",\"session\":\"s2\",\"room_id\":\"room1\",\"user\":\"bob\",\"addr\":\"10.0.0.2\"}",
		"{\"op\":\"join\",\"frontend\":\"fe\",\"session\":\"s3\",\"room_id\":\"room1\",\"user\":\"carol\",\"subject\":\"u-3\"}",
		"{\"op\":\"send\",\"frontend\":\"fe\",\"session\":\"s1\",\"room_id\":\"room1\",\"text\":\"hi\",\"client_id\":\"c1\"}",
	};
	struct broker_config cfg;
	struct sbuf out;

	broker_config_defaults(&cfg);
	cfg.history = 8;
	cfg.allow_create = true;
	cfg.max_rooms = 64;
	cfg.max_members = 16;
	struct broker *b = broker_create(&cfg, "0123456789abcdef", drop, NULL);
	broker_add_default_rooms(b);
	sbuf_init(&out);
	for (size_t i = 0; i < sizeof(setup) / sizeof(setup[0]); i++)
		broker_handle(b, setup[i], strlen(setup[i]), 0, 1000, &out);
	sbuf_fini(&out);
	return b;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct broker *b;
	static unsigned runs;
	static uint64_t mono = 1000;
	struct sbuf out;

	if (b == NULL) {
		/* The broker's rooms, sessions and members are slab items (common/slab.h), which
		 * LeakSanitizer does not look into: what only they point to (a room's moderation
		 * state) would be reported as leaked, for this broker lives from one input to the
		 * next. So its items are malloc's here, as in the sanitizer suite. */
		setenv("MADANG_SLAB", "off", 1);
		log_init("fuzz", LOG_LVL_ERROR);
		b = fresh();
	}
	sbuf_init(&out);
	broker_handle(b, (const char *)data, size, 1795316806123LL, mono, &out);
	/* A reply is always one JSON object. */
	if (out.len < 2 || out.data[0] != '{' || out.data[out.len - 1] != '}')
		__builtin_trap();
	sbuf_fini(&out);
	mono += 7;
	broker_tick(b, 1795316806123LL, mono);
	if (++runs % 5000 == 0) { /* bound the state the fuzzer can grow */
		broker_destroy(b);
		b = fresh();
	}
	return 0;
}
