/* frame.h — complete, unmasked WebSocket text frames built once and shared by reference. */
#ifndef MADANG_WS_FRAME_H
#define MADANG_WS_FRAME_H

#include <stddef.h>
#include <stdint.h>

/* A server-to-client text frame: header and payload in one block. Shared by every recipient
 * (the room log, session queues); freed when the last reference is dropped. Only the lws
 * thread touches frames, so the count needs no atomics. */
struct ws_frame {
	uint32_t refs;
	uint32_t len;         /* header + payload bytes in data (8 bytes of header, not 16: the
	                       * room keeps a join event per member, docs/performance.md, finding 28) */
	unsigned char data[]; /* FIN+text opcode, length, payload */
};

/* Builds a frame around payload[0..len). Returns it with one reference, or NULL (no memory,
 * or a payload of 4 GiB or more, which no frame of ours comes near: WS_REPLY_MAX). */
struct ws_frame *ws_frame_text(const char *payload, size_t len);
struct ws_frame *ws_frame_ref(struct ws_frame *f);
void ws_frame_unref(struct ws_frame *f);

/* The payload of a frame ws_frame_text built (its bytes after the header), *len its length. */
const char *ws_frame_payload(const struct ws_frame *f, size_t *len);

/* Length of the header ws_frame_text writes for a payload of len bytes (2, 4 or 10). */
size_t ws_frame_header_len(size_t len);

#endif
