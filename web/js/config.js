// config.js — where the client finds the server, read from <meta> tags in index.html so that a
// deployment under another path changes only the HTML, never the code, and where it gets its
// access token when the server wants one.
//
//   <meta name="madang-api" content="/api/">      base of the REST API (DESIGN §4)
//   <meta name="madang-ws" content="/ws/">        base of the WebSocket endpoints (DESIGN §3)
//   <meta name="madang-poll-ms" content="3000">   room-list refresh interval while it is visible
//
// Tokens (madang-ws --jwt-secret-file; docs/web-client.md "Tokens"): the deployer's own script,
// loaded by index.html before js/app.js, sets
//
//   globalThis.madangAuth = { getToken: async ({ user, room }) => 'eyJ…' };
//
// and the client calls it before every connection whose token is missing or about to expire.
// Without a hook, a token handed in the address fragment (`…/#token=eyJ…`, e.g. by a login page
// redirecting back) is used; it cannot be renewed.

const TOKEN_KEY = 'madang.token'; /* sessionStorage: a fragment token survives a reload of the tab */

function meta(name, fallback) {
	const node = document.querySelector(`meta[name="${name}"]`);
	const value = node?.getAttribute('content')?.trim();
	return value ? value : fallback;
}

function withSlash(path) {
	return path.endsWith('/') ? path : `${path}/`;
}

export const config = Object.freeze({
	apiBase: withSlash(meta('madang-api', '/api/')),
	wsBase: withSlash(meta('madang-ws', '/ws/')),
	pollMs: Math.max(1000, Number.parseInt(meta('madang-poll-ms', '3000'), 10) || 3000),
});

/* The multi-room WebSocket endpoint (`/ws`) on the page's own host, wss: when the page came over
 * https:. Rooms are joined by message, so no room, nickname or resume key is in the address;
 * only the token is, when there is one (the handshake has no other place for it). */
export function socketUrl(params = {}) {
	const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
	const url = new URL(config.wsBase.replace(/\/$/, ''), `${scheme}//${location.host}`);
	for (const [key, value] of Object.entries(params)) {
		if (value !== undefined && value !== null && value !== '') url.searchParams.set(key, String(value));
	}
	return url.href;
}

function session() {
	try {
		return globalThis.sessionStorage ?? null;
	} catch {
		return null; /* storage blocked */
	}
}

/* Takes a "#token=…" fragment out of the address (so it is not bookmarked or shared) and keeps
 * the token for this tab. Called once, before the address is routed. */
export function takeFragmentToken() {
	const match = /^#token=([A-Za-z0-9_.-]+)$/.exec(location.hash);
	if (!match) return;
	try {
		session()?.setItem(TOKEN_KEY, match[1]);
	} catch {
		/* storage full or blocked: the token is lost with the address */
	}
	history.replaceState(null, '', location.pathname + location.search);
}

/* The token for a connection of `user` to `room`: from the deployer's hook, else the fragment
 * token, else null (a server without --jwt-secret-file needs none). A hook that throws or returns
 * something other than a string counts as "no token". */
export async function getToken({ user, room }) {
	const hook = globalThis.madangAuth?.getToken;
	if (typeof hook === 'function') {
		try {
			const token = await hook({ user, room });
			return typeof token === 'string' && token !== '' ? token : null;
		} catch {
			return null;
		}
	}
	try {
		return session()?.getItem(TOKEN_KEY) ?? null;
	} catch {
		return null;
	}
}
