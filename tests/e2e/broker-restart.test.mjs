// broker-restart.test.mjs — madang-broker dies (SIGKILL by PID) and is started again while two
// people chat, twice: the in-memory broker of the suite comes back with durable history (--data,
// a new epoch: the history is gone), then that durable broker dies and comes back from its
// database (same epoch: nothing is lost). DESIGN §5: the front-end re-syncs its members and the
// clients keep their sockets. Each time the pages must end up connected with the member list
// intact, say "could not be recovered" exactly when the epoch changed, and chat on with every
// message shown once. Run by tests/suites/50-e2e.sh, which passes the broker's PID and options;
// tests/lib/stack.mjs restarts it and records each new PID, which the suite ends.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { brokerFromEnv, restartBroker as restartStackBroker } from '../lib/stack.mjs';

import {
	BASE_URL, DESKTOP, PHONE, assertNoProblems, describePage, joinRoom, launch, messagesWithText, openPage, send, waitConnected,
} from './lib.mjs';

const BROKER_DATA = process.env.MADANG_BROKER_DATA;
const ROOM = 'room3'; /* a room every broker starts with */
const NOT_RECOVERED = 'Some messages sent while you were disconnected could not be recovered.';

/* Between the broker's death and the front-end's re-sync, a refused handshake is possible. */
const HANDSHAKE_FAILED = /^WebSocket connection to 'wss?:\/\/[^']+\/ws([/?][^']*)?' failed/;

/* The broker's epoch from madang-api's health, null when no broker answers. With no broker the
 * api waits --broker-wait-ms (5 s) for one before its 503, so the request may take that long. */
async function brokerEpoch() {
	const response = await fetch(new URL('api/health', BASE_URL), { signal: AbortSignal.timeout(8000) });
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
	let broker = brokerFromEnv();

	before(async () => {
		assert.ok(broker.pid > 0 && BROKER_DATA, 'the suite passes the broker PID, options and a data directory');
		browser = await launch();
		dora = await openPage(browser, { viewport: DESKTOP, locale: 'en-US' });
		eli = await openPage(browser, { viewport: PHONE, locale: 'en-US' });
		for (const page of [dora, eli]) page.allowedConsole.push(HANDSHAKE_FAILED);
		await joinRoom(dora, ROOM, 'dora');
		await joinRoom(eli, ROOM, 'eli');
		await send(dora, 'before the broker restart');
		await messagesWithText(eli, 'before the broker restart').waitFor();
	});

	after(async () => {
		await browser?.close();
	});

	/* Kills the running broker, starts it again with --data, waits until the api sees it.
	 * Returns [epoch before, epoch after]. */
	async function restartBroker() {
		const before = await brokerEpoch();
		await broker.kill9();
		await waitUntil('the api to notice the broker is gone', async () => (await brokerEpoch()) === null, 15000);
		/* The same command line plus --data (tests/lib/stack.mjs); it outlives this file, the suite ends it. */
		broker = (await restartStackBroker(broker, { data: BROKER_DATA, sync: 'full' })).detach();
		await waitUntil('the new broker', async () => (await brokerEpoch()) !== null, 10000);
		return [before, await brokerEpoch()];
	}

	const notices = (page) => page.locator('#messages > li.warning').filter({ hasText: NOT_RECOVERED });

	/* Both pages connected, chatting both ways, every message once, members intact. A failure
	 * says what each page showed. */
	async function checkChat(tag, expectedNotices) {
		try {
			await exchange(tag, expectedNotices);
		} catch (err) {
			err.message += `\n${await describePage(dora, 'dora')}\n${await describePage(eli, 'eli')}`;
			throw err;
		}
	}

	async function exchange(tag, expectedNotices) {
		for (const page of [dora, eli]) await waitConnected(page, 30000);
		if (expectedNotices > 0) {
			for (const page of [dora, eli]) await notices(page).nth(expectedNotices - 1).waitFor({ timeout: 15000 });
		}
		await send(eli, `eli ${tag}`);
		await messagesWithText(dora, `eli ${tag}`).waitFor({ timeout: 10000 });
		await send(dora, `dora ${tag}`);
		await messagesWithText(eli, `dora ${tag}`).waitFor();
		await dora.waitForTimeout(500);
		for (const page of [dora, eli]) {
			assert.equal(await messagesWithText(page, `eli ${tag}`).count(), 1);
			assert.equal(await messagesWithText(page, `dora ${tag}`).count(), 1);
			assert.equal(await messagesWithText(page, 'before the broker restart').count(), 1);
			assert.equal(await notices(page).count(), expectedNotices);
			assert.equal(await page.locator('#messages > li.pending').count(), 0);
		}
		await dora.locator('#member-list .member-btn', { hasText: 'eli' }).waitFor();
		assert.equal(await dora.locator('#members-heading').textContent(), 'Members (2)');
		assert.equal(await eli.locator('#members-toggle').getAttribute('data-count'), '2');
	}

	it('in-memory broker back with durable history: new epoch, "could not be recovered", chat goes on', async () => {
		const [before, after] = await restartBroker();
		assert.notEqual(after, before, 'an in-memory broker cannot keep its epoch');
		await checkChat('after the first restart', 1);
	});

	it('durable broker back from its database: same epoch, no new notice, nothing doubled', async () => {
		const [before, after] = await restartBroker();
		assert.equal(after, before, 'a durable broker keeps its epoch');
		await checkChat('after the second restart', 1);
		for (const page of [dora, eli]) {
			assert.equal(await messagesWithText(page, 'eli after the first restart').count(), 1);
		}
	});

	it('had no console errors besides refused handshakes, no page errors, no dialogs', () => {
		assertNoProblems(dora, eli);
	});
});
