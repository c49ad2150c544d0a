// broker-restart.test.mjs — madang-broker dies (SIGKILL by PID) and is started again while two
// people chat. DESIGN §5: the front-end re-syncs its members and the clients keep their sockets.
// The pages must end up connected with the member list intact, say "could not recover" exactly
// when the broker's epoch changed (an in-memory broker lost its history) and not otherwise, and
// carry on chatting with each message shown once. Run by tests/suites/50-e2e.sh, which passes the
// broker's PID and command line and stops the restarted broker by the PID written here.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, openSync, writeFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';

import {
	BASE_URL, DESKTOP, PHONE, assertNoProblems, joinRoom, launch, messagesWithText, openPage, send, waitConnected,
} from './lib.mjs';

const BROKER_PID = Number(process.env.MADANG_BROKER_PID);
const BROKER_CMD = JSON.parse(process.env.MADANG_BROKER_CMD ?? '[]');
const BROKER_SOCKET = process.env.MADANG_BROKER_SOCKET;
const PIDFILE = process.env.MADANG_BROKER_RESTARTED_PIDFILE;
const BROKER_LOG = process.env.MADANG_BROKER_RESTARTED_LOG ?? '/dev/null';
const ROOM = 'room3'; /* a room every broker starts with */
const NOT_RECOVERED = 'Some messages sent while you were disconnected could not be recovered.';

/* Between the broker's death and the front-end's re-sync, a refused handshake is possible. */
const HANDSHAKE_FAILED = /^WebSocket connection to 'wss?:\/\/[^']+\/ws\/[^']+' failed/;

async function brokerEpoch() {
	const response = await fetch(new URL('api/health', BASE_URL), { signal: AbortSignal.timeout(3000) });
	const body = await response.json();
	return response.ok ? body.broker?.epoch ?? null : null;
}

async function waitUntil(what, check, timeoutMs) {
	const deadline = Date.now() + timeoutMs;
	while (Date.now() < deadline) {
		if (await check().catch(() => false)) return;
		await new Promise((resolve) => setTimeout(resolve, 100));
	}
	throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

describe('madang-broker restarted mid-chat', () => {
	let browser;
	let dora;
	let eli;

	before(async () => {
		assert.ok(BROKER_PID > 0 && BROKER_CMD.length > 0 && BROKER_SOCKET && PIDFILE, 'the suite passes the broker PID and command');
		browser = await launch();
		dora = await openPage(browser, { viewport: DESKTOP, locale: 'en-US' });
		eli = await openPage(browser, { viewport: PHONE, locale: 'en-US' });
		await joinRoom(dora, ROOM, 'dora');
		await joinRoom(eli, ROOM, 'eli');
		await send(dora, 'before the broker restart');
		await messagesWithText(eli, 'before the broker restart').waitFor();
	});

	after(async () => {
		await browser?.close();
	});

	it('survives the restart: connected again, members intact, "not recovered" only if the epoch changed', async () => {
		for (const page of [dora, eli]) page.allowedConsole.push(HANDSHAKE_FAILED);
		const before = await brokerEpoch();
		process.kill(BROKER_PID, 'SIGKILL');
		await waitUntil('the api to notice the broker is gone', async () => (await brokerEpoch()) === null, 10000);

		const out = openSync(BROKER_LOG, 'a');
		const child = spawn(BROKER_CMD[0], BROKER_CMD.slice(1), { stdio: ['ignore', out, out] });
		writeFileSync(PIDFILE, `${child.pid}\n`);
		child.unref(); /* it outlives this file; 50-e2e.sh stops it by the PID written above */
		await waitUntil('the new broker', async () => existsSync(BROKER_SOCKET) && (await brokerEpoch()) !== null, 10000);
		const afterEpoch = await brokerEpoch();

		for (const page of [dora, eli]) await waitConnected(page, 30000);
		const notice = (page) => page.locator('#messages > li.warning').filter({ hasText: NOT_RECOVERED });
		if (afterEpoch !== before) {
			for (const page of [dora, eli]) await notice(page).waitFor({ timeout: 15000 });
		}
		await send(eli, 'after the broker restart');
		await messagesWithText(dora, 'after the broker restart').waitFor({ timeout: 10000 });
		await send(dora, 'still here');
		await messagesWithText(eli, 'still here').waitFor();
		await dora.waitForTimeout(500);
		for (const page of [dora, eli]) {
			assert.equal(await messagesWithText(page, 'after the broker restart').count(), 1);
			assert.equal(await messagesWithText(page, 'still here').count(), 1);
			assert.equal(await notice(page).count(), afterEpoch !== before ? 1 : 0);
			assert.equal(await page.locator('#messages > li.pending').count(), 0);
		}
		await dora.locator('#member-list .member-btn', { hasText: 'eli' }).waitFor();
		assert.equal(await dora.locator('#members-heading').textContent(), 'Members (2)');
		assert.equal(await eli.locator('#members-toggle').getAttribute('data-count'), '2');
	});

	it('had no console errors besides refused handshakes, no page errors, no dialogs', () => {
		assertNoProblems(dora, eli);
	});
});
