// noroom.test.mjs — a link to a room that does not exist, on a site whose broker runs without
// --allow-create (issue 24 item 6): the person is told in words that the room is gone, lands on
// the room list, and no room is created. The suite's own stack creates rooms by joins, so this
// file starts a stack of its own (tests/lib/stack.mjs: broker, madang-api, madang-ws and nginx
// on free 127.0.0.1 ports; their PIDs go to MADANG_STACK_PIDDIR, which the suite's cleanup ends).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import { startApi, startBroker, startNginx, startWs, stopAll } from '../lib/stack.mjs';
import { assertNoProblems, launch, openPage } from './lib.mjs';

describe('a link to a room that does not exist (broker without --allow-create)', () => {
	let browser;
	let site;

	before(async () => {
		const broker = await startBroker();
		const api = await startApi(broker);
		const ws = await startWs(broker, { id: 'ws-noroom' });
		const nginx = await startNginx({ api: api.port, ws: [ws.port] });
		site = `${nginx.http}/`;
		browser = await launch();
	});

	after(async () => {
		await browser?.close();
		await stopAll();
	});

	for (const [locale, words] of [['ko-KR', '“nowhere-7” 채팅방이 더 이상 없습니다.'], ['en-US', 'The room “nowhere-7” no longer exists.']]) {
		it(`says so in words (${locale}), shows the room list, and creates nothing`, async () => {
			const page = await openPage(browser, { base: site, hash: '#/room/nowhere-7', locale });
			const nick = page.locator('#nickname');
			const notice = page.locator('#rooms-notice', { hasText: words });
			/* Either the join form comes first (the room's name unknown), or the list at once. */
			await Promise.race([nick.waitFor(), notice.waitFor()]);
			if (await nick.isVisible()) {
				await nick.fill('walker');
				await nick.press('Enter');
			}
			await notice.waitFor();
			assert.equal(await page.locator('#view-rooms').isVisible(), true);
			const list = await (await fetch(`${site}api/rooms`)).json();
			assert.ok(!list.rooms.some((r) => r.id === 'nowhere-7'), `no room was created: ${JSON.stringify(list.rooms)}`);
			/* Chromium logs the 404 of GET /api/rooms/nowhere-7 (the join form asking for the room's
			 * name) as a console error while the page loads; nothing else may appear. */
			page.problems = page.problems.filter((p) => !/status of 404 \(Not Found\)/.test(p));
			assertNoProblems(page);
			await page.context().close();
		});
	}
});
