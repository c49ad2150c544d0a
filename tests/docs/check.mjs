// check.mjs — the documentation points at things that exist (issue 19, item 6). Prints one line
// per finding, "ok <what>" or "bad <what>", for tests/suites/06-docs.sh:
//  * every relative link of README.md and docs/*.md reaches a file, and its #anchor a heading
//    of that file (GitHub's heading ids);
//  * every source file README.md names in backquotes exists: a path from the repository root
//    (`ws-frontend/conn.c`), or a bare name (`bucket.c`) found in one of the source folders.
//    A newcomer follows a chat message through the tree by these names; a file renamed without
//    the README is caught here.
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

const root = process.argv[2] ?? '.';
const SOURCE_DIRS = ['broker', 'ws-frontend', 'rest-fcgi', 'common', 'web', 'tests', 'bench', 'tools', 'scripts', 'deploy', 'systemd', 'etc', 'mk', 'docs'];
const SOURCE_EXT = /\.(c|h|js|mjs|sh|mk|md|json|css|html|conf|env|service|socket|txt)$/;
const out = [];

/* GitHub's id for a heading: lower case, punctuation dropped (letters, digits, marks, '_',
 * '-' and spaces kept), spaces to '-'; a repeated id gets -1, -2… */
function headingIds(text) {
	const ids = new Set();
	const seen = new Map();
	let fenced = false;
	for (const line of text.split('\n')) {
		if (line.startsWith('```')) fenced = !fenced;
		const m = !fenced && line.match(/^#{1,6}\s+(.*?)\s*#*\s*$/);
		if (!m) continue;
		const base = m[1].toLowerCase().replace(/[^\p{L}\p{M}\p{N}_\- ]/gu, '').replace(/ /g, '-');
		const n = seen.get(base) ?? 0;
		seen.set(base, n + 1);
		ids.add(n === 0 ? base : `${base}-${n}`);
	}
	return ids;
}

/* The text outside fenced code blocks and inline code spans, where links are links. */
function prose(text) {
	return text.replace(/^```[\s\S]*?^```/gm, '').replace(/`[^`\n]*`/g, '');
}

function checkLinks(file) {
	const text = readFileSync(join(root, file), 'utf8');
	for (const m of prose(text).matchAll(/\]\(([^)\s]+)\)/g)) {
		const link = m[1];
		if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; /* http:, mailto: … */
		const [path, anchor] = link.split('#');
		const target = path === '' ? file : normalize(join(dirname(file), path));
		const what = `${file}: link ${link}`;
		if (!existsSync(join(root, target))) {
			out.push(`bad ${what}: no file ${target}`);
			continue;
		}
		if (anchor !== undefined && target.endsWith('.md') && !headingIds(readFileSync(join(root, target), 'utf8')).has(anchor)) {
			out.push(`bad ${what}: ${target} has no heading #${anchor}`);
			continue;
		}
		out.push(`ok ${what}`);
	}
}

/* Every file below the source folders, by base name. */
function sourceNames() {
	const names = new Set();
	const walk = (dir) => {
		for (const e of readdirSync(join(root, dir), { withFileTypes: true })) {
			if (e.name === 'node_modules' || e.name.startsWith('.')) continue;
			if (e.isDirectory()) walk(join(dir, e.name));
			else names.add(e.name);
		}
	};
	for (const d of SOURCE_DIRS) if (existsSync(join(root, d)) && statSync(join(root, d)).isDirectory()) walk(d);
	return names;
}

function checkNamedFiles(file) {
	const text = readFileSync(join(root, file), 'utf8').replace(/^```[\s\S]*?^```/gm, '');
	const names = sourceNames();
	const done = new Set();
	for (const m of text.matchAll(/`([A-Za-z0-9_.\/-]+)`/g)) {
		const name = m[1];
		if (!SOURCE_EXT.test(name) || name.startsWith('/') || done.has(name)) continue;
		done.add(name);
		const top = name.split('/')[0];
		if (name.includes('/') && !SOURCE_DIRS.includes(top) && !existsSync(join(root, top))) continue; /* not a tree path */
		const ok = name.includes('/') ? existsSync(join(root, name)) : names.has(name);
		out.push(`${ok ? 'ok' : 'bad'} ${file}: names ${name}${ok ? '' : ', which is not in the tree'}`);
	}
}

const docs = ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => relative(root, join(root, 'docs', f)))];
for (const f of docs) checkLinks(f);
checkNamedFiles('README.md');
process.stdout.write(out.join('\n') + '\n');
