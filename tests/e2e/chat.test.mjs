// chat.test.mjs — the client in a real Chromium against the real stack (nginx, madang-api,
// madang-ws, madang-broker started by tests/suites/50-e2e.sh): rooms and live counts, creating a
// room, joining, chatting, notices, typing, private messages, hostile text, scrolling, nickname
// errors, keyboard-only use, language switch, leaving, and screenshots for people to look at.
// The steps share two people (alice on a desktop in Korean, bob on a phone in English) and an
// observer on the room list, so they run in order.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
	BASE_URL, DESKTOP, PHONE, assertNoProblems, joinRoom, launch, listedCount, messagesWithText, noticesWithText,
	openPage, roomItem, screenshot, send, uniqueRoomId, waitConnected, waitForCount,
} from './lib.mjs';

describe('two people chat in a real browser', () => {
	let browser;
	let alice;
	let bob;
	let observer;
	const roomId = uniqueRoomId('e2e');
	const roomName = `마당 테스트 ${roomId.slice(-4)}`;

	before(async () => {
		browser = await launch();
		observer = await openPage(browser, { locale: 'en-US' });
		alice = await openPage(browser, { viewport: DESKTOP, locale: 'ko-KR', colorScheme: 'light' });
		bob = await openPage(browser, { viewport: PHONE, locale: 'en-US', colorScheme: 'dark' });
	});

	after(async () => {
		await browser?.close();
	});

	it('serves the page with a strict CSP, in the browser language, with every control labelled', async () => {
		const response = await fetch(BASE_URL, { signal: AbortSignal.timeout(5000) });
		const csp = response.headers.get('content-security-policy') ?? '';
		assert.match(csp, /script-src[^;]*'self'/);
		assert.doesNotMatch(csp, /unsafe-inline/);
		assert.equal(await alice.locator('html').getAttribute('lang'), 'ko');
		assert.equal(await alice.locator('#rooms-heading').textContent(), '채팅방 목록');
		assert.equal(await bob.locator('#rooms-heading').textContent(), 'Chat rooms');
		const unlabelled = await bob.evaluate(() => [...document.querySelectorAll('input, select, textarea, button')]
			.filter((c) => !(c.labels?.length || c.getAttribute('aria-label') || c.textContent.trim() || c.closest('[hidden]')))
			.map((c) => c.id || c.outerHTML));
		assert.deepEqual(unlabelled, []);
	});

	it('creates a room from the form and joins it with a nickname', async () => {
		await alice.locator('#create-room > summary').click();
		await alice.locator('#create-id').fill(roomId);
		await alice.locator('#create-name').fill(roomName);
		await alice.locator('#create-form button[type=submit]').click();
		await alice.locator('#join-heading').filter({ hasText: roomName }).waitFor();
		await alice.locator('#nickname').fill('alice');
		await alice.locator('#nickname').press('Enter');
		await waitConnected(alice);
		assert.equal(await alice.locator('#chat-title').textContent(), roomName);
		assert.equal(await alice.evaluate(() => localStorage.getItem('madang.nickname')), 'alice');
		assert.equal(await alice.evaluate(() => document.activeElement?.id), 'message-input');
	});

	it('shows the room with its live member count on another page', async () => {
		await observer.reload();
		await waitForCount(observer, roomId, 1);
		assert.equal(await roomItem(observer, roomId).locator('.room-name').textContent(), roomName);
		await waitForCount(bob, roomId, 1);
		await joinRoom(bob, roomId, 'bob');
		await waitForCount(observer, roomId, 2);
	});

	it('polls the room list only while the tab is visible', async () => {
		const watcher = await openPage(browser, { locale: 'en-US' });
		const polls = [];
		watcher.on('request', (request) => {
			if (new URL(request.url()).pathname === '/api/rooms') polls.push(Date.now());
		});
		await watcher.waitForTimeout(4500);
		assert.ok(polls.length >= 1, `polled ${polls.length} times in 4.5 s while visible`);
		/* The tab goes to the background: visibilityState reads "hidden" and the event fires, as
		 * the browser does when the person switches tabs. */
		await watcher.evaluate(() => {
			Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
			document.dispatchEvent(new Event('visibilitychange'));
		});
		const hiddenAt = polls.length;
		await watcher.waitForTimeout(4000);
		assert.equal(polls.length, hiddenAt, 'no polling while hidden');
		await watcher.evaluate(() => {
			Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'visible' });
			document.dispatchEvent(new Event('visibilitychange'));
		});
		await watcher.waitForTimeout(1000);
		assert.equal(polls.length, hiddenAt + 1, 'refreshed at once when visible again');
		assertNoProblems(watcher);
		await watcher.context().close();
	});

	it('shows each person the other one joining, and the member list', async () => {
		await noticesWithText(alice, 'bob님이 입장했습니다.').waitFor();
		await noticesWithText(bob, 'alice joined.').waitFor();
		await alice.locator('#member-list .member-btn', { hasText: 'bob' }).waitFor();
		assert.equal(await alice.locator('#members-heading').textContent(), '참여자 (2)');
		assert.equal(await bob.locator('#members-toggle').getAttribute('data-count'), '2');
	});

	it('delivers messages both ways, own messages styled apart, Enter sends and focus stays', async () => {
		await send(alice, '안녕하세요, bob!');
		await messagesWithText(bob, '안녕하세요, bob!').waitFor();
		assert.equal(await alice.evaluate(() => document.activeElement?.id), 'message-input');
		assert.equal(await alice.locator('#message-input').inputValue(), '');
		await send(bob, 'hi alice\nsecond line');
		await messagesWithText(alice, 'hi alice\nsecond line').waitFor();
		await alice.locator('#announcer > p').filter({ hasText: 'bob: hi alice' }).waitFor({ state: 'attached' });
		const received = alice.locator('#messages > li.received').last();
		assert.equal(await received.locator('.sender').textContent(), 'bob');
		assert.match(await received.locator('time').getAttribute('datetime'), /^\d{4}-\d\d-\d\dT/);
		assert.equal(await alice.locator('#messages > li.sent').filter({ hasText: '안녕하세요, bob!' }).count(), 1);
		assert.equal(await alice.locator('#messages > li.pending').count(), 0);
		assert.equal(await messagesWithText(alice, '안녕하세요, bob!').count(), 1);
	});

	it('keeps a line break with Shift+Enter', async () => {
		await bob.locator('#message-input').fill('one');
		await bob.locator('#message-input').press('Shift+Enter');
		await bob.locator('#message-input').press('t');
		assert.equal(await bob.locator('#message-input').inputValue(), 'one\nt');
		await bob.locator('#message-input').fill('');
	});

	it('does not send on the Enter that ends a Korean IME composition', async () => {
		const input = alice.locator('#message-input');
		await input.focus();
		const items = await alice.locator('#messages > li').count();
		const cdp = await alice.context().newCDPSession(alice);
		await cdp.send('Input.imeSetComposition', { text: '한', selectionStart: 1, selectionEnd: 1 });
		await alice.keyboard.press('Enter'); /* keydown with isComposing: true */
		await cdp.send('Input.insertText', { text: '한' }); /* the IME commits the syllable */
		await cdp.detach();
		assert.match(await input.inputValue(), /^한/);
		await alice.waitForTimeout(300);
		assert.equal(await alice.locator('#messages > li').count(), items, 'nothing was sent');
		await input.fill('');
	});

	it('shows hostile text as text: no markup, no script, no dialog', async () => {
		const hostile = '<img src=x onerror=alert(1)>';
		await send(bob, hostile);
		await messagesWithText(alice, hostile).waitFor();
		assert.equal(await alice.locator('#messages img').count(), 0);
		assert.equal(await bob.locator('#messages img').count(), 0);
		await alice.waitForTimeout(300);
		assertNoProblems(alice, bob);
	});

	it('shows "is typing" while someone types and clears it after 6 s of silence or on send', async () => {
		const typing = bob.locator('#typing');
		await alice.locator('#message-input').pressSequentially('타자', { delay: 30 });
		await typing.filter({ hasText: 'alice is typing…' }).waitFor();
		const started = Date.now();
		await bob.waitForFunction(() => document.getElementById('typing').textContent === '', null, { timeout: 10000 });
		const cleared = Date.now() - started;
		assert.ok(cleared > 4000 && cleared < 9000, `cleared after ${cleared} ms`);
		await alice.locator('#message-input').pressSequentially('...', { delay: 30 });
		await typing.filter({ hasText: 'alice is typing…' }).waitFor();
		await alice.locator('#message-input').press('Enter');
		await bob.waitForFunction(() => document.getElementById('typing').textContent === '', null, { timeout: 2000 });
	});

	it('sends a private message to a member chosen from the member list', async () => {
		await bob.locator('#members-toggle').click();
		await bob.locator('#member-list .member-btn', { hasText: 'alice' }).click();
		assert.equal(await bob.locator('#recipient').inputValue(), 'alice');
		await send(bob, 'just between us');
		const got = alice.locator('#messages > li.private.received').filter({ hasText: 'just between us' });
		await got.waitFor();
		assert.equal(await got.locator('.sender').textContent(), 'bob');
		await bob.locator('#messages > li.private.sent:not(.pending)').filter({ hasText: 'just between us' }).waitFor();
		await bob.locator('#recipient').selectOption('');
	});

	it('counts messages that arrive in a background tab in the page title', async () => {
		const setVisibility = (state) => alice.evaluate((value) => {
			Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => value });
			document.dispatchEvent(new Event('visibilitychange'));
		}, state);
		await setVisibility('hidden');
		await send(bob, 'are you there?');
		await send(bob, 'hello?');
		await messagesWithText(alice, 'hello?').waitFor({ state: 'attached' });
		assert.equal(await alice.title(), `(2) ${roomName} · 마당`);
		await setVisibility('visible');
		assert.equal(await alice.title(), `${roomName} · 마당`);
	});

	it('writes phone and desktop screenshots', async () => {
		await screenshot(alice, 'chat-desktop-ko-light');
		await screenshot(bob, 'chat-phone-en-dark');
		const phoneRooms = await openPage(browser, { viewport: PHONE, locale: 'ko-KR' });
		await waitForCount(phoneRooms, roomId, 2);
		await screenshot(phoneRooms, 'rooms-phone-ko-light');
		await screenshot(observer, 'rooms-desktop-en-light');
		assertNoProblems(phoneRooms);
		await phoneRooms.context().close();
	});

	it('fits a 360 px phone without sideways scrolling in every view', async () => {
		const small = await openPage(browser, { viewport: { width: 360, height: 640 }, locale: 'ko-KR' });
		const overflow = () => small.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
		await roomItem(small, roomId).waitFor();
		assert.equal(await overflow(), 0, 'room list');
		await roomItem(small, roomId).locator('.join-btn').click();
		assert.equal(await overflow(), 0, 'nickname form');
		await small.locator('#nickname').fill('작은화면');
		await small.locator('#nickname').press('Enter');
		await waitConnected(small);
		await send(small, 'a-very-long-word-without-any-spaces-that-must-wrap-inside-its-bubble-on-a-small-screen');
		await messagesWithText(alice, 'a-very-long-word-without-any-spaces-that-must-wrap-inside-its-bubble-on-a-small-screen').waitFor();
		assert.equal(await overflow(), 0, 'chat');
		assert.equal(await small.locator('#messages').evaluate((l) => l.scrollWidth - l.clientWidth), 0, 'messages');
		await small.locator('#leave-btn').click();
		await small.locator('#view-rooms').waitFor();
		assertNoProblems(small);
		await small.context().close();
	});

	it('does not jump when scrolled up, and offers a "new messages" button', async () => {
		for (let i = 1; i <= 14; i += 1) {
			await send(bob, `filler ${i}`);
			await bob.waitForTimeout(150); /* stays under madang-ws's rate limit (10 frames/s) */
		}
		await messagesWithText(alice, 'filler 14').waitFor();
		await alice.locator('#messages').evaluate((list) => { list.scrollTop = 0; });
		await send(bob, 'while you were reading');
		await messagesWithText(alice, 'while you were reading').waitFor();
		const button = alice.locator('#new-messages');
		await button.waitFor();
		assert.equal(await alice.locator('#messages').evaluate((list) => list.scrollTop), 0);
		await button.click();
		assert.equal(await button.isHidden(), true);
		assert.ok(await alice.locator('#messages').evaluate((l) => l.scrollHeight - l.scrollTop - l.clientHeight < 50));
	});

	it('explains refused nicknames in words: reserved, and already taken (4009)', async () => {
		await roomItem(observer, roomId).locator('.join-btn').click();
		await observer.locator('#nickname').fill('System');
		await observer.locator('#nickname').press('Enter');
		await observer.locator('#nick-error').filter({ hasText: '“system” and “시스템” are reserved' }).waitFor();
		assert.equal(await observer.locator('#view-chat').isHidden(), true);
		await observer.locator('#nickname').fill('ALICE');
		await observer.locator('#nickname').press('Enter');
		await observer.locator('#nick-error').filter({ hasText: '“ALICE” is already in use in this room' }).waitFor();
		assert.equal(await observer.locator('#nickname').inputValue(), 'ALICE');
		await observer.locator('#join-back').click();
		await observer.locator('#view-rooms').waitFor();
	});

	it('can be used with the keyboard alone', async () => {
		const carol = await openPage(browser, { locale: 'en-US' });
		await roomItem(carol, roomId).waitFor();
		let reached = false;
		for (let i = 0; i < 30 && !reached; i += 1) {
			await carol.keyboard.press('Tab');
			reached = await carol.evaluate((id) => document.activeElement?.closest('.room-item')?.dataset.roomId === id
				&& document.activeElement.classList.contains('join-btn'), roomId);
		}
		assert.ok(reached, 'Tab reaches the room\'s Join button');
		await carol.keyboard.press('Enter');
		await carol.locator('#nickname:focus').waitFor(); /* the form opens on the hashchange that follows */
		await carol.keyboard.type('carol');
		await carol.keyboard.press('Enter');
		await waitConnected(carol);
		assert.equal(await carol.evaluate(() => document.activeElement?.id), 'message-input');
		await carol.keyboard.type('typed without a mouse');
		await carol.keyboard.press('Enter');
		await messagesWithText(alice, 'typed without a mouse').waitFor();
		assert.equal(new URL(carol.url()).hash, `#/room/${roomId}`);
		await carol.goBack(); /* the browser's Back button leaves the room */
		await carol.locator('#view-rooms').waitFor();
		await noticesWithText(alice, 'carol님이 퇴장했습니다.').waitFor();
		assertNoProblems(carol);
		await carol.context().close();
	});

	it('opens a room from a link and comes back to it after a reload', async () => {
		const dave = await openPage(browser, { locale: 'en-US', hash: `#/room/${roomId}` });
		await dave.locator('#join-heading').filter({ hasText: roomName }).waitFor(); /* the name, from the API (issue 24 item 7) */
		await dave.locator('#nickname').fill('dave');
		await dave.locator('#nickname').press('Enter');
		await waitConnected(dave);
		assert.equal(await dave.locator('#chat-title').textContent(), roomName);
		await noticesWithText(alice, 'dave님이 입장했습니다.').waitFor();
		await dave.reload();
		await dave.locator('#nickname').waitFor();
		assert.equal(await dave.locator('#nickname').inputValue(), 'dave', 'the nickname is remembered');
		await noticesWithText(alice, 'dave님이 퇴장했습니다.').waitFor();
		assertNoProblems(dave);
		await dave.context().close();
	});

	it('switches language on request and remembers it', async () => {
		await observer.locator('#lang-switch').click();
		assert.equal(await observer.locator('#rooms-heading').textContent(), '채팅방 목록');
		assert.equal(await observer.locator('html').getAttribute('lang'), 'ko');
		await observer.reload();
		assert.equal(await observer.locator('#rooms-heading').textContent(), '채팅방 목록');
		await roomItem(observer, roomId).locator('.room-users').filter({ hasText: /^참여자: \d+명$/ }).waitFor();
	});

	it('leaves cleanly: back to the list, the other side is told, the count drops', async () => {
		await bob.locator('#leave-btn').click();
		await bob.locator('#view-rooms').waitFor();
		assert.equal(await bob.locator('#view-chat').isHidden(), true);
		await noticesWithText(alice, 'bob님이 퇴장했습니다.').waitFor();
		await waitForCount(observer, roomId, 1);
		await waitForCount(bob, roomId, 1);
		assert.equal(await listedCount(bob, roomId), 1);
		await alice.locator('#member-list .member-btn', { hasText: 'bob' }).waitFor({ state: 'detached' });
	});

	it('had no console errors, page errors or dialogs on any page', () => {
		assertNoProblems(alice, bob, observer);
	});
});
