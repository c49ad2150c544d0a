// details.test.mjs — the smaller things of issue 24 item 7 and its "worth doing" list, in Chromium:
// the room's name on the nickname form after a direct link, a language switch that redraws earlier
// notices and times, contrast of at least 4.5:1 on every text (placeholders and own bubbles
// included) in light and dark, links in messages, the history folded and divided from what is
// live, dates on times that are not today, and the hint to wait when a nickname is taken.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';

import {
	assertNoProblems, createRoomByApi, joinRoom, launch, messagesWithText, noticesWithText, openPage, send,
	uniqueRoomId, waitConnected,
} from './lib.mjs';

/* In the page: every visible text in `root` (and the textarea's placeholder) whose contrast with
 * what is behind it is under `min`, as [description, ratio]. Colours are composed from the
 * computed styles: the element's colour (its alpha times the opacity of it and its ancestors)
 * over the first opaque background behind it (semi-transparent ones composed on the way). */
function lowContrast({ root, min }) {
	const parse = (text) => {
		const m = /rgba?\(([\d.]+)[ ,]+([\d.]+)[ ,]+([\d.]+)(?:[ ,/]+([\d.]+%?))?\)/.exec(text);
		if (!m) return { r: 0, g: 0, b: 0, a: 0 };
		let a = m[4] === undefined ? 1 : Number.parseFloat(m[4]);
		if (m[4]?.endsWith('%')) a /= 100;
		return { r: Number(m[1]), g: Number(m[2]), b: Number(m[3]), a };
	};
	const over = (top, bottom) => ({
		r: top.r * top.a + bottom.r * (1 - top.a), g: top.g * top.a + bottom.g * (1 - top.a),
		b: top.b * top.a + bottom.b * (1 - top.a), a: 1,
	});
	const background = (node) => {
		const layers = [];
		for (let n = node; n; n = n.parentElement) {
			const c = parse(getComputedStyle(n).backgroundColor);
			if (c.a > 0) layers.push(c);
			if (c.a >= 1) break;
		}
		let color = { r: 255, g: 255, b: 255, a: 1 };
		for (const layer of layers.reverse()) color = over(layer, color);
		return color;
	};
	const opacity = (node) => {
		let value = 1;
		for (let n = node; n; n = n.parentElement) value *= Number.parseFloat(getComputedStyle(n).opacity);
		return value;
	};
	const luminance = ({ r, g, b }) => {
		const lin = (v) => ((v /= 255) <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4);
		return 0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b);
	};
	const ratio = (fg, bg) => {
		const [l1, l2] = [luminance(fg), luminance(bg)].sort((x, y) => y - x);
		return (l1 + 0.05) / (l2 + 0.05);
	};
	const check = (node, colorText, what, bad) => {
		const bg = background(node);
		const fg = parse(colorText);
		fg.a *= opacity(node);
		const value = ratio(over(fg, bg), bg);
		if (value < min) bad.push([what, Math.round(value * 100) / 100]);
	};
	const bad = [];
	for (const node of document.querySelector(root).querySelectorAll('*')) {
		if (!node.checkVisibility?.()) continue;
		const own = [...node.childNodes].some((c) => c.nodeType === Node.TEXT_NODE && c.textContent.trim() !== '');
		if (own) check(node, getComputedStyle(node).color, `${node.tagName.toLowerCase()}.${node.className} "${node.textContent.trim().slice(0, 30)}"`, bad);
	}
	const input = document.getElementById('message-input');
	check(input, getComputedStyle(input, '::placeholder').color, `placeholder "${input.placeholder}"`, bad);
	return bad;
}

describe('the smaller things', () => {
	let browser;
	let alice;
	let bob;
	const roomId = uniqueRoomId('details');
	const roomName = `작은 것들 ${roomId.slice(-4)}`;

	before(async () => {
		await createRoomByApi(roomId, roomName);
		browser = await launch();
	});

	after(async () => {
		await browser?.close();
	});

	it('names the room on the nickname form after a direct link', async () => {
		alice = await openPage(browser, { locale: 'ko-KR', hash: `#/room/${roomId}` });
		await alice.locator('#join-heading').filter({ hasText: `“${roomName}” 참여하기` }).waitFor();
		assert.equal(await alice.title(), `${roomName} · 마당`);
		await alice.locator('#nickname').fill('alice');
		await alice.locator('#nickname').press('Enter');
		await waitConnected(alice);
		assert.equal(await alice.locator('#chat-title').textContent(), roomName);
	});

	it('folds a run of joins and leaves in the history and divides it from what is live', async () => {
		const visitor = await openPage(browser, { locale: 'en-US' });
		for (const name of ['v1', 'v2']) {
			await joinRoom(visitor, roomId, name);
			await visitor.locator('#leave-btn').click();
			await noticesWithText(alice, `${name}님이 퇴장했습니다.`).waitFor();
		}
		await send(alice, 'see https://example.com/a_b?c=1. and javascript:alert(1)');
		bob = await openPage(browser, { locale: 'en-US', colorScheme: 'dark' });
		await joinRoom(bob, roomId, 'bob');
		const fold = bob.locator('#messages > li.fold');
		await fold.waitFor();
		/* alice joined, v1 joined, v1 left, v2 joined, v2 left: five notices in a row */
		assert.equal(await fold.locator('summary').textContent(), '5 joins and leaves');
		assert.equal(await fold.locator('.fold-items > li').count(), 5);
		assert.equal(await fold.locator('.fold-items > li').first().isVisible(), false, 'closed until opened');
		await fold.locator('summary').click();
		assert.equal(await fold.locator('.fold-items > li').first().isVisible(), true);
		const order = await bob.evaluate(() => [...document.querySelectorAll('#messages > li')].map((li) => li.className));
		const divider = order.indexOf('divider');
		assert.ok(divider > order.indexOf('message system fold'), `divider after the history: ${order}`);
		assert.ok(order.slice(0, divider).some((c) => c.startsWith('message received')), 'the message is history');
		assert.equal(await noticesWithText(bob, 'bob joined.').count(), 1, 'the live join after the divider');
		assert.equal(order.length - 1, order.lastIndexOf('message system'));
		assertNoProblems(visitor);
	});

	it('makes http(s) addresses links, and nothing else', async () => {
		const text = bob.locator('#messages > li.received .text').filter({ hasText: 'example.com' });
		const link = text.locator('a');
		assert.equal(await link.count(), 1);
		assert.equal(await link.getAttribute('href'), 'https://example.com/a_b?c=1');
		assert.equal(await link.textContent(), 'https://example.com/a_b?c=1');
		assert.equal(await link.getAttribute('rel'), 'noopener noreferrer nofollow');
		assert.equal(await link.getAttribute('target'), '_blank');
		assert.equal(await text.textContent(), 'see https://example.com/a_b?c=1. and javascript:alert(1)');
	});

	it('redraws earlier notices and times in the new language', async () => {
		await noticesWithText(alice, 'bob님이 입장했습니다.').waitFor();
		await alice.locator('#lang-switch').click();
		await noticesWithText(alice, 'bob joined.').waitFor();
		assert.equal(await noticesWithText(alice, 'bob님이 입장했습니다.').count(), 0);
		const times = await alice.evaluate(() => [...document.querySelectorAll('#messages time[datetime]')].map((node) => [
			node.textContent,
			new Intl.DateTimeFormat('en', { hour: '2-digit', minute: '2-digit' }).format(new Date(node.getAttribute('datetime'))),
		]));
		assert.ok(times.length >= 3);
		for (const [shown, english] of times) assert.equal(shown, english);
		await alice.locator('#lang-switch').click();
		await noticesWithText(alice, 'bob님이 입장했습니다.').waitFor();
	});

	it('shows the date on a time that is not today', async () => {
		const shown = await alice.evaluate(async () => {
			const { MessageList } = await import('./js/message-list.js');
			const list = new MessageList({ list: document.createElement('ol'), newButton: document.createElement('button'), onRetry() {} });
			const now = new Date();
			const lastWeek = new Date(now.getTime() - 7 * 86400000);
			const lastYear = new Date(now.getFullYear() - 1, 5, 15, 9, 30);
			return [now, lastWeek, lastYear].map((d) => list.timeNode(d.toISOString()).textContent)
				.concat([lastWeek.getDate(), lastYear.getFullYear()]);
		});
		const [today, week, year, day, yearNumber] = shown;
		assert.doesNotMatch(today, /월|\d{4}/);
		assert.match(week, new RegExp(`${day}일`));
		assert.match(year, new RegExp(String(yearNumber)));
	});

	it('loads earlier messages on request, above, in order, keeping the view where it was', async () => {
		const texts = Array.from({ length: 60 }, (_, i) => `old ${String(i).padStart(2, '0')}`);
		for (const text of texts) await send(alice, text); /* the outbox paces them */
		await messagesWithText(alice, 'old 59').first().waitFor({ timeout: 20000 });
		await alice.locator('#messages > li.pending').first().waitFor({ state: 'detached', timeout: 20000 });
		const late = await openPage(browser, { locale: 'en-US' });
		await joinRoom(late, roomId, 'late');
		/* The joined view comes before the last frames of history have been drawn. */
		await messagesWithText(late, 'old 59').first().waitFor({ timeout: 10000 });
		const shown = () => late.evaluate(() => [...document.querySelectorAll('#messages > li.message .text')]
			.map((node) => node.textContent).filter((text) => text.startsWith('old ')));
		const before = await shown();
		assert.ok(before.length < 60 && before.at(-1) === 'old 59', `the joined history holds ${before.length}`);
		const button = late.locator('#messages > li.load-earlier button');
		assert.equal(await button.textContent(), 'Load earlier messages');
		await button.click();
		await late.waitForFunction(() => [...document.querySelectorAll('#messages > li.message .text')]
			.filter((node) => node.textContent.startsWith('old ')).length === 60);
		assert.deepEqual(await shown(), texts);
		assert.equal(await late.evaluate(() => document.querySelector('#messages > li').className), 'load-earlier');
		assertNoProblems(late);
	});

	it('has a contrast of at least 4.5:1 on every text, light and dark, private tint included', async () => {
		await send(bob, 'from bob');
		await messagesWithText(alice, 'from bob').waitFor();
		for (const page of [alice, bob]) {
			await page.locator('#messages > li.sent:not(.pending)').first().waitFor();
			assert.deepEqual(await page.evaluate(lowContrast, { root: '#view-chat', min: 4.5 }), [], 'plain');
			const other = page === alice ? 'bob' : 'alice';
			await page.locator('#recipient').selectOption(other);
			assert.deepEqual(await page.evaluate(lowContrast, { root: '#view-chat', min: 4.5 }), [], 'private tint');
			await page.locator('#whisper-chip button').click();
		}
	});

	it('suggests waiting a few seconds when the nickname is taken', async () => {
		const twin = await openPage(browser, { locale: 'en-US' });
		await twin.locator(`.room-item[data-room-id="${roomId}"] .join-btn`).click();
		await twin.locator('#nickname').fill('bob');
		await twin.locator('#nickname').press('Enter');
		await twin.locator('#nick-error').filter({ hasText: 'wait a few seconds and try again' }).waitFor();
		assertNoProblems(twin, alice, bob);
	});
});
