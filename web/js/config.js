// config.js — where the client finds the server, read from <meta> tags in index.html so that a
// deployment under another path changes only the HTML, never the code.
//
//   <meta name="madang-api" content="/api/">      base of the REST API (DESIGN §4)
//   <meta name="madang-ws" content="/ws/">        base of the WebSocket endpoints (DESIGN §3)
//   <meta name="madang-poll-ms" content="3000">   room-list refresh interval while it is visible

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

/* The WebSocket URL of one room, on the page's own host: wss: when the page came over https:. */
export function roomSocketUrl(roomId, user, params = {}) {
	const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
	const url = new URL(`${config.wsBase}${encodeURIComponent(roomId)}/${encodeURIComponent(user)}`,
		`${scheme}//${location.host}`);
	for (const [key, value] of Object.entries(params)) {
		if (value !== undefined && value !== null && value !== '') url.searchParams.set(key, String(value));
	}
	return url.href;
}
