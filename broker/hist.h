/* hist.h — one room event kept in the broker's history ring, packed in one allocation.
 *
 * Every event the broker publishes begins with the same head (room_event_begin):
 *   {"type":"T","room_id":"R","seq":N,"epoch":"E","time":"S",
 * The room id, the seq and the epoch are known to whoever reads the ring, so a packed record
 * keeps only the type, the time and what follows the head: for a join notice that is about 80
 * of its 200 bytes less (docs/performance.md, finding 28). An event whose text does not begin
 * with that head (an older broker's, read back from a store) is kept whole. Either way the text
 * given back is byte for byte the text given in. */
#ifndef MADANG_BROKER_HIST_H
#define MADANG_BROKER_HIST_H

#include <stddef.h>
#include <stdint.h>

#include "sbuf.h"

struct hist_rec;

struct hist_ev {
	uint64_t seq;
	struct hist_rec *rec; /* NULL: an empty slot */
};

/* The longest rest of a text (after the head) that is coded. It is coded in a buffer on the
 * stack, so that the record is allocated once, at its size; a longer one is kept as it is: what
 * the codes save on it (keys and notices, tens of bytes) is nothing beside its length. */
#define HIST_CODE_MAX 8192

/* Packs the event json (len bytes) of seq in room room_id, published under epoch, with the
 * sender's folded nickname and the client's message id when the event is a message that has
 * one (both NULL otherwise: only the pair serves duplicate detection), and the sender's token
 * subject when the event is a message sent with a token (NULL otherwise: whose it is, for a
 * member deleting its own message). Returns 0, or -1 when out of memory (ev untouched). */
int hist_make(struct hist_ev *ev, uint64_t seq, const char *room_id, const char *epoch,
              const char *json, size_t len, const char *user_key, const char *client_id,
              const char *subject);
/* Frees the record; the slot becomes empty. */
void hist_free(struct hist_ev *ev);
/* The length of the event's whole text. */
size_t hist_len(const struct hist_ev *ev);
/* Appends the event's whole text, as given to hist_make, to out (room_id and epoch: as given
 * to hist_make). */
void hist_render(const struct hist_ev *ev, const char *room_id, const char *epoch,
                 struct sbuf *out);
/* The bytes allocated for the record (without malloc's own). */
size_t hist_bytes(const struct hist_ev *ev);
/* The pair given to hist_make, or NULL when the event has none. */
const char *hist_user_key(const struct hist_ev *ev);
const char *hist_client_id(const struct hist_ev *ev);
/* The subject given to hist_make, or NULL. */
const char *hist_subject(const struct hist_ev *ev);

#endif
