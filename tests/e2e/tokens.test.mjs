// tokens.test.mjs — the client against madang-ws with --jwt-secret-file (issue 25 finding 8), behind
// its own nginx (MADANG_E2E_JWT_URL, tests/suites/50-e2e.sh). Each page gets the deployer's hook
// of config.js, `globalThis.madangAuth.getToken`, from an init script; the hook mints real tokens
// with build/bin/madang-token, with the lifetimes the test gives it.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';

import {
	assertNoProblems, createRoomByApi, joinRoom, launch, messagesWithText, noticesWithText, openPage, send,
	uniqueRoomId, waitConnected,
} from './lib.mjs';

const JWT_URL = process.env.MADANG_E2E_JWT_URL;

/* A token living ttl seconds; madang-token makes only live ones, so an expired one (ttl <= 0) is
 * signed here with the same secret. */
function mint(name, ttl) {
	if (ttl <= 0) {
		const b64 = (obj) => Buffer.from(JSON.stringify(obj)).toString('base64url');
		const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ name, exp: Math.floor(Date.now() / 1000) + ttl })}`;
		const secret = readFileSync(process.env.MADANG_JWT_SECRET_FILE, 'utf8').trim();
		return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
	}
	return execFileSync(process.env.MADANG_TOKEN_BIN,
		['--secret-file', process.env.MADANG_JWT_SECRET_FILE, '--name', name, '--ttl', String(ttl)]).toString().trim();
}

/* A page on the token site whose hook hands out tokens living ttls[0], ttls[1], … seconds (the
 * last one repeated); page.tokens() lists what the hook was asked. */
async function tokenPage(browser, ttls) {
	const page = await openPage(browser, {
		base: JWT_URL,
		setup: async (context) => {
			await context.exposeFunction('mintTestToken', (user, ttl) => mint(user, ttl));
			await context.addInitScript((lifetimes) => {
				const asked = [];
				globalThis.testTokensAsked = asked;
				globalThis.madangAuth = {
					getToken: async ({ user, room }) => {
						const ttl = lifetimes[Math.min(asked.length, lifetimes.length - 1)];
						asked.push({ user, room, ttl });
						return globalThis.mintTestToken(user, ttl);
					},
				};
			}, ttls);
		},
	});
	page.tokens = () => page.evaluate(() => globalThis.testTokensAsked);
	return page;
}

describe('tokens from the deployer hook', () => {
	let browser;
	let tom;
	const roomId = uniqueRoomId('jwt');

	before(async () => {
		assert.ok(JWT_URL, 'MADANG_E2E_JWT_URL is set by tests/suites/50-e2e.sh');
		await createRoomByApi(roomId, `Tokens ${roomId.slice(-4)}`);
		browser = await launch();
		tom = await tokenPage(browser, [3600]);
		await joinRoom(tom, roomId, 'tom');
	});

	after(async () => {
		await browser?.close();
	});

	it('joins with the hook token, never with the room, nickname or resume key in the address', async () => {
		const sockets = [];
		tom.on('websocket', (ws) => sockets.push(ws.url()));
		const asked = await tom.tokens();
		assert.deepEqual(asked.map(({ user, room }) => [user, room]), [['tom', roomId]]);
		await send(tom, 'signed in');
		await messagesWithText(tom, 'signed in').waitFor();
		await tom.locator('#leave-btn').click();
		await joinRoom(tom, roomId, 'tom');
		assert.equal(sockets.length, 1);
		const url = new URL(sockets[0]);
		assert.equal(url.pathname, '/ws');
		assert.deepEqual([...url.searchParams.keys()], ['token']);
	});

	it('after a close 4001 "expired" gets a new token and comes in, instead of giving up', async () => {
		const tina = await tokenPage(browser, [-100, 3600]); /* the first one expired long ago */
		await joinRoom(tina, roomId, 'tina');
		assert.deepEqual((await tina.tokens()).map((t) => t.ttl), [-100, 3600]);
		await send(tina, 'hello with a fresh token');
		await messagesWithText(tom, 'hello with a fresh token').waitFor();
		assertNoProblems(tina);
	});

	it('renews the token before it expires, without a leave or join for the others', async () => {
		const rita = await tokenPage(browser, [4]); /* renewed at half its life: every 2 s */
		await joinRoom(rita, roomId, 'rita');
		await noticesWithText(tom, 'rita joined.').waitFor();
		await rita.waitForTimeout(5500);
		assert.ok((await rita.tokens()).length >= 3, `asked ${(await rita.tokens()).length} times in 5.5 s`);
		assert.equal(await rita.locator('#conn-state').getAttribute('data-state'), 'connected');
		await send(rita, 'still here after renewals');
		await messagesWithText(tom, 'still here after renewals').waitFor();
		assert.equal(await noticesWithText(tom, 'rita left.').count(), 0);
		assert.equal(await noticesWithText(tom, 'rita joined.').count(), 1);
		assertNoProblems(rita);
	});

	it('takes a token handed in the address fragment, and takes it out of the address', async () => {
		const fran = await openPage(browser, { base: JWT_URL, hash: `#token=${mint('fran', 600)}` });
		assert.equal(await fran.evaluate(() => location.hash), '', 'not left in the address or the history');
		await joinRoom(fran, roomId, 'fran');
		await send(fran, 'in by fragment');
		await messagesWithText(tom, 'in by fragment').waitFor();
		await fran.reload(); /* kept for the tab; the reload comes back to the room's form */
		await fran.locator('#nickname').fill('fran');
		await fran.locator('#nickname').press('Enter');
		await waitConnected(fran);
		assertNoProblems(fran);
	});

	it('had no console errors, page errors or dialogs', () => {
		assertNoProblems(tom);
	});
});
