/* notices.h — the texts of join and leave notices, in the language of --notices (document 000
 * wrote Korean). room.c writes them into events; hist.c keeps them in history as one byte
 * each (docs/performance.md, finding 31). */
#ifndef MADANG_BROKER_NOTICES_H
#define MADANG_BROKER_NOTICES_H

#define NOTICE_KO_SENDER "시스템"
#define NOTICE_KO_JOINED "님이 입장했습니다."
#define NOTICE_KO_LEFT   "님이 퇴장했습니다."
#define NOTICE_KO_KICKED "님이 강퇴되었습니다."
#define NOTICE_KO_BANNED "님이 차단되었습니다."

#define NOTICE_EN_SENDER "system"
#define NOTICE_EN_JOINED " joined"
#define NOTICE_EN_LEFT   " left"
#define NOTICE_EN_KICKED " was removed"
#define NOTICE_EN_BANNED " was banned"

#endif
