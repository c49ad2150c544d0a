/* validate.h — the syntax of room ids, nicknames, room names and message text (no I/O). */
#ifndef MADANG_VALIDATE_H
#define MADANG_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

#include "limits.h"

/* Error codes shared by the broker, the front-ends and the REST API. */
#define ERR_INVALID_REQUEST "invalid_request" /* not JSON, not an object, too big, too deep */
#define ERR_INVALID_ARGUMENT \
	"invalid_argument" /* a field is missing, of the wrong type or invalid */
#define ERR_UNKNOWN_OP       "unknown_op"
#define ERR_NO_SUCH_ROOM     "no_such_room"
#define ERR_ROOM_EXISTS      "room_exists"
#define ERR_ROOM_FULL        "room_full"
#define ERR_TOO_MANY_ROOMS   "too_many_rooms"
#define ERR_NICKNAME_TAKEN   "nickname_taken"
#define ERR_NOT_MEMBER       "not_member"
#define ERR_NO_SUCH_USER     "no_such_user"
#define ERR_FORBIDDEN        "forbidden"
#define ERR_UNKNOWN_FRONTEND "unknown_frontend"
#define ERR_INTERNAL         "internal"

/* [A-Za-z0-9_-]{1,64}; also used for front-end ids. */
bool valid_room_id(const char *s, size_t len);

/* Checks a nickname and writes its canonical form to out (size >= MADANG_NICK_MAX_BYTES + 1):
 * surrounding white space trimmed, then NFC (GNU libunistring). Rules (docs/protocol.md,
 * "Names"; web/js/validate.js applies the same): valid UTF-8; at most MADANG_NAME_INPUT_MAX
 * bytes before and 1..32 characters after normalising; no control character, no format (Cf),
 * default-ignorable (variation selectors, fillers…), noncharacter or Braille blank U+2800, no
 * white space but U+0020 inside; its fold key fits in MADANG_NICK_MAX_BYTES and is not the key
 * of a reserved name ("system", "시스템"). Returns true, or false with a human reason in *why
 * (valid until the calling thread's next call). */
bool nick_canonical(const char *in, size_t len, char *out, size_t outsz, const char **why);

/* Writes the key names are compared by, for uniqueness and the reserved names: NFKC case
 * folding (u8_casefold with UNINORM_NFKC), so "ALICE", "ａｌｉｃｅ" and "alice" share one key.
 * out: size >= MADANG_NICK_MAX_BYTES + 1 for a canonical nickname (always enough then). */
void nick_fold(const char *canon, char *out, size_t outsz);

/* Room display name: the nickname rules with 1..100 characters and no reserved names. Writes
 * the trimmed NFC form to out (size >= MADANG_ROOM_NAME_MAX_BYTES + 1). */
bool room_name_canonical(const char *in, size_t len, char *out, size_t outsz, const char **why);

/* room_name_canonical() without the result. */
bool valid_room_name(const char *s, size_t len, const char **why);

/* Chat text: 1..4096 bytes of valid UTF-8, not only white space, no control characters but
 * tab, CR and LF. */
bool valid_text(const char *s, size_t len, const char **why);

/* A moderator's reason (the broker's "note"): 0..MADANG_NOTE_MAX bytes of valid UTF-8 on one
 * line, no control character at all (tab, CR and LF included: it goes into one log line and
 * one audit entry), not only white space. Empty is no reason. The one rule of madang-ws,
 * madang-api and the broker (docs/moderation.md). */
bool valid_note(const char *s, size_t len, const char **why);

/* Client message id / session token: 1..64 bytes of printable ASCII without quotes or '\\'. */
bool valid_token(const char *s, size_t len, size_t max);

#endif
