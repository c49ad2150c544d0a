// links.js — finds web addresses in message text, so the list can make them clickable. Only
// http: and https: addresses become links; everything else stays text. Pure: it returns pieces,
// the caller builds elements (textContent and a safe <a>, never markup).

const URL_RE = /\bhttps?:\/\/[^\s<>"]+/giu;
const TRAILING = new Set([...".,;:!?'’”)]}>"]); /* sentence punctuation after an address is not part of it */

/* The address without the punctuation that ends the sentence around it; a closing parenthesis
 * stays when it closes one opened inside the address (wiki-style links). */
function trimTrailing(candidate) {
	let end = candidate.length;
	while (end > 0 && TRAILING.has(candidate[end - 1])) {
		if (candidate[end - 1] === ')') {
			const inside = candidate.slice(0, end);
			if (inside.split('(').length > inside.split(')').length - 1) break;
		}
		end -= 1;
	}
	return candidate.slice(0, end);
}

/* splitLinks('see https://x.org/a.') -> [{text: 'see '}, {text: 'https://x.org/a', href: 'https://x.org/a'}, {text: '.'}] */
export function splitLinks(text) {
	const pieces = [];
	let last = 0;
	for (const match of String(text).matchAll(URL_RE)) {
		const candidate = trimTrailing(match[0]);
		let href = null;
		try {
			const url = new URL(candidate);
			if ((url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '') href = url.href;
		} catch {
			href = null;
		}
		if (href === null) continue;
		if (match.index > last) pieces.push({ text: text.slice(last, match.index) });
		pieces.push({ text: candidate, href });
		last = match.index + candidate.length;
	}
	if (last < text.length || pieces.length === 0) pieces.push({ text: text.slice(last) });
	return pieces;
}
