// compose.test.mjs — what a person writes reaches the right people, whole and in order (issue 24
// items 1–4): a private draft whose recipient leaves is held back, a long paste is kept whole and
// refused until it fits, a fast burst of messages arrives complete and in order, and a server that
// does not answer is shown as such. Three people in one room: alice (Korean, desktop), bob and
// carol (English).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
	assertNoProblems, createRoomByApi, joinRoom, launch, messagesWithText, openPage, screenshot, send, uniqueRoomId,
	waitConnected,
} from './lib.mjs';

describe('composing and sending', () => {
	let browser;
	let alice;
	let bob;
	let carol;
	const roomId = uniqueRoomId('compose');

	before(async () => {
		await createRoomByApi(roomId, `Compose ${roomId.slice(-4)}`);
		browser = await launch();
		alice = await openPage(browser, { locale: 'ko-KR' });
		bob = await openPage(browser, { locale: 'en-US' });
		carol = await openPage(browser, { locale: 'en-US' });
		await joinRoom(alice, roomId, 'alice');
		await joinRoom(bob, roomId, 'bob');
		await joinRoom(carol, roomId, 'carol');
		await alice.locator('#member-list .member-btn', { hasText: 'carol' }).waitFor();
	});

	after(async () => {
		await browser?.close();
	});

	it('never sends a private draft to the room when its recipient leaves (item 1)', async () => {
		const secret = '우리끼리만 아는 비밀 번호는 1234';
		await alice.locator('#recipient').selectOption('bob');
		const chip = alice.locator('#whisper-chip');
		await chip.waitFor();
		assert.match(await chip.textContent(), /bob/);
		await alice.locator('#message-input').fill(secret);
		await bob.locator('#leave-btn').click();
		await alice.locator('#member-list .member-btn', { hasText: 'bob' }).waitFor({ state: 'detached' });
		assert.equal(await alice.locator('#recipient').inputValue(), 'bob', 'the choice stays');
		assert.match(await alice.locator('#recipient option:checked').textContent(), /bob.*나감/);
		assert.equal(await chip.getAttribute('class'), 'whisper-chip gone');
		await alice.locator('#message-input').press('Enter');
		const error = alice.locator('#compose-error');
		await error.waitFor();
		assert.match(await error.textContent(), /bob님이 채팅방을 나가서/);
		assert.equal(await alice.locator('#message-input').inputValue(), secret, 'the draft is kept');
		assert.equal(await alice.locator('#messages > li.pending').count(), 0, 'nothing queued');
		await screenshot(alice, 'compose-whisper-recipient-left');
		/* a marker sent afterwards proves that everything before it would have arrived */
		await alice.locator('#message-input').fill('');
		await chip.locator('button').click();
		assert.equal(await alice.locator('#recipient').inputValue(), '');
		assert.equal(await chip.isHidden(), true);
		await send(alice, 'marker after the refused whisper');
		await messagesWithText(carol, 'marker after the refused whisper').waitFor();
		assert.equal(await carol.locator('#messages').filter({ hasText: secret }).count(), 0, 'carol never saw it');
		/* bob comes back: chosen again, the whisper goes to him only */
		await joinRoom(bob, roomId, 'bob');
		await alice.locator('#member-list .member-btn', { hasText: 'bob' }).click();
		await send(alice, secret);
		await bob.locator('#messages > li.private.received').filter({ hasText: secret }).waitFor();
		await alice.locator('#messages > li.private.sent:not(.pending)').filter({ hasText: secret }).waitFor();
		assert.equal(await carol.locator('#messages').filter({ hasText: secret }).count(), 0);
		await alice.locator('#whisper-chip button').click();
	});

	it('keeps a paste over 4096 bytes whole, counts it, and refuses it until it fits (item 2)', async () => {
		const input = bob.locator('#message-input');
		await input.focus();
		await bob.keyboard.insertText('x'.repeat(5000)); /* what a paste does, maxlength included */
		assert.equal((await input.inputValue()).length, 5000, 'nothing cut');
		const count = bob.locator('#compose-count');
		assert.equal(await count.textContent(), '5000 / 4096 characters');
		assert.equal(await count.getAttribute('class'), 'compose-count over');
		assert.equal(await input.getAttribute('aria-invalid'), 'true');
		await input.press('Enter');
		assert.match(await bob.locator('#compose-error').textContent(), /too long \(5000 bytes/);
		await screenshot(bob, 'compose-too-long');
		assert.equal((await input.inputValue()).length, 5000);
		assert.equal(await bob.locator('#messages > li.pending').count(), 0, 'no shortened message was sent');
		/* Korean: characters and bytes differ, both are shown */
		await input.fill('');
		await bob.keyboard.insertText('가'.repeat(1400));
		assert.equal(await count.textContent(), '1400 characters · 4200 / 4096 bytes');
		/* made to fit, it goes whole */
		const fits = `${'y'.repeat(4095)}z`;
		await input.fill(fits);
		assert.equal(await count.textContent(), '4096 / 4096 characters');
		assert.equal(await count.getAttribute('class'), 'compose-count');
		await input.press('Enter');
		const got = carol.locator('#messages > li.message.received .text').filter({ hasText: /^y+z$/ });
		await got.waitFor();
		assert.equal((await got.textContent()).length, 4096);
		assert.equal(await count.isHidden(), true);
	});

	it('delivers 40 messages sent in 1.5 s complete and in order, none "not sent" (item 4)', async () => {
		const texts = Array.from({ length: 40 }, (_, i) => `burst ${String(i).padStart(2, '0')}`);
		/* typed in the page itself (text, then Enter, one every 37 ms on a fixed schedule, a late
		 * one at once), so that a busy machine stretches the burst as little as it can */
		const took = await carol.evaluate(async (all) => {
			const input = document.getElementById('message-input');
			const started = performance.now();
			for (const [i, text] of all.entries()) {
				input.value = text;
				input.dispatchEvent(new Event('input', { bubbles: true }));
				input.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', bubbles: true, cancelable: true }));
				const next = started + (i + 1) * 37 - performance.now();
				if (next > 0) await new Promise((resolve) => setTimeout(resolve, next));
			}
			return performance.now() - started;
		}, texts);
		/* 1.5 s on an idle machine; madang-ws takes 20 at once, then 10/s, so anything under 4 s
		 * is over its rate */
		assert.ok(took < 4000, `typed in ${Math.round(took)} ms`);
		const arrived = () => bob.evaluate(() => [...document.querySelectorAll('#messages > li.message.received .text')]
			.map((node) => node.textContent).filter((text) => text.startsWith('burst ')));
		await bob.waitForFunction(() => [...document.querySelectorAll('#messages > li.message.received .text')]
			.filter((node) => node.textContent.startsWith('burst ')).length >= 40, null, { timeout: 20000 });
		assert.deepEqual(await arrived(), texts);
		await carol.locator('#messages > li.pending').first().waitFor({ state: 'detached' });
		assert.equal(await carol.locator('#messages > li.failed').count(), 0);
		assert.deepEqual(await carol.evaluate(() => [...document.querySelectorAll('#messages > li.sent .text')]
			.map((node) => node.textContent).filter((text) => text.startsWith('burst '))), texts);
		assert.equal(await carol.locator('#messages > li.warning').count(), 0, 'no "too fast" warning');
	});

	it('says "waiting for the server" while a message is unanswered, and clears it (item 3)', async () => {
		const page = await openPage(browser, { locale: 'ko-KR' });
		let held = null; /* frames from the server are held back while this is an array */
		let route = null;
		await page.routeWebSocket(/\/ws(\?|$)/, (ws) => {
			route = ws;
			const server = ws.connectToServer();
			server.onMessage((frame) => {
				if (held) held.push(frame);
				else ws.send(frame);
			});
		});
		await page.reload();
		await page.locator('.view:not([hidden])').waitFor();
		await joinRoom(page, roomId, 'dora');
		const notice = page.locator('#server-wait');
		assert.equal(await notice.isHidden(), true);
		held = [];
		await send(page, 'anyone there?');
		await page.waitForTimeout(1500);
		assert.equal(await notice.isHidden(), true, 'not after a short wait');
		await notice.waitFor({ timeout: 4000 });
		assert.equal(await notice.textContent(), '서버의 응답을 기다리는 중…');
		await page.locator('#lang-switch').click();
		assert.equal(await notice.textContent(), 'Waiting for the server…');
		const frames = held;
		held = null;
		for (const frame of frames) route.send(frame); /* the answers arrive at last */
		await notice.waitFor({ state: 'hidden', timeout: 5000 });
		await messagesWithText(bob, 'anyone there?').waitFor();
		await waitConnected(page);
		assertNoProblems(page);
	});

	it('had no console errors, page errors or dialogs', () => {
		assertNoProblems(alice, bob, carol);
	});
});
