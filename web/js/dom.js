// dom.js — the one way this client builds DOM: elements and text nodes, never HTML strings, so
// that no user-supplied string is ever parsed as markup (and the strict CSP needs no exceptions).

/* el('li', {class: 'message', data: {seq: 4}, attrs: {role: 'note'}, text: 'hi'}, child, …) */
export function el(tag, options = {}, ...children) {
	const node = document.createElement(tag);
	if (options.class) node.className = options.class;
	if (options.text !== undefined) node.textContent = String(options.text);
	for (const [name, value] of Object.entries(options.attrs ?? {})) {
		if (value !== undefined && value !== null && value !== false) node.setAttribute(name, value === true ? '' : String(value));
	}
	for (const [name, value] of Object.entries(options.data ?? {})) node.dataset[name] = String(value);
	for (const child of children) {
		if (child !== null && child !== undefined && child !== false) {
			node.append(child instanceof Node ? child : document.createTextNode(String(child)));
		}
	}
	return node;
}

export function clear(node) {
	node.replaceChildren();
}

export function byId(id) {
	const node = document.getElementById(id);
	if (!node) throw new Error(`index.html has no element #${id}`);
	return node;
}
