/* limits.h — every size and count limit madang enforces, in one place (docs/configuration.md). */
#ifndef MADANG_LIMITS_H
#define MADANG_LIMITS_H

#define MADANG_ROOM_ID_MAX       64    /* room id: [A-Za-z0-9_-]{1,64} */
#define MADANG_ROOM_NAME_MAX     100   /* room display name: 1..100 characters of UTF-8 */
#define MADANG_ROOM_NAME_MAX_BYTES (MADANG_ROOM_NAME_MAX * 4)
#define MADANG_NAME_INPUT_MAX    1024  /* bytes of a nickname or room name before normalising */
#define MADANG_NICK_MAX_CHARS    32    /* nickname: 1..32 characters after trimming */
#define MADANG_NICK_MAX_BYTES    (MADANG_NICK_MAX_CHARS * 4)
#define MADANG_TEXT_MAX          4096  /* chat message text, bytes of UTF-8 */
#define MADANG_CLIENT_ID_MAX     64    /* client message id, printable ASCII */
#define MADANG_SESSION_MAX       64    /* session id / resume token, printable ASCII */
#define MADANG_SUBJECT_MAX       128   /* JWT "sub": who a user is (owners, moderators, bans) */
#define MADANG_NOTE_MAX          256   /* a moderator's reason, bytes of UTF-8 (docs/moderation.md) */
#define MADANG_MODERATORS_MAX    32    /* moderators per room */
#define MADANG_BANS_DEFAULT      1000  /* bans per room, and mutes per room (--max-bans) */
#define MADANG_RESTRICT_MAX_S    (365 * 86400) /* the longest ban or mute with an end */
#define MADANG_SLOW_MODE_MAX_S   86400 /* slow mode interval */
#define MADANG_FRONTEND_ID_MAX   64    /* front-end id: like a room id */
#define MADANG_RPC_MAX           (256 * 1024) /* broker request body; larger is refused */
#define MADANG_JSON_DEPTH_MAX    16    /* nesting deeper than this is refused before parsing */
#define MADANG_HISTORY_DEFAULT   100   /* events kept per room in memory */
#define MADANG_HISTORY_MAX       100000
#define MADANG_HISTORY_PAGE_MAX  500   /* events returned by one history request */
#define MADANG_MEMBERS_DEFAULT   1000  /* members per room */
#define MADANG_ROOMS_DEFAULT     10000 /* rooms per broker */
#define MADANG_BATCH_MAX         1024  /* requests in one broker batch */
#define MADANG_SYNC_MAX          100000 /* members in one sync request */

#endif
