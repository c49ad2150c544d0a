/* validate.h — the syntax of room ids, nicknames, room names and message text (no I/O). */
#ifndef MADANG_VALIDATE_H
#define MADANG_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

#include "limits.h"

/* Error codes shared by the broker, the front-ends and the REST API. */
#define ERR_INVALID_REQUEST  "invalid_request"  /* not JSON, not an object, too big, too deep */
#define ERR_INVALID_ARGUMENT "invalid_argument" /* a field is missing, of the wrong type or invalid */
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

/* Checks a nickname and writes its canonical form (surrounding white space trimmed) to out
 * (size >= MADANG_NICK_MAX_BYTES + 1). Rules: valid UTF-8; 1..32 characters; no control,
 * invisible formatting, bidi-control or non-ASCII space characters; not a reserved name
 * ("system", "시스템"). Returns true, or false with a human reason in *why. */
bool nick_canonical(const char *in, size_t len, char *out, size_t outsz, const char **why);

/* Writes the key nicknames are compared by (case-folded for Latin, Greek, Cyrillic and full-width
 * letters) to out (size >= MADANG_NICK_MAX_BYTES + 1). The input must be canonical already. */
void nick_fold(const char *canon, char *out, size_t outsz);

/* Room display name: 1..100 characters of UTF-8, no control characters. */
bool valid_room_name(const char *s, size_t len, const char **why);

/* Chat text: 1..4096 bytes of valid UTF-8, not only white space, no control characters but
 * tab, CR and LF. */
bool valid_text(const char *s, size_t len, const char **why);

/* Client message id / session token: 1..64 bytes of printable ASCII without quotes or '\\'. */
bool valid_token(const char *s, size_t len, size_t max);

#endif
