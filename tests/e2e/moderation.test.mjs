// moderation.test.mjs — moderation in the browser (issue 26, docs/moderation.md) against the
// madang-ws with tokens (MADANG_E2E_JWT_URL) of tests/suites/50-e2e.sh. Every page gets a hook
// that mints real tokens with a subject (`madang-token --sub u-<name>`); the room's owner (olga)
// and moderator (mia) are set in the broker with build/tests/broker-rpc and an admin actor, as no
// client may set them. Seen on both sides: a moderator deletes a message (and a later joiner sees
// the tombstone); a member made moderator (and back) gets the menus at once, without a rejoin,
// and deletes a message with a reason; a moderator kicks (keyboard only) and mutes a member; a
// moderator's ban is refused in words;
// the owner bans a member, who cannot come back; slow mode holds a member's second message and
// sends it later. A plain member sees no menu, only "Delete" on its own messages, and deletes one
// (by keyboard); when the server cannot tell the message was its own (another subject had the
// nickname), the refusal is in words; a page without a token has no "Delete" at all. bob's page
// is Korean, the others English.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import {
	PHONE, assertNoProblems, createRoomByApi, describePage, joinRoom, launch, messagesWithText, noticesWithText, openPage,
	screenshot, send, uniqueRoomId, waitConnected,
} from './lib.mjs';

const JWT_URL = process.env.MADANG_E2E_JWT_URL;
const ADMIN = { name: 'admin', admin: true };

/* One request to the suite's broker (its --rpc address from the stack); the reply must be ok. */
function brokerCall(request) {
	const rpc = JSON.parse(process.env.MADANG_BROKER_OPTS ?? 'null')?.rpc;
	assert.ok(rpc, 'MADANG_BROKER_OPTS is set by tests/suites/50-e2e.sh');
	const bin = join(process.env.MADANG_TESTBIN ?? 'build/tests', 'broker-rpc');
	const out = execFileSync(bin, [rpc, JSON.stringify(request)], { timeout: 10000 }).toString();
	const reply = JSON.parse(out);
	assert.equal(reply.ok, true, `${request.op}: ${out}`);
	return reply;
}

/* A token for `name` with the subject u-<name> (or `subject`), living an hour. */
function mint(name, subject = `u-${name}`) {
	return execFileSync(process.env.MADANG_TOKEN_BIN, ['--secret-file', process.env.MADANG_JWT_SECRET_FILE,
		'--name', name, '--sub', subject, '--ttl', '3600']).toString().trim();
}

/* A page on the token site whose hook mints tokens for the nickname it is asked about (with the
 * subject u-<nickname>, or `subject`); page.sockets counts the WebSockets it opened. */
async function memberPage(browser, { subject, ...options } = {}) {
	const page = await openPage(browser, {
		base: JWT_URL,
		...options,
		setup: async (context) => {
			await context.exposeFunction('mintTestToken', (user) => mint(user, subject));
			await context.addInitScript(() => {
				globalThis.madangAuth = { getToken: async ({ user }) => globalThis.mintTestToken(user) };
			});
		},
	});
	page.sockets = 0;
	page.on('websocket', () => {
		page.sockets += 1;
	});
	return page;
}

/* The bubble of the message whose text is exactly `text` (not a copy still in the outbox). */
function bubble(page, text) {
	const exact = new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
	return page.locator('#messages > li.message:not(.system):not(.pending)').filter({ has: page.locator('.text').filter({ hasText: exact }) });
}

/* The name of the focused element (its aria-label, else its text). */
function focusedName(page) {
	return page.evaluate(() => {
		const node = document.activeElement;
		return node?.getAttribute('aria-label') ?? node?.textContent?.trim() ?? '';
	});
}

describe('moderation in the web client', () => {
	let browser;
	let olga; /* owner, phone */
	let mia; /* moderator */
	let bob; /* member, Korean */
	let carl; /* member */
	let dave; /* member */
	const roomId = uniqueRoomId('mod');
	const roomName = `Moderated ${roomId.slice(-4)}`;

	before(async () => {
		assert.ok(JWT_URL, 'MADANG_E2E_JWT_URL is set by tests/suites/50-e2e.sh');
		brokerCall({ op: 'create_room', room_id: roomId, name: roomName, owner: 'u-olga' });
		const set = brokerCall({ op: 'set_room', room_id: roomId, actor: ADMIN, moderators: ['u-mia'] });
		assert.deepEqual(set.moderation.moderators, ['u-mia']);
		browser = await launch();
		olga = await memberPage(browser, { viewport: PHONE });
		mia = await memberPage(browser);
		bob = await memberPage(browser, { locale: 'ko-KR' });
		carl = await memberPage(browser);
		dave = await memberPage(browser);
		for (const [page, name] of [[olga, 'olga'], [mia, 'mia'], [bob, 'bob'], [carl, 'carl'], [dave, 'dave']]) {
			await joinRoom(page, roomId, name);
		}
		await mia.locator('#member-list .member').nth(4).waitFor();
	});

	after(async () => {
		await browser?.close();
	});

	it('gives the owner and the moderator a menu on each member and message, and a plain member none but "Delete" on its own', async () => {
		await send(bob, 'hello from bob');
		await messagesWithText(mia, 'hello from bob').waitFor();
		/* a member with a token may delete its own messages (the broker checks the token's subject) */
		await bubble(bob, 'hello from bob').getByRole('button', { name: '내 메시지 삭제' }).waitFor();
		assert.equal(await bob.locator('.mod-btn').count(), 1, 'on his own message only');
		assert.equal(await mia.locator('.mod-member-btn').count(), 4, 'olga, bob, carl, dave');
		assert.equal(await mia.getByRole('button', { name: 'Moderate carl' }).count(), 1);
		assert.equal(await bubble(mia, 'hello from bob').getByRole('button', { name: 'Delete the message from bob' }).count(), 1);
		assert.equal(await olga.locator('.mod-member-btn').count(), 4);
		await bubble(carl, 'hello from bob').waitFor();
		for (const page of [bob, carl, dave]) {
			assert.equal(await page.locator('.mod-member-btn, li.received .mod-btn').count(), 0, 'a member sees no menu on others');
		}
		assert.equal(await carl.locator('.mod-btn').count(), 0, 'carl has sent nothing');
		assert.equal(await bob.locator('#mod-dialog[open]').count(), 0);
	});

	it('shows slow mode to everyone, and sends a member\'s second message when the interval allows, once', async () => {
		brokerCall({ op: 'slow_mode', room_id: roomId, actor: ADMIN, interval_s: 2 });
		await noticesWithText(bob, 'admin님이 슬로우 모드를 켰습니다: 2초에 메시지 하나.').waitFor();
		assert.equal(await bob.locator('#compose-mod').textContent(), '슬로우 모드: 2초에 메시지 하나.');
		await noticesWithText(mia, 'admin turned on slow mode: one message every 2 s.').waitFor();
		assert.equal(await mia.locator('#compose-mod').textContent(), 'Slow mode: one message every 2 s (not for moderators).');
		await send(bob, 'slow one');
		await send(bob, 'slow two');
		await messagesWithText(mia, 'slow two').waitFor({ timeout: 8000 });
		assert.equal(await messagesWithText(mia, 'slow one').count(), 1);
		assert.equal(await messagesWithText(mia, 'slow two').count(), 1);
		assert.equal(await bob.locator('#messages li.pending').count(), 0, 'nothing left "not sent"');
		brokerCall({ op: 'slow_mode', room_id: roomId, actor: ADMIN, interval_s: 0 });
		await noticesWithText(bob, 'admin님이 슬로우 모드를 껐습니다.').waitFor();
		assert.equal(await bob.locator('#compose-mod').isHidden(), true);
	});

	it('lets a moderator delete a message: "message deleted" for everyone, no notice line, a tombstone later', async () => {
		await send(bob, 'delete me please');
		await messagesWithText(mia, 'delete me please').waitFor();
		await bubble(mia, 'delete me please').getByRole('button', { name: 'Delete the message from bob' }).click();
		const dialog = mia.locator('#mod-dialog');
		await dialog.waitFor();
		assert.equal(await mia.locator('#mod-title').textContent(), 'Delete this message from bob?');
		assert.equal(await mia.locator('#mod-quote').textContent(), 'delete me please');
		await dialog.getByRole('button', { name: 'Delete the message' }).click();
		await mia.locator('#messages > li.message.deleted .text').filter({ hasText: /^message deleted$/ }).waitFor();
		await bob.locator('#messages > li.message.deleted .text').filter({ hasText: /^삭제된 메시지입니다$/ }).waitFor();
		for (const page of [mia, bob, olga]) {
			await page.locator('#messages > li.message.deleted').first().waitFor();
			assert.equal(await messagesWithText(page, 'delete me please').count(), 0, await describePage(page, 'after delete'));
			assert.equal(await page.locator('#messages > li.system').filter({ hasText: /deleted|삭제/ }).count(), 0,
				'the bubble changes; no notice line');
		}
		assert.equal(await mia.locator('#messages > li.message.deleted .mod-btn').count(), 0, 'nothing left to delete');
		const erin = await memberPage(browser);
		await joinRoom(erin, roomId, 'erin');
		await erin.locator('#messages > li.message.deleted .text').filter({ hasText: /^message deleted$/ }).waitFor();
		assert.equal(await erin.getByText('delete me please').count(), 0, 'a later joiner never sees the text');
		await messagesWithText(erin, 'hello from bob').waitFor();
		assertNoProblems(erin);
		await erin.locator('#leave-btn').click();
	});

	it('gives a member made moderator the menus at once, without a rejoin; a deletion with a reason; and takes them back', async () => {
		brokerCall({ op: 'slow_mode', room_id: roomId, actor: ADMIN, interval_s: 30 });
		await noticesWithText(bob, 'admin님이 슬로우 모드를 켰습니다: 30초에 메시지 하나.').waitFor();
		assert.equal(await bob.locator('#compose-mod').textContent(), '슬로우 모드: 30초에 메시지 하나.');
		await send(carl, 'carl says hi');
		await messagesWithText(bob, 'carl says hi').waitFor();
		assert.equal(await bob.locator('.mod-member-btn, li.received .mod-btn').count(), 0, 'a member still');
		assert.equal(await bubble(bob, 'slow two').getByRole('button', { name: '내 메시지 삭제' }).count(), 1,
			'but with "Delete" on his own messages');
		const sockets = bob.sockets;

		/* an admin names bob a moderator: the role frame reaches his open page */
		brokerCall({ op: 'set_room', room_id: roomId, actor: ADMIN, moderators: ['u-mia', 'u-bob'] });
		try {
			await noticesWithText(bob, '이제 이 방의 관리자입니다.').waitFor();
			await bob.getByRole('button', { name: 'carl님 관리' }).waitFor();
			assert.equal(await bob.locator('.mod-member-btn').count(), 4, 'olga, mia, carl, dave');
			const carlsBubble = bubble(bob, 'carl says hi');
			assert.equal(await carlsBubble.getByRole('button', { name: 'carl님의 메시지 삭제' }).count(), 1);
			assert.equal(await bubble(bob, 'slow two').getByRole('button', { name: 'bob님의 메시지 삭제' }).count(), 1,
				'his own now have the moderator\'s button, as they had before members could delete their own');
			assert.equal(await bob.locator('#compose-mod').textContent(), '슬로우 모드: 30초에 메시지 하나 (관리자는 제외).');
			assert.equal(await bob.locator('#conn-state').getAttribute('data-state'), 'connected');
			assert.equal(bob.sockets, sockets, 'the same socket: no rejoin');
			for (const page of [mia, carl]) {
				assert.equal(await noticesWithText(page, 'You are now a moderator of this room.').count(), 0, 'only bob is told');
			}

			/* the new moderator deletes carl's message with a reason, counted in bytes as for a member */
			await carlsBubble.getByRole('button', { name: 'carl님의 메시지 삭제' }).click();
			await bob.locator('#mod-dialog[open]').waitFor();
			assert.equal(await bob.evaluate(() => document.activeElement.id), 'mod-reason');
			assert.equal(await bob.locator('#mod-quote').textContent(), 'carl says hi');
			await bob.locator('#mod-reason').fill('가'.repeat(86));
			assert.equal(await bob.locator('#mod-count').textContent(), '258 / 256바이트');
			await bob.locator('#mod-dialog').getByRole('button', { name: '메시지 삭제', exact: true }).click();
			assert.equal(await bob.locator('#mod-error').textContent(), '사유가 너무 깁니다 (258바이트, 최대 256).');
			assert.equal(await bob.locator('#mod-dialog[open]').count(), 1, 'refused in words, nothing sent');
			await bob.locator('#mod-reason').fill('광고 도배');
			assert.equal(await bob.locator('#mod-count').textContent(), '13 / 256바이트');
			await bob.locator('#mod-dialog').getByRole('button', { name: '메시지 삭제', exact: true }).click();
			await messagesWithText(bob, '삭제된 메시지입니다: 광고 도배').waitFor();
			await messagesWithText(mia, 'message deleted: 광고 도배').waitFor();
			await messagesWithText(carl, 'message deleted: 광고 도배').waitFor();
			assert.equal(await messagesWithText(carl, 'carl says hi').count(), 0);
			const audit = brokerCall({ op: 'audit', room_id: roomId, actor: ADMIN, limit: 10 });
			const entry = audit.entries.find((e) => e.action === 'delete_message' && e.actor?.name === 'bob');
			assert.ok(entry, `the deletion is in the audit trail: ${JSON.stringify(audit.entries)}`);
			assert.equal(entry.note, '광고 도배');
			await send(mia, 'mia stays');
			await bubble(bob, 'mia stays').getByRole('button', { name: 'mia님의 메시지 삭제' }).waitFor();
		} catch (err) {
			/* bob back to member and slow mode off, so that the tests after this one are not spoilt */
			brokerCall({ op: 'set_room', room_id: roomId, actor: ADMIN, moderators: ['u-mia'] });
			brokerCall({ op: 'slow_mode', room_id: roomId, actor: ADMIN, interval_s: 0 });
			await bob.locator('#mod-dialog').evaluate((dialog) => dialog.open && dialog.close());
			throw err;
		}

		/* and back to member: the menus go, on the same socket */
		brokerCall({ op: 'set_room', room_id: roomId, actor: ADMIN, moderators: ['u-mia'] });
		await noticesWithText(bob, '더 이상 이 방의 관리자가 아닙니다.').waitFor();
		await bob.locator('.mod-member-btn').first().waitFor({ state: 'detached' });
		assert.equal(await bob.locator('.mod-member-btn, li.received .mod-btn').count(), 0);
		assert.equal(await bubble(bob, 'mia stays').locator('.mod-btn').count(), 0, 'others\' messages follow the role');
		assert.equal(await bubble(bob, 'slow two').getByRole('button', { name: '내 메시지 삭제' }).count(), 1,
			'his own keep their "Delete"');
		assert.equal(await bob.locator('#compose-mod').textContent(), '슬로우 모드: 30초에 메시지 하나.');
		assert.equal(bob.sockets, sockets, 'still no rejoin');
		brokerCall({ op: 'slow_mode', room_id: roomId, actor: ADMIN, interval_s: 0 });
		await noticesWithText(bob, 'admin님이 슬로우 모드를 껐습니다.').nth(1).waitFor();
		assert.equal(await bob.locator('#compose-mod').isHidden(), true);
	});

	it('draws the tombstone the broker keeps with its reason, as a page of history brings it', async () => {
		/* the deleted message of the test before, as history returns it (no message_deleted needed beside it) */
		const hist = brokerCall({ op: 'history', room_id: roomId, limit: 500 });
		const tomb = hist.events.find((e) => e.type === 'message' && e.deleted === true && e.note === '광고 도배');
		assert.ok(tomb, `a tombstone with the reason: ${JSON.stringify(hist.events.filter((e) => e.deleted))}`);
		assert.equal(tomb.message, '', 'the text is gone');
		const drawn = await carl.evaluate(async (events) => {
			const { MessageList } = await import('./js/message-list.js');
			const list = new MessageList({ list: document.createElement('ol'), newButton: document.createElement('button'), onRetry() {} });
			return events.map((e) => {
				const li = list.messageItem(e, false);
				return [li.className, li.querySelector('.sender').textContent, li.querySelector('.text').textContent];
			});
		}, [tomb, { ...tomb, note: '' }]);
		assert.deepEqual(drawn, [
			['message received deleted', 'carl', 'message deleted: 광고 도배'],
			['message received deleted', 'carl', 'message deleted'],
		]);
	});

	it('reaches the kick with the keyboard alone (Escape gives the focus back), and the kicked member may rejoin', async () => {
		await mia.locator('#leave-btn').focus();
		let name = '';
		for (let i = 0; i < 80 && name !== 'Moderate carl'; i += 1) {
			await mia.keyboard.press('Tab');
			name = await focusedName(mia);
		}
		assert.equal(name, 'Moderate carl', 'Tab reaches the member menu');
		await mia.keyboard.press('Enter');
		await mia.locator('#mod-dialog[open]').waitFor();
		assert.equal(await mia.evaluate(() => document.activeElement.id), 'mod-reason');
		await mia.keyboard.press('Escape');
		await mia.locator('#mod-dialog:not([open])').waitFor({ state: 'attached' });
		assert.equal(await focusedName(mia), 'Moderate carl', 'the focus returns to the button');
		await mia.keyboard.press('Enter');
		await mia.keyboard.type('spam');
		await mia.keyboard.press('Tab');
		assert.equal(await focusedName(mia), 'Remove from the room');
		const sockets = carl.sockets;
		await mia.keyboard.press('Enter');
		await noticesWithText(mia, 'carl was removed by mia: spam').waitFor();
		await carl.locator('#view-rooms:not([hidden])').waitFor();
		assert.equal(await carl.locator('#rooms-notice').textContent(),
			`mia removed you from “${roomName}”. You may join again. Reason: spam`);
		await noticesWithText(olga, 'carl was removed by mia: spam').waitFor();
		assert.equal(await mia.locator('#member-list').getByText('carl', { exact: true }).count(), 0);
		await carl.waitForTimeout(1500);
		assert.equal(carl.sockets, sockets, 'no rejoin by itself');
		await joinRoom(carl, roomId, 'carl'); /* the person asks: back in */
		await noticesWithText(mia, 'carl joined.').last().waitFor();
		assertNoProblems(carl);
	});

	it('keeps the member picked when the menu opens again before the last closing\'s event came: the kick is sent, not dropped', async () => {
		/* The close event comes a task after the closing. Escape and then Enter on a menu button at
		 * once used to let it arrive after the reopening and forget the new target (the keyboard test
		 * above failed so, once in a CI run). */
		const acts = await dave.evaluate(async () => {
			const { ModerationMenu } = await import('./js/moderation-menu.js');
			const picked = [];
			const menu = new ModerationMenu({ onAction: (type, f) => picked.push([type, f.user, f.note]), fallbackFocus: () => null });
			const opener = document.createElement('button');
			document.body.append(opener);
			menu.openMember('carl', opener);
			menu.close(); /* Escape */
			menu.openMember('bob', opener); /* Enter on another member's menu button, in the same task */
			await new Promise((done) => { setTimeout(done, 50); }); /* the first closing's event comes */
			const open = menu.isOpen();
			menu.reason.value = 'spam';
			menu.act('kick');
			opener.remove();
			return { open, picked };
		});
		assert.deepEqual(acts, { open: true, picked: [['kick', 'bob', 'spam']] });
	});

	it('mutes a member: the notice and the send box say until when, in Korean, also after a reload; the moderator is told', async () => {
		await mia.getByRole('button', { name: 'Moderate bob' }).click();
		await mia.locator('#mod-reason').fill('calm down');
		await mia.getByRole('button', { name: 'Mute for 10 minutes' }).click();
		await noticesWithText(mia, 'You muted bob for 10 min.').waitFor();
		const notice = bob.locator('#messages > li.message.system .text').filter({ hasText: /^mia님이 .+까지 채팅을 금지했습니다: calm down$/ });
		await notice.waitFor();
		const status = await bob.locator('#compose-mod').textContent();
		assert.match(status, /^.+까지 채팅 금지: 메시지를 보낼 수 없습니다\.$/);
		await bob.locator('#message-input').fill('can I talk?');
		await bob.locator('#message-input').press('Enter');
		await bob.locator('#compose-error').filter({ hasText: /채팅이 금지되어 있습니다/ }).waitFor();
		assert.equal(await bob.locator('#message-input').inputValue(), 'can I talk?', 'the draft stays');
		/* after a reload the mute comes back with joined.muted_until */
		await bob.reload();
		await bob.locator('#nickname').fill('bob');
		await bob.locator('#nickname').press('Enter');
		await waitConnected(bob);
		await bob.locator('#messages > li.message.system .text').filter({ hasText: /^.+까지 채팅이 금지되어 있습니다\.$/ }).waitFor();
		assert.equal(await bob.locator('#compose-mod').textContent(), status);
		await bob.locator('#message-input').fill('can I talk?');
		brokerCall({ op: 'unmute', room_id: roomId, actor: ADMIN, user: 'bob' });
		await noticesWithText(bob, '채팅 금지가 풀렸습니다. 다시 메시지를 보낼 수 있습니다.').waitFor();
		assert.equal(await bob.locator('#compose-mod').isHidden(), true);
		await bob.locator('#message-input').press('Enter');
		await messagesWithText(mia, 'can I talk?').waitFor();
	});

	it('says clearly when a moderator may not ban', async () => {
		await mia.getByRole('button', { name: 'Moderate dave' }).click();
		await mia.getByRole('button', { name: 'Ban from the room' }).click();
		await noticesWithText(mia, 'Refused: your role in this room does not allow you to do that to dave.').waitFor();
		assert.equal(await dave.locator('#conn-state').getAttribute('data-state'), 'connected');
	});

	it('lets the owner ban from a phone: the banned member sees why and cannot come back', async () => {
		await olga.locator('#members-toggle').click();
		await olga.getByRole('button', { name: 'Moderate dave' }).click();
		const box = await olga.locator('#mod-dialog').boundingBox();
		assert.ok(box.x >= 0 && box.x + box.width <= PHONE.width, `the dialog fits a phone: ${JSON.stringify(box)}`);
		await olga.locator('#mod-reason').fill('bye');
		await screenshot(olga, 'moderation-phone-member-menu');
		await olga.getByRole('button', { name: 'Ban from the room' }).click();
		await noticesWithText(olga, 'dave was banned by olga: bye').waitFor();
		await noticesWithText(mia, 'dave was banned by olga: bye').waitFor();
		await dave.locator('#view-rooms:not([hidden])').waitFor();
		const banned = `You are banned from “${roomName}” until a moderator lifts the ban. Reason: bye`;
		assert.equal(await dave.locator('#rooms-notice').textContent(), banned);
		const sockets = dave.sockets;
		await dave.locator(`.room-item[data-room-id="${roomId}"] .join-btn`).click();
		await dave.locator('#nickname').fill('dave');
		await dave.locator('#nickname').press('Enter');
		await dave.locator('#view-rooms:not([hidden])').waitFor();
		await dave.locator('#rooms-notice').filter({ hasText: banned }).waitFor();
		await dave.waitForTimeout(1500);
		assert.equal(dave.sockets, sockets + 1, 'one refused try, none by itself after it');
		assert.equal(await noticesWithText(mia, 'dave joined.').count(), 1, 'never back in the room');
	});

	it('lets a member with a token delete its own message, by keyboard: "message deleted" for everyone, no "Delete" on others\' messages', async () => {
		await send(bob, 'bob talks to carl');
		await bubble(carl, 'bob talks to carl').waitFor();
		await send(carl, 'oops, wrong room');
		const button = bubble(carl, 'oops, wrong room').getByRole('button', { name: 'Delete your message' });
		await button.waitFor();
		assert.equal(await bubble(carl, 'bob talks to carl').locator('.mod-btn').count(), 0, 'not on someone else\'s');
		await bubble(bob, 'oops, wrong room').waitFor();
		assert.equal(await bubble(bob, 'oops, wrong room').locator('.mod-btn').count(), 0, 'nor on carl\'s for bob');
		assert.equal(await carl.locator('.mod-member-btn').count(), 0, 'and no member menus');

		await button.focus();
		await carl.keyboard.press('Enter');
		await carl.locator('#mod-dialog[open]').waitFor();
		assert.equal(await carl.locator('#mod-title').textContent(), 'Delete your message?');
		assert.equal(await carl.locator('#mod-quote').textContent(), 'oops, wrong room');
		assert.equal(await carl.locator('#mod-member-actions').isHidden(), true, 'only the message\'s action');
		assert.equal(await carl.evaluate(() => document.activeElement.id), 'mod-reason');
		await carl.keyboard.press('Escape');
		await carl.locator('#mod-dialog:not([open])').waitFor({ state: 'attached' });
		assert.equal(await focusedName(carl), 'Delete your message', 'the focus returns to the button');
		await carl.keyboard.press('Enter');
		await carl.locator('#mod-dialog[open]').waitFor();
		await carl.keyboard.type('typo');
		await carl.keyboard.press('Tab');
		assert.equal(await focusedName(carl), 'Delete the message');
		await carl.keyboard.press('Enter');

		/* deleted, or refused in words (a broker that lets only moderators delete) */
		await carl.locator('#messages > li.message.deleted, #messages > li.message.system.warning').first().waitFor();
		assert.equal(await carl.locator('#messages > li.message.system.warning').count(), 0, await describePage(carl, 'carl'));
		await messagesWithText(carl, 'message deleted: typo').waitFor();
		await messagesWithText(bob, '삭제된 메시지입니다: typo').waitFor();
		await messagesWithText(mia, 'message deleted: typo').waitFor();
		await messagesWithText(olga, 'message deleted: typo').waitFor();
		for (const page of [carl, bob, mia, olga]) {
			assert.equal(await messagesWithText(page, 'oops, wrong room').count(), 0, await describePage(page, 'after the deletion'));
			assert.equal(await page.locator('#messages > li.system').filter({ hasText: /deleted|삭제/ }).count(), 0,
				'the bubble changes; no notice line');
		}
		assert.equal(await carl.locator('#messages > li.message.deleted .mod-btn').count(), 0, 'nothing left to delete');
	});

	it('says in words, in Korean and in English, when the server cannot tell that a message was one\'s own', async () => {
		await send(carl, 'carl before the swap');
		await bubble(carl, 'carl before the swap').getByRole('button', { name: 'Delete your message' }).waitFor();
		await carl.locator('#leave-btn').click();
		await mia.locator('#member-list').getByText('carl', { exact: true }).waitFor({ state: 'detached' });
		/* someone else under the same nickname: a token with another subject */
		const other = await memberPage(browser, { subject: 'u-another-carl', locale: 'ko-KR' });
		await joinRoom(other, roomId, 'carl');
		await other.locator('#messages > li.divider').waitFor(); /* the history is in */
		await bubble(other, 'carl before the swap').getByRole('button', { name: '내 메시지 삭제' }).click();
		await other.locator('#mod-dialog[open]').waitFor();
		assert.equal(await other.locator('#mod-title').textContent(), '내 메시지를 삭제할까요?');
		await other.locator('#mod-dialog').getByRole('button', { name: '메시지 삭제', exact: true }).click();
		await noticesWithText(other, '이 메시지는 삭제되지 않았습니다: 내가 보낸 메시지인지 서버가 확인할 수 없습니다. '
			+ '서버가 이를 확인하기 전에 보낸 메시지나 다른 사람이 이 닉네임으로 보낸 메시지는 관리자만 삭제할 수 있습니다.').waitFor();
		await other.locator('#lang-switch').click();
		await noticesWithText(other, 'This message was not deleted: the server cannot confirm that you sent it. A message sent '
			+ 'before the server checked this, or sent by someone else under this nickname, can only be deleted by a moderator.').waitFor();
		assert.equal(await bubble(other, 'carl before the swap').count(), 1, 'still there');
		assert.equal(await bubble(mia, 'carl before the swap').count(), 1, 'still there for the others');
		assertNoProblems(other);
		await other.locator('#leave-btn').click();
	});

	it('offers "Delete" on one\'s own messages only with a token, on a phone too, and keeps it right after a reconnect', async () => {
		const plainRoom = uniqueRoomId('own');
		await createRoomByApi(plainRoom, `Own ${plainRoom.slice(-4)}`);
		const zed = await openPage(browser); /* the site without tokens: an anonymous member */
		await joinRoom(zed, plainRoom, 'zed');
		const yuki = await memberPage(browser, { viewport: PHONE });
		const routes = []; /* yuki's sockets, through the test, so that one can be dropped */
		await yuki.routeWebSocket(/\/ws(\?|$)/, (ws) => {
			routes.push(ws.connectToServer());
		});
		await joinRoom(yuki, plainRoom, 'yuki');
		assert.equal(routes.length, 1, 'the socket goes through the test');
		await send(zed, 'zed has no token');
		await send(yuki, 'yuki has one');
		const button = bubble(yuki, 'yuki has one').getByRole('button', { name: 'Delete your message' });
		await button.waitFor();
		await bubble(yuki, 'zed has no token').waitFor();
		assert.equal(await bubble(yuki, 'zed has no token').locator('.mod-btn').count(), 0, 'not on someone else\'s');
		await bubble(zed, 'yuki has one').waitFor();
		await bubble(zed, 'zed has no token').waitFor();
		assert.equal(await zed.locator('.mod-btn, .mod-member-btn').count(), 0, 'without a token: none, not even on its own');

		/* on the phone: on the screen, big enough for a finger, and the dialog fits */
		const box = await button.boundingBox();
		assert.ok(box.x >= 0 && box.x + box.width <= PHONE.width && box.height >= 24, `the button: ${JSON.stringify(box)}`);
		await button.click();
		const dialog = await yuki.locator('#mod-dialog[open]').boundingBox();
		assert.ok(dialog.x >= 0 && dialog.x + dialog.width <= PHONE.width, `the dialog fits a phone: ${JSON.stringify(dialog)}`);
		assert.equal(await yuki.locator('#mod-title').textContent(), 'Delete your message?');
		await screenshot(yuki, 'moderation-phone-own-message');
		await yuki.getByRole('button', { name: 'Cancel' }).click();
		await yuki.locator('#mod-dialog:not([open])').waitFor({ state: 'attached' });
		assert.equal(await focusedName(yuki), 'Delete your message');

		/* the connection drops and comes back: the buttons are the same */
		await routes[0].close();
		for (let i = 0; i < 100 && routes.length < 2; i += 1) await yuki.waitForTimeout(100);
		assert.equal(routes.length, 2, 'a new socket');
		await waitConnected(yuki);
		await send(zed, 'zed again');
		await bubble(yuki, 'zed again').waitFor();
		await send(yuki, 'yuki again');
		await bubble(yuki, 'yuki again').getByRole('button', { name: 'Delete your message' }).waitFor();
		assert.equal(await bubble(yuki, 'yuki has one').getByRole('button', { name: 'Delete your message' }).count(), 1);
		assert.equal(await yuki.locator('li.received .mod-btn').count(), 0, 'still none on others\'');
		assert.equal(await yuki.locator('.mod-btn').count(), 2);
		assertNoProblems(zed, yuki);
	});

	it('had no console errors, page errors or dialogs', async () => {
		await screenshot(bob, 'moderation-desktop-ko-member');
		assertNoProblems(olga, mia, bob, carl, dave);
	});
});
