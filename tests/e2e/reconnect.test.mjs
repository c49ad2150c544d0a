// reconnect.test.mjs — madang-ws dies in the middle of a chat (SIGKILL by PID) and is started
// again on the same port. Both pages must show "reconnecting", then "connected"; a message typed
// while it was down waits in the outbox and arrives exactly once; the resume (since/epoch) loses
// nothing, so no "could not recover" notice appears. Run by tests/suites/50-e2e.sh, which passes
// madang-ws's PID and options; tests/lib/stack.mjs records the restarted one's PID for the suite.
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';

import { brokerFromEnv, restartWs, wsFromEnv } from '../lib/stack.mjs';

import {
	DESKTOP, PHONE, assertNoProblems, createRoomByApi, joinRoom, launch, messagesWithText, openPage, screenshot,
	send, uniqueRoomId, waitConnected,
} from './lib.mjs';

const WS = wsFromEnv('WS');
const WS_PORT = WS.port;

/* Chromium logs each refused WebSocket handshake (nginx answers 502 while madang-ws is down) as a
 * console error; those, and only those, are expected during the outage. */
const HANDSHAKE_FAILED = /^WebSocket connection to 'wss?:\/\/[^']+\/ws([/?][^']*)?' failed/;

function listening(port) {
	return new Promise((resolve) => {
		const socket = connect({ host: '127.0.0.1', port }, () => {
			socket.destroy();
			resolve(true);
		});
		socket.on('error', () => resolve(false));
		socket.setTimeout(500, () => {
			socket.destroy();
			resolve(false);
		});
	});
}

async function waitUntil(what, check, timeoutMs) {
	const deadline = Date.now() + timeoutMs;
	while (Date.now() < deadline) {
		if (await check()) return;
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
	throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

describe('madang-ws restarted mid-chat', () => {
	let browser;
	let alice;
	let bob;
	const roomId = uniqueRoomId('restart');

	before(async () => {
		assert.ok(WS.pid > 0 && WS_PORT > 0, 'the suite passes madang-ws PID and options');
		await createRoomByApi(roomId, 'Restart');
		browser = await launch();
		alice = await openPage(browser, { viewport: DESKTOP, locale: 'en-US' });
		bob = await openPage(browser, { viewport: PHONE, locale: 'en-US' });
		await joinRoom(alice, roomId, 'alice');
		await joinRoom(bob, roomId, 'bob');
		await send(alice, 'before the restart');
		await messagesWithText(bob, 'before the restart').waitFor();
	});

	after(async () => {
		await browser?.close();
	});

	it('shows reconnecting, keeps what is typed, then connects again and delivers it exactly once', async () => {
		for (const page of [alice, bob]) page.allowedConsole.push(HANDSHAKE_FAILED);
		await WS.kill9();
		await waitUntil('madang-ws to stop listening', async () => !(await listening(WS_PORT)), 5000);

		for (const page of [alice, bob]) {
			await page.locator('#conn-state[data-state="reconnecting"]').waitFor({ timeout: 5000 });
		}
		assert.match(await alice.locator('#conn-text').textContent(), /^Reconnecting( in \d+ s|…)$/);

		await send(alice, 'typed while it was down');
		const pending = alice.locator('#messages > li.pending').filter({ hasText: 'typed while it was down' });
		await pending.waitFor();
		assert.equal(await pending.locator('.status').textContent(), 'waiting for the connection');
		assert.equal(await alice.evaluate(() => document.activeElement?.id), 'message-input');
		await screenshot(alice, 'chat-desktop-reconnecting');
		await alice.waitForTimeout(1500);

		/* The same options on the same port (tests/lib/stack.mjs); it outlives this file, the suite ends it. */
		(await restartWs(brokerFromEnv(), WS)).detach();

		for (const page of [alice, bob]) await waitConnected(page, 30000);
		await pending.waitFor({ state: 'detached', timeout: 10000 });
		await messagesWithText(bob, 'typed while it was down').waitFor({ timeout: 10000 });
		await bob.waitForTimeout(1500); /* room for a duplicate to show up, if there were one */
		assert.equal(await messagesWithText(bob, 'typed while it was down').count(), 1);
		assert.equal(await messagesWithText(alice, 'typed while it was down').count(), 1);
		assert.equal(await messagesWithText(bob, 'before the restart').count(), 1);
		for (const page of [alice, bob]) {
			assert.equal(await page.locator('#messages > li.warning').count(), 0, 'resume recovered everything');
		}
	});

	it('chats normally after the restart', async () => {
		await send(bob, 'back again');
		await messagesWithText(alice, 'back again').waitFor();
		await send(alice, 'welcome back');
		await messagesWithText(bob, 'welcome back').waitFor();
		// Bob may see it before alice's own ack arrives: her pending mark must clear, not be gone already.
		await alice.waitForFunction(() => document.querySelectorAll('#messages > li.pending').length === 0, null, { timeout: 5000 });
	});

	it('had no console errors besides the refused handshakes, no page errors, no dialogs', () => {
		assertNoProblems(alice, bob);
	});
});
