// app.js — the entry point: picks the language, wires the three views (room list, nickname
// form, chat room) together and moves between them.

import { byId } from './dom.js';
import { applyStatic, language, loadLanguage, saveLanguage, setLanguage, t } from './i18n.js';
import { ChatView } from './chat-view.js';
import { JoinView, rememberNickname } from './join-view.js';
import { RoomsView } from './rooms-view.js';

function storage() {
	try {
		return globalThis.localStorage;
	} catch {
		return null; /* storage blocked by the browser's settings */
	}
}

/* Words for a refusal that ends a chat (DESIGN §3 close codes), and where to send the person. */
function explainFatal(room, nickname, { code, reason, error, deleted }) {
	if (deleted) return { view: 'rooms', text: t('chat.room.deleted') };
	if (code === 4009) return { view: 'join', error: { key: 'nick.err.taken', params: { user: nickname } } };
	if (code === 4004) return { view: 'rooms', text: t('room.err.unknown', { room: room.name }) };
	if (code === 4001) return { view: 'rooms', text: t('room.err.unauthorized') };
	const detail = error?.message || reason || String(code);
	if (error?.code === 'room_full') return { view: 'rooms', text: t('room.err.full') };
	/* 4000: the server found the request invalid; its reason names the field (the nickname,
	 * since room ids come from the list). */
	if (code === 4000 || error?.code === 'invalid_argument') {
		return { view: 'join', error: { key: 'nick.err.invalid', params: { reason: detail } } };
	}
	return { view: 'rooms', text: t('room.err.refused', { reason: detail }) };
}

function main() {
	loadLanguage(storage(), navigator);
	const langButton = byId('lang-switch');
	const relabelPage = () => {
		document.documentElement.lang = language();
		applyStatic(document);
		langButton.setAttribute('lang', language() === 'ko' ? 'en' : 'ko');
	};
	relabelPage();

	let chat = null;
	let join = null;
	const rooms = new RoomsView({
		onPick: (room) => {
			rooms.hide();
			join.show(room);
		},
	});
	const showRooms = (notice = '') => {
		join.hide();
		chat.hide();
		document.title = t('app.title');
		rooms.show(notice);
	};
	join = new JoinView({
		onBack: () => showRooms(),
		onJoin: (room, nickname) => {
			join.hide();
			chat.open(room, nickname);
		},
	});
	chat = new ChatView({
		onJoined: (room, nickname) => rememberNickname(nickname),
		onLeave: () => showRooms(),
		onFatal: (room, nickname, info) => {
			const next = explainFatal(room, nickname, info);
			chat.hide();
			if (next.view === 'join') join.show(room, { error: next.error, nickname });
			else showRooms(next.text);
		},
	});

	langButton.addEventListener('click', () => {
		const next = setLanguage(language() === 'ko' ? 'en' : 'ko');
		saveLanguage(storage(), next);
		relabelPage();
		rooms.relabel();
		join.relabel();
		chat.relabel();
	});

	chat.hide();
	join.hide();
	rooms.show();
}

main();
