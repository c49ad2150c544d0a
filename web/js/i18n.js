// i18n.js — the client's words in Korean and English, the choice of language (a saved choice, else
// the browser's language) and filling the static text of index.html from data-i18n attributes.
//
// To add a language: add a table below with every key of `en` (tests/e2e/client-logic.test.mjs
// checks that every table has exactly the same keys and placeholders) and add it to LANGS.

const en = {
	'app.title': 'madang',
	'app.tagline': 'real-time chat rooms',
	'app.skip': 'Skip to content',
	'lang.switch': '한국어',
	'lang.switch.label': 'Switch the language to Korean',

	'rooms.heading': 'Chat rooms',
	'rooms.loading': 'Loading rooms…',
	'rooms.empty': 'There are no rooms yet.',
	'rooms.error': 'Could not load the room list. Retrying…',
	'rooms.users': '{n} online',
	'rooms.join': 'Join',
	'rooms.join.label': 'Join {room}',
	'rooms.create.summary': 'Create a room',
	'rooms.create.id': 'Room id',
	'rooms.create.id.hint': 'Letters, digits, - and _ (up to 64), used in links.',
	'rooms.create.name': 'Room name',
	'rooms.create.submit': 'Create',
	'rooms.create.created': 'Room “{room}” created.',
	'rooms.create.err.id': 'A room id is 1 to 64 letters, digits, - or _.',
	'rooms.create.err.name': 'Give the room a name (up to 100 characters, nothing invisible).',
	'rooms.create.err.exists': 'A room with this id already exists.',
	'rooms.create.err.forbidden': 'This server does not allow creating rooms.',
	'rooms.create.err.other': 'The room could not be created: {reason}',

	'join.heading': 'Join “{room}”',
	'join.nickname': 'Nickname',
	'join.placeholder': 'Enter your nickname',
	'join.hint': '1 to 32 characters. It is remembered on this device.',
	'join.submit': 'Join',
	'join.back': 'Back to rooms',
	'nick.err.empty': 'Please enter a nickname.',
	'nick.err.too_long': 'A nickname can be at most 32 characters long.',
	'nick.err.control': 'A nickname cannot contain invisible or control characters.',
	'nick.err.reserved': '“system” and “시스템” are reserved. Please choose another nickname.',
	'nick.err.taken': '“{user}” is already in use in this room. Please choose another nickname. If it is you on another device or in a closed tab, wait a few seconds and try again.',
	'nick.err.invalid': 'The server did not accept this nickname: {reason}',
	'room.err.unknown': 'The room “{room}” no longer exists.',
	'room.err.unauthorized': 'You are not allowed to join this room.',
	'room.err.full': 'This room is full. Try again later.',
	'room.err.refused': 'The server closed the connection: {reason}',

	'chat.leave': 'Leave',
	'chat.members': 'Members ({n})',
	'chat.members.toggle': 'Show members',
	'chat.you': '(you)',
	'chat.messages': 'Messages',
	'chat.input': 'Message',
	'chat.placeholder': 'Type a message…',
	'chat.send': 'Send',
	'chat.to': 'To',
	'chat.to.everyone': 'Everyone',
	'chat.private.with': 'Private message to {user}',
	'chat.private.tag': 'private',
	'chat.to.gone': '{user} (left)',
	'chat.to.gone.error': '{user} has left the room, so this private message was not sent. Choose another recipient, or press ✕ to write to everyone.',
	'chat.whisper.chip': 'Whisper to {user}',
	'chat.whisper.chip.gone': 'Whisper to {user} · not in the room',
	'chat.whisper.clear': 'Stop whispering to {user}',
	'chat.count': '{n} / {max} characters',
	'chat.count.bytes': '{n} characters · {bytes} / {max} bytes',
	'chat.private.to': '→ {user}',
	'chat.new': 'New messages ↓',
	'chat.new.count': '{n} new messages ↓',
	'chat.pending': 'sending…',
	'chat.queued': 'waiting for the connection',
	'chat.failed': 'not sent',
	'chat.retry': 'Retry',
	'chat.fold': '{n} joins and leaves',
	'chat.earlier': 'Load earlier messages',
	'chat.divider': 'Earlier messages above',
	'chat.joined': '{user} joined.',
	'chat.left': '{user} left.',
	'chat.room.deleted': 'This room was deleted.',
	'chat.not.recovered': 'Some messages sent while you were disconnected could not be recovered.',
	'chat.typing.one': '{a} is typing…',
	'chat.typing.two': '{a} and {b} are typing…',
	'chat.typing.many': 'Several people are typing…',
	'chat.too.long': 'This message is too long ({n} bytes; at most 4096).',
	'chat.control': 'This message contains invisible control characters. Remove them and send again.',
	'chat.err.rate_limited': 'You are sending messages too fast. Wait a moment.',
	'chat.err.unavailable': 'The chat service is briefly unavailable. Your messages will be sent when it is back.',
	'chat.err.no_such_user': '{user} is not in this room.',
	'chat.err.private.unknown': 'It is not known whether your private message to {user} arrived (the server did not answer in time). Retry sends it again.',
	'chat.err.generic': 'The server refused: {reason}',
	'chat.announce.message': '{user}: {text}',
	'chat.announce.private': 'Private from {user}: {text}',

	'chat.deleted': 'message deleted',
	'chat.deleted.note': 'message deleted: {note}',
	'chat.kicked': '{user} was removed by {by}.',
	'chat.kicked.note': '{user} was removed by {by}: {note}',
	'chat.banned': '{user} was banned by {by}.',
	'chat.banned.note': '{user} was banned by {by}: {note}',
	'chat.slow.on': '{by} turned on slow mode: one message every {n} s.',
	'chat.slow.off': '{by} turned slow mode off.',
	'chat.muted': 'You were muted by {by} until {until}.',
	'chat.muted.note': 'You were muted by {by} until {until}: {note}',
	'chat.muted.now': 'You are muted until {until}.',
	'chat.unmuted': 'You are no longer muted: you may write again.',
	'chat.role.admin': 'You are now an administrator of this room.',
	'chat.role.owner': 'You are now the owner of this room.',
	'chat.role.moderator': 'You are now a moderator of this room.',
	'chat.role.lost.admin': 'You are no longer an administrator of this room.',
	'chat.role.lost.owner': 'You are no longer the owner of this room.',
	'chat.role.lost.moderator': 'You are no longer a moderator of this room.',
	'compose.muted': 'Muted until {until}: you cannot send messages.',
	'compose.muted.error': 'You are muted until {until}. Your message stays here until then.',
	'compose.slow': 'Slow mode: one message every {n} s.',
	'compose.slow.exempt': 'Slow mode: one message every {n} s (not for moderators).',
	'compose.slow.wait': 'slow mode: sending in {n} s',

	'mod.member': 'Moderate {user}',
	'mod.message': 'Delete the message from {user}',
	'mod.message.btn': 'Delete',
	'mod.message.own': 'Delete your message',
	'mod.dialog.member': 'Moderate {user}',
	'mod.dialog.message': 'Delete this message from {user}?',
	'mod.dialog.own': 'Delete your message?',
	'mod.reason': 'Reason (optional)',
	'mod.reason.hint': 'Shown with the action, and kept in the room’s audit trail.',
	'mod.reason.count': '{n} / {max} bytes',
	'mod.reason.too.long': 'The reason is too long ({n} bytes; at most {max}).',
	'mod.reason.control': 'The reason must be one line, without tabs or invisible control characters.',
	'mod.kick': 'Remove from the room',
	'mod.mute.600': 'Mute for 10 minutes',
	'mod.mute.3600': 'Mute for 1 hour',
	'mod.ban': 'Ban from the room',
	'mod.delete': 'Delete the message',
	'mod.cancel': 'Cancel',
	'mod.done.mute': 'You muted {user} for {n} min.',
	'mod.err.forbidden': 'Refused: your role in this room does not allow you to do that to {user}.',
	'mod.err.forbidden.message': 'Refused: your role in this room does not allow you to delete messages.',
	'mod.err.forbidden.own': 'This message was not deleted: the server cannot confirm that you sent it. A message sent before the server checked this, or sent by someone else under this nickname, can only be deleted by a moderator.',
	'mod.err.no_such_user': '{user} is not in this room.',
	'mod.err.no_such_message': 'That message was already deleted or is no longer kept.',
	'mod.err.too_many_bans': 'This room has reached its limit of bans.',
	'mod.err.other': 'The action was refused: {reason}',
	'mod.err.offline': 'Not connected: the action was not sent. Try again once connected.',
	'room.err.kicked': '{by} removed you from “{room}”. You may join again.',
	'room.err.banned': 'You are banned from “{room}” until {until}.',
	'room.err.banned.forever': 'You are banned from “{room}” until a moderator lifts the ban.',
	'room.err.reason': 'Reason: {note}',

	'conn.connecting': 'Connecting…',
	'conn.connected': 'Connected',
	'conn.reconnecting': 'Reconnecting in {n} s',
	'conn.reconnecting.now': 'Reconnecting…',
	'conn.offline': 'Offline',
	'conn.closed': 'Disconnected',
	'conn.retry': 'Reconnect now',
	'conn.server.wait': 'Waiting for the server…',
	'conn.announce.lost': 'Connection lost. Reconnecting.',
	'conn.announce.back': 'Connected again.',
};

const ko = {
	'app.title': '마당',
	'app.tagline': '실시간 채팅방',
	'app.skip': '본문으로 건너뛰기',
	'lang.switch': 'English',
	'lang.switch.label': '언어를 영어로 바꾸기',

	'rooms.heading': '채팅방 목록',
	'rooms.loading': '채팅방 목록을 불러오는 중…',
	'rooms.empty': '아직 채팅방이 없습니다.',
	'rooms.error': '채팅방 목록을 불러오지 못했습니다. 다시 시도하는 중…',
	'rooms.users': '참여자: {n}명',
	'rooms.join': '참여',
	'rooms.join.label': '{room}에 참여',
	'rooms.create.summary': '새 채팅방 만들기',
	'rooms.create.id': '채팅방 ID',
	'rooms.create.id.hint': '영문자, 숫자, -, _ (최대 64자). 주소에 쓰입니다.',
	'rooms.create.name': '채팅방 이름',
	'rooms.create.submit': '만들기',
	'rooms.create.created': '“{room}” 채팅방을 만들었습니다.',
	'rooms.create.err.id': '채팅방 ID는 영문자, 숫자, -, _ 1~64자입니다.',
	'rooms.create.err.name': '채팅방 이름을 입력하세요 (최대 100자, 보이지 않는 문자 없이).',
	'rooms.create.err.exists': '같은 ID의 채팅방이 이미 있습니다.',
	'rooms.create.err.forbidden': '이 서버에서는 채팅방을 만들 수 없습니다.',
	'rooms.create.err.other': '채팅방을 만들지 못했습니다: {reason}',

	'join.heading': '“{room}” 참여하기',
	'join.nickname': '대화명',
	'join.placeholder': '대화명을 입력하세요',
	'join.hint': '1~32자. 이 기기에 기억됩니다.',
	'join.submit': '참여하기',
	'join.back': '목록으로',
	'nick.err.empty': '대화명을 입력하세요.',
	'nick.err.too_long': '대화명은 최대 32자까지 쓸 수 있습니다.',
	'nick.err.control': '대화명에 보이지 않는 문자나 제어 문자는 쓸 수 없습니다.',
	'nick.err.reserved': '“system”과 “시스템”은 예약된 이름입니다. 다른 대화명을 고르세요.',
	'nick.err.taken': '“{user}”은(는) 이 채팅방에서 이미 쓰이고 있습니다. 다른 대화명을 고르세요. 다른 기기나 닫은 탭의 본인이라면 몇 초 기다린 뒤 다시 시도하세요.',
	'nick.err.invalid': '서버가 이 대화명을 받아들이지 않았습니다: {reason}',
	'room.err.unknown': '“{room}” 채팅방이 더 이상 없습니다.',
	'room.err.unauthorized': '이 채팅방에 참여할 권한이 없습니다.',
	'room.err.full': '채팅방이 가득 찼습니다. 잠시 후 다시 시도하세요.',
	'room.err.refused': '서버가 연결을 끊었습니다: {reason}',

	'chat.leave': '나가기',
	'chat.members': '참여자 ({n})',
	'chat.members.toggle': '참여자 보기',
	'chat.you': '(나)',
	'chat.messages': '메시지',
	'chat.input': '메시지',
	'chat.placeholder': '메시지를 입력하세요...',
	'chat.send': '전송',
	'chat.to': '받는 사람',
	'chat.to.everyone': '모두',
	'chat.private.with': '{user}님에게 귓속말',
	'chat.private.tag': '귓속말',
	'chat.to.gone': '{user} (나감)',
	'chat.to.gone.error': '{user}님이 채팅방을 나가서 귓속말을 보내지 않았습니다. 다른 사람을 고르거나, ✕를 눌러 모두에게 쓰세요.',
	'chat.whisper.chip': '{user}님에게 귓속말',
	'chat.whisper.chip.gone': '{user}님에게 귓속말 · 지금 채팅방에 없음',
	'chat.whisper.clear': '{user}님에게 귓속말 그만하기',
	'chat.count': '{n} / {max}자',
	'chat.count.bytes': '{n}자 · {bytes} / {max}바이트',
	'chat.private.to': '→ {user}',
	'chat.new': '새 메시지 ↓',
	'chat.new.count': '새 메시지 {n}개 ↓',
	'chat.pending': '보내는 중…',
	'chat.queued': '연결을 기다리는 중',
	'chat.failed': '보내지 못함',
	'chat.retry': '다시 보내기',
	'chat.fold': '입장·퇴장 {n}건',
	'chat.earlier': '이전 메시지 더 보기',
	'chat.divider': '여기까지 이전 대화',
	'chat.joined': '{user}님이 입장했습니다.',
	'chat.left': '{user}님이 퇴장했습니다.',
	'chat.room.deleted': '이 채팅방이 삭제되었습니다.',
	'chat.not.recovered': '연결이 끊긴 동안의 메시지를 모두 복구하지는 못했습니다.',
	'chat.typing.one': '{a}님이 입력 중…',
	'chat.typing.two': '{a}님과 {b}님이 입력 중…',
	'chat.typing.many': '여러 명이 입력 중…',
	'chat.too.long': '메시지가 너무 깁니다 ({n}바이트, 최대 4096).',
	'chat.control': '메시지에 보이지 않는 제어 문자가 들어 있습니다. 지우고 다시 보내세요.',
	'chat.err.rate_limited': '메시지를 너무 빨리 보내고 있습니다. 잠시 기다려 주세요.',
	'chat.err.unavailable': '채팅 서비스가 잠시 중단되었습니다. 다시 연결되면 메시지를 보냅니다.',
	'chat.err.no_such_user': '{user}님은 이 채팅방에 없습니다.',
	'chat.err.private.unknown': '{user}님에게 보낸 귓속말이 전달되었는지 알 수 없습니다 (서버가 제때 답하지 않았습니다). 다시 보내기를 누르면 다시 보냅니다.',
	'chat.err.generic': '서버가 거절했습니다: {reason}',
	'chat.announce.message': '{user}: {text}',
	'chat.announce.private': '{user}님의 귓속말: {text}',

	'chat.deleted': '삭제된 메시지입니다',
	'chat.deleted.note': '삭제된 메시지입니다: {note}',
	'chat.kicked': '{by}님이 {user}님을 강퇴했습니다.',
	'chat.kicked.note': '{by}님이 {user}님을 강퇴했습니다: {note}',
	'chat.banned': '{by}님이 {user}님을 차단했습니다.',
	'chat.banned.note': '{by}님이 {user}님을 차단했습니다: {note}',
	'chat.slow.on': '{by}님이 슬로우 모드를 켰습니다: {n}초에 메시지 하나.',
	'chat.slow.off': '{by}님이 슬로우 모드를 껐습니다.',
	'chat.muted': '{by}님이 {until}까지 채팅을 금지했습니다.',
	'chat.muted.note': '{by}님이 {until}까지 채팅을 금지했습니다: {note}',
	'chat.muted.now': '{until}까지 채팅이 금지되어 있습니다.',
	'chat.unmuted': '채팅 금지가 풀렸습니다. 다시 메시지를 보낼 수 있습니다.',
	'chat.role.admin': '이제 이 방의 운영자입니다.',
	'chat.role.owner': '이제 이 방의 방장입니다.',
	'chat.role.moderator': '이제 이 방의 관리자입니다.',
	'chat.role.lost.admin': '더 이상 이 방의 운영자가 아닙니다.',
	'chat.role.lost.owner': '더 이상 이 방의 방장이 아닙니다.',
	'chat.role.lost.moderator': '더 이상 이 방의 관리자가 아닙니다.',
	'compose.muted': '{until}까지 채팅 금지: 메시지를 보낼 수 없습니다.',
	'compose.muted.error': '{until}까지 채팅이 금지되어 있습니다. 메시지는 그때까지 여기 남아 있습니다.',
	'compose.slow': '슬로우 모드: {n}초에 메시지 하나.',
	'compose.slow.exempt': '슬로우 모드: {n}초에 메시지 하나 (관리자는 제외).',
	'compose.slow.wait': '슬로우 모드: {n}초 후 전송',

	'mod.member': '{user}님 관리',
	'mod.message': '{user}님의 메시지 삭제',
	'mod.message.btn': '삭제',
	'mod.message.own': '내 메시지 삭제',
	'mod.dialog.member': '{user}님 관리',
	'mod.dialog.message': '{user}님의 이 메시지를 삭제할까요?',
	'mod.dialog.own': '내 메시지를 삭제할까요?',
	'mod.reason': '사유 (선택)',
	'mod.reason.hint': '조치와 함께 표시되고, 채팅방 관리 기록에 남습니다.',
	'mod.reason.count': '{n} / {max}바이트',
	'mod.reason.too.long': '사유가 너무 깁니다 ({n}바이트, 최대 {max}).',
	'mod.reason.control': '사유는 탭이나 보이지 않는 제어 문자 없이 한 줄로 적어 주세요.',
	'mod.kick': '강퇴',
	'mod.mute.600': '10분 채팅 금지',
	'mod.mute.3600': '1시간 채팅 금지',
	'mod.ban': '차단',
	'mod.delete': '메시지 삭제',
	'mod.cancel': '취소',
	'mod.done.mute': '{user}님을 {n}분 동안 채팅 금지했습니다.',
	'mod.err.forbidden': '거절됨: 이 채팅방에서의 역할로는 {user}님에게 그렇게 할 수 없습니다.',
	'mod.err.forbidden.message': '거절됨: 이 채팅방에서의 역할로는 메시지를 삭제할 수 없습니다.',
	'mod.err.forbidden.own': '이 메시지는 삭제되지 않았습니다: 내가 보낸 메시지인지 서버가 확인할 수 없습니다. 서버가 이를 확인하기 전에 보낸 메시지나 다른 사람이 이 닉네임으로 보낸 메시지는 관리자만 삭제할 수 있습니다.',
	'mod.err.no_such_user': '{user}님은 이 채팅방에 없습니다.',
	'mod.err.no_such_message': '이미 삭제되었거나 더 이상 보관되지 않는 메시지입니다.',
	'mod.err.too_many_bans': '이 채팅방의 차단 수가 한도에 이르렀습니다.',
	'mod.err.other': '거절되었습니다: {reason}',
	'mod.err.offline': '연결되어 있지 않아 보내지 못했습니다. 연결된 뒤 다시 시도하세요.',
	'room.err.kicked': '{by}님이 “{room}” 채팅방에서 강퇴했습니다. 다시 참여할 수 있습니다.',
	'room.err.banned': '“{room}” 채팅방에서 {until}까지 차단되었습니다.',
	'room.err.banned.forever': '“{room}” 채팅방에서 차단되었습니다 (관리자가 풀 때까지).',
	'room.err.reason': '사유: {note}',

	'conn.connecting': '연결 중…',
	'conn.connected': '연결됨',
	'conn.reconnecting': '{n}초 후 다시 연결',
	'conn.reconnecting.now': '다시 연결하는 중…',
	'conn.offline': '오프라인',
	'conn.closed': '연결 끊김',
	'conn.retry': '지금 다시 연결',
	'conn.server.wait': '서버의 응답을 기다리는 중…',
	'conn.announce.lost': '연결이 끊겼습니다. 다시 연결합니다.',
	'conn.announce.back': '다시 연결되었습니다.',
};

export const LANGS = Object.freeze({ en, ko });
const STORAGE_KEY = 'madang.lang';

let current = 'en';

/* Picks the language: a saved choice first, then the first of the browser's languages we have. */
export function detectLanguage(saved, browserLanguages) {
	if (saved && Object.hasOwn(LANGS, saved)) return saved;
	for (const tag of browserLanguages ?? []) {
		const base = String(tag).toLowerCase().split('-')[0];
		if (Object.hasOwn(LANGS, base)) return base;
	}
	return 'en';
}

export function language() {
	return current;
}

export function setLanguage(lang) {
	current = Object.hasOwn(LANGS, lang) ? lang : 'en';
	return current;
}

export function loadLanguage(storage, nav) {
	let saved = null;
	try {
		saved = storage?.getItem(STORAGE_KEY) ?? null;
	} catch {
		saved = null; /* storage disabled: use the browser's language */
	}
	return setLanguage(detectLanguage(saved, nav?.languages?.length ? nav.languages : [nav?.language]));
}

export function saveLanguage(storage, lang) {
	try {
		storage?.setItem(STORAGE_KEY, lang);
	} catch {
		/* storage disabled: the choice lasts for this page only */
	}
}

/* t('rooms.users', {n: 3}) — the text for key in the current language, placeholders filled in. */
export function t(key, params = {}) {
	const table = LANGS[current];
	const text = table[key] ?? en[key] ?? key;
	return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/* Fills every [data-i18n] (textContent), [data-i18n-placeholder], [data-i18n-label] (aria-label)
 * and [data-i18n-title] below root. */
export function applyStatic(root) {
	for (const node of root.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
	for (const node of root.querySelectorAll('[data-i18n-placeholder]')) {
		node.setAttribute('placeholder', t(node.dataset.i18nPlaceholder));
	}
	for (const node of root.querySelectorAll('[data-i18n-label]')) {
		node.setAttribute('aria-label', t(node.dataset.i18nLabel));
	}
	for (const node of root.querySelectorAll('[data-i18n-title]')) node.setAttribute('title', t(node.dataset.i18nTitle));
}
