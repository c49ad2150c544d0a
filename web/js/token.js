// token.js — the access token (a JWT) of a server run with --jwt-secret-file, as the client sees
// it: an opaque string from the deployer's hook (config.js), of which it reads only the expiry to
// know when to ask for a new one. It never checks the signature: the server does. Pure.

/* Ask for a new token this long before the old one expires (or at half its remaining life when
 * that is shorter), so a reconnect never presents an expired token. */
export const TOKEN_RENEW_AHEAD_MS = 60000;

/* The `exp` claim of a JWT in milliseconds since the epoch, or null when the token has none or
 * cannot be read. */
export function tokenExpiry(token) {
	if (typeof token !== 'string') return null;
	const parts = token.split('.');
	if (parts.length !== 3) return null;
	try {
		const b64 = parts[1].replace(/-/g, '+').replace(/_/g, '/');
		const json = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
		const exp = JSON.parse(json)?.exp;
		return Number.isFinite(exp) ? exp * 1000 : null;
	} catch {
		return null;
	}
}

/* When to renew a token obtained at `now`: null when it does not expire. */
export function renewAt(token, now) {
	const exp = tokenExpiry(token);
	if (exp === null) return null;
	const left = exp - now;
	return now + Math.max(0, left - Math.min(TOKEN_RENEW_AHEAD_MS, left / 2));
}
