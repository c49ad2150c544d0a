// api.js — the REST calls the client makes (DESIGN §4). Errors become ApiError with the HTTP
// status and the server's machine-readable code, so callers can explain them in words.

import { config } from './config.js';

export class ApiError extends Error {
	constructor(status, code, message) {
		super(message || code || `HTTP ${status}`);
		this.name = 'ApiError';
		this.status = status;
		this.code = code;
	}
}

const TIMEOUT_MS = 8000;

async function request(path, { method = 'GET', body, signal } = {}) {
	const timeout = AbortSignal.timeout(TIMEOUT_MS);
	const response = await fetch(`${config.apiBase}${path}`, {
		method,
		headers: body === undefined ? { Accept: 'application/json' }
			: { Accept: 'application/json', 'Content-Type': 'application/json' },
		body: body === undefined ? undefined : JSON.stringify(body),
		cache: 'no-store',
		signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
	});
	let data = null;
	try {
		data = await response.json();
	} catch {
		data = null; /* a proxy's HTML error page, an empty body */
	}
	if (!response.ok) {
		throw new ApiError(response.status, data?.error ?? null, data?.message ?? response.statusText);
	}
	return data;
}

/* [{id, name, users_count}] in the server's order. */
export async function listRooms(signal) {
	const data = await request('rooms', { signal });
	if (!data || !Array.isArray(data.rooms)) throw new ApiError(0, 'bad_response', 'unexpected reply');
	return data.rooms.filter((r) => r && typeof r.id === 'string');
}

/* {id, name, users_count, …} of one room; ApiError 404 when there is none. */
export async function getRoom(id, signal) {
	const data = await request(`rooms/${encodeURIComponent(id)}`, { signal });
	if (!data || typeof data.name !== 'string') throw new ApiError(0, 'bad_response', 'unexpected reply');
	return data;
}

export async function createRoom(id, name) {
	return request('rooms', { method: 'POST', body: { id, name } });
}
