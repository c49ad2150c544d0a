// app.js — the entry point: picks the language, wires the three views (room list, nickname
// form, chat room) together and moves between them.

import { getRoom } from './api.js';
import { takeFragmentToken } from './config.js';
import { byId } from './dom.js';
import { applyStatic, language, loadLanguage, saveLanguage, setLanguage, t } from './i18n.js';
import { ChatView } from './chat-view.js';
import { JoinView, rememberNickname } from './join-view.js';
import { formatUntil, parseUntil } from './moderation.js';
import { RoomsView } from './rooms-view.js';

function storage() {
	try {
		return globalThis.localStorage;
	} catch {
		return null; /* storage blocked by the browser's settings */
	}
}

/* Words for a refusal that ends a chat (DESIGN §3 close codes), and where to send the person. */
function explainFatal(room, nickname, { code, reason, error, deleted, kicked }) {
	if (deleted) return { view: 'rooms', text: t('chat.room.deleted') };
	/* removed or banned by a moderator (docs/moderation.md): the list, with who, why and until
	 * when; nothing joins again by itself */
	if (kicked || error?.code === 'banned') return { view: 'rooms', text: explainRemoval(room, kicked ?? error) };
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

/* "bob removed you from “Jazz”. You may join again. Reason: spam" or "You are banned from “Jazz”
 * until 15:00. Reason: spam", from a `kicked` frame or an `error` banned. */
function explainRemoval(room, msg) {
	let text;
	if (msg.type === 'kicked' && msg.reason !== 'banned') {
		text = t('room.err.kicked', { room: room.name, by: msg.by ?? '?' });
	} else {
		const until = parseUntil(msg.until);
		text = until === null ? t('room.err.banned.forever', { room: room.name })
			: t('room.err.banned', { room: room.name, until: formatUntil(until, language()) });
	}
	if (typeof msg.note === 'string' && msg.note !== '') text += ` ${t('room.err.reason', { note: msg.note })}`;
	return text;
}

/* The address says where the person is: "#/room/<id>" for a room's nickname form and its chat,
 * no hash for the room list. So a link can point at a room, a reload comes back to it, and the
 * browser's Back button leaves a room (the usual gesture on phones). */
const ROOM_HASH = /^#\/room\/([A-Za-z0-9_-]{1,64})$/;

function roomInAddress() {
	return ROOM_HASH.exec(location.hash)?.[1] ?? null;
}

function main() {
	takeFragmentToken();
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
	let rooms = null;
	const showRooms = (notice = '') => {
		chat.close();
		join.hide();
		chat.hide();
		document.title = t('app.title');
		rooms.show(notice);
	};
	const showJoin = (room, options) => {
		chat.close();
		rooms.hide();
		chat.hide();
		document.title = `${room.name} · ${t('app.title')}`;
		join.show(room, options);
	};
	/* Back to the list from inside the app: the address loses its hash without a new entry
	 * for every round trip. */
	const leaveToRooms = (notice = '') => {
		if (roomInAddress() !== null) history.pushState(null, '', location.pathname + location.search);
		showRooms(notice);
	};
	const route = () => {
		const id = roomInAddress();
		if (id === null) {
			showRooms();
		} else if (chat.roomId() !== id) {
			const known = rooms.lookup(id);
			showJoin(known ?? { id, name: id });
			if (!known) nameRoom(id);
		}
	};
	/* A direct link or a reload: the list has not been loaded, so the form would show the room's
	 * id; ask the API for its name and put it in, if the form is still showing that room. */
	const nameRoom = (id) => {
		getRoom(id).then((room) => {
			rooms.remember({ id, name: room.name });
			join.rename(id, room.name);
			chat.rename(id, room.name);
		}).catch(() => {}); /* unknown or unreachable: the id stays; the join says the rest */
	};

	rooms = new RoomsView({
		onPick: (room) => {
			if (roomInAddress() === room.id) showJoin(room);
			else {
				rooms.remember(room);
				location.hash = `#/room/${room.id}`; /* the hashchange shows the form */
			}
		},
	});
	join = new JoinView({
		onBack: () => leaveToRooms(),
		onJoin: (room, nickname) => {
			join.hide();
			chat.open(room, nickname);
		},
	});
	chat = new ChatView({
		onJoined: (room, nickname) => rememberNickname(nickname),
		onLeave: () => leaveToRooms(),
		onFatal: (room, nickname, info) => {
			const next = explainFatal(room, nickname, info);
			if (next.view === 'join') showJoin(room, { error: next.error, nickname });
			else leaveToRooms(next.text);
		},
	});

	langButton.addEventListener('click', () => {
		const next = setLanguage(language() === 'ko' ? 'en' : 'ko');
		saveLanguage(storage(), next);
		relabelPage();
		if (!chat.roomId()) document.title = t('app.title');
		rooms.relabel();
		join.relabel();
		chat.relabel();
	});
	window.addEventListener('hashchange', route);

	chat.hide();
	join.hide();
	rooms.hide();
	route();
}

main();
