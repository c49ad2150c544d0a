/* fuzz_ws.c — libFuzzer target for madang-ws's client input: the first byte picks the parser,
 * the rest is its input. 0: a client text frame (cmd_parse, after the UTF-8 check madang-ws does
 * first); 1: a request path (route_path); 2: query values "user\0since\0epoch\0resume". */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "utf8.h"
#include "ws-frontend/cmd.h"
#include "ws-frontend/route.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[70000];
	const char *code, *why;

	if (size < 1 || size > sizeof(buf) - 1)
		return 0;
	memcpy(buf, data + 1, size - 1);
	buf[size - 1] = '\0';
	switch (data[0] % 3) {
	case 0: {
		struct cmd c;
		if (!utf8_valid(buf, size - 1))
			return 0;
		if (cmd_parse(buf, size - 1, MADANG_TEXT_MAX, &c, &code, &why) == 0) {
			if (c.text_len > MADANG_TEXT_MAX || c.note_len > MADANG_NOTE_MAX)
				__builtin_trap();
			cmd_fini(&c);
		} else if (code == NULL || why == NULL) {
			__builtin_trap();
		}
		break;
	}
	case 1: {
		struct route r;
		memset(&r, 0, sizeof(r));
		route_path(buf, &r, &why);
		break;
	}
	default: {
		struct route r;
		const char *f[4] = {NULL, NULL, NULL, NULL};
		size_t off = 0;
		for (int i = 0; i < 4 && off < size - 1; i++) {
			f[i] = buf + off;
			off += strlen(buf + off) + 1;
		}
		memset(&r, 0, sizeof(r));
		route_query(&r, f[0], f[1], f[2], f[3], &why);
		break;
	}
	}
	return 0;
}
