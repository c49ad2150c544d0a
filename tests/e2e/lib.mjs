// lib.mjs — shared helpers of the browser tests: the stack's address (from tests/suites/50-e2e.sh),
// launching Debian's Chromium through playwright-core with the flags that keep it off the network,
// pages that record every console error, page error and dialog, and the steps every test repeats.
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { chromium } from 'playwright-core';

export const BASE_URL = required('MADANG_E2E_URL');
export const SCREENSHOTS = process.env.MADANG_SCREENSHOTS ?? join(process.env.MADANG_BUILD ?? 'build', 'screenshots');
export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1280, height: 800 };

function required(name) {
	const value = process.env[name];
	if (!value) throw new Error(`${name} is not set: run the browser tests through tests/suites/50-e2e.sh`);
	return value;
}

export async function launch() {
	return chromium.launch({
		executablePath: process.env.MADANG_CHROMIUM ?? '/usr/bin/chromium',
		headless: true,
		timeout: 30000,
		args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
			'--disable-component-update', '--disable-sync'],
	});
}

/* A fresh context (own storage) with one page that records what must never happen. base: another
 * site than BASE_URL; setup(context): runs before the page loads (init scripts, exposed functions). */
export async function openPage(browser, { viewport = DESKTOP, locale = 'en-US', colorScheme = 'light', hash = '',
	base = BASE_URL, setup = null } = {}) {
	const context = await browser.newContext({ viewport, locale, colorScheme, serviceWorkers: 'block' });
	context.setDefaultTimeout(10000);
	if (setup) await setup(context);
	const page = await context.newPage();
	page.problems = [];
	page.allowedConsole = [];
	page.on('console', (msg) => {
		if (msg.type() !== 'error') return;
		const text = msg.text();
		if (page.allowedConsole.some((re) => re.test(text))) return;
		page.problems.push(`console error: ${text}`);
	});
	page.on('pageerror', (err) => page.problems.push(`page error: ${err.message}`));
	page.on('dialog', async (dialog) => {
		page.problems.push(`dialog (${dialog.type()}): ${dialog.message()}`);
		await dialog.dismiss();
	});
	await page.goto(`${base}${hash}`);
	await page.locator('.view:not([hidden])').waitFor(); /* all views start hidden; app.js shows one */
	return page;
}

export function assertNoProblems(...pages) {
	assert.deepEqual(pages.flatMap((p) => p.problems), []);
}

/* A room id no other test (or earlier run against the same broker) uses. */
export function uniqueRoomId(tag) {
	return `${tag}-${process.pid}-${Date.now().toString(36)}`;
}

export async function createRoomByApi(id, name) {
	const response = await fetch(new URL('api/rooms', BASE_URL), {
		method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ id, name }),
		signal: AbortSignal.timeout(5000),
	});
	assert.equal(response.status, 201, `POST /api/rooms ${id}: ${await response.text()}`);
}

export function roomItem(page, roomId) {
	return page.locator(`.room-item[data-room-id="${roomId}"]`);
}

/* From the room list: pick the room, give the nickname, wait until the chat says connected. */
export async function joinRoom(page, roomId, nickname) {
	await roomItem(page, roomId).locator('.join-btn').click();
	await page.locator('#nickname').fill(nickname);
	await page.locator('#nickname').press('Enter');
	await waitConnected(page);
}

export async function waitConnected(page, timeout = 10000) {
	await page.locator('#conn-state[data-state="connected"]').waitFor({ timeout });
}

export async function send(page, text) {
	await page.locator('#message-input').fill(text);
	await page.locator('#message-input').press('Enter');
}

/* The chat items (not system notices) whose text is exactly `text`. */
export function messagesWithText(page, text) {
	return page.locator('#messages > li.message:not(.system) .text').filter({ hasText: exactly(text) });
}

export function noticesWithText(page, text) {
	return page.locator('#messages > li.message.system .text').filter({ hasText: exactly(text) });
}

function exactly(text) {
	return new RegExp(`^${text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
}

/* The member count a room list shows for roomId, as a number. */
export async function listedCount(page, roomId) {
	return Number(await roomItem(page, roomId).locator('.room-users').getAttribute('data-count'));
}

export async function waitForCount(page, roomId, n, timeout = 12000) {
	await roomItem(page, roomId).locator(`.room-users[data-count="${n}"]`).waitFor({ timeout });
}

/* A few lines on what a chat page shows, for failure messages: state and the last items. */
export async function describePage(page, name) {
	const summary = await page.evaluate(() => ({
		state: document.getElementById('conn-state')?.dataset.state,
		items: [...document.querySelectorAll('#messages > li')].slice(-12)
			.map((li) => `[${li.className}${li.dataset.state ? ` ${li.dataset.state}` : ''}] ${li.textContent.trim().slice(0, 80)}`),
	})).catch((err) => ({ state: `unreadable: ${err.message}`, items: [] }));
	return `${name}: ${summary.state}\n  ${summary.items.join('\n  ')}`;
}

export async function screenshot(page, name) {
	mkdirSync(SCREENSHOTS, { recursive: true });
	await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`) });
}
