// The little XML S3 speaks: rendering answers from plain objects, and reading the few request bodies
// (DeleteObjects, CompleteMultipartUpload) — flat lists of elements, read with a bounded scan, not a parser.
type Value = string | number | boolean | Date | null | undefined | Node | Value[];
interface Node { [name: string]: Value }

const escape = (s: string) => s.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);

function render(name: string, v: Value): string {
  if (v === undefined || v === null) return '';
  if (Array.isArray(v)) return v.map((item) => render(name, item)).join('');
  if (v instanceof Date) return `<${name}>${v.toISOString()}</${name}>`;
  if (typeof v === 'object') return `<${name}>${Object.entries(v).map(([k, c]) => render(k, c)).join('')}</${name}>`;
  return `<${name}>${escape(String(v))}</${name}>`;
}

export function xml(root: string, body: Node): string {
  const inner = Object.entries(body).map(([k, c]) => render(k, c)).join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root} xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${inner}</${root}>`;
}

const unescape = (s: string) => s.replace(/&(lt|gt|amp|quot|apos|#x?[0-9a-f]+);/gi, (_m, e: string) => {
  const named: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };
  if (named[e.toLowerCase()]) return named[e.toLowerCase()];
  const code = e[1].toLowerCase() === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
  return Number.isFinite(code) && code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : '';
});

/** The text of each `<tag>…</tag>` (no attributes, no nesting of the same tag), in order. */
export function elements(text: string, tag: string): string[] {
  const out: string[] = [];
  const re = new RegExp(`<${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</${tag}>`, 'g');
  for (let m = re.exec(text); m; m = re.exec(text)) out.push(m[1]);
  return out;
}

export const textOf = (text: string, tag: string): string | undefined => {
  const [first] = elements(text, tag);
  return first === undefined ? undefined : unescape(first.replace(/^<!\[CDATA\[([\s\S]*)\]\]>$/, '$1'));
};
