// A small client-side router over the History API: the path is state, links are real <a> elements.
import { useSyncExternalStore, type AnchorHTMLAttributes, type MouseEvent } from 'react';

const subs = new Set<() => void>();
window.addEventListener('popstate', () => subs.forEach((s) => s()));

export function navigate(to: string, replace = false): void {
  if (replace) history.replaceState(null, '', to); else history.pushState(null, '', to);
  subs.forEach((s) => s());
  window.scrollTo(0, 0);
}

export function useLocation(): { path: string; query: URLSearchParams } {
  const href = useSyncExternalStore((cb) => { subs.add(cb); return () => { subs.delete(cb); }; }, () => location.pathname + location.search);
  const u = new URL(href, location.origin);
  return { path: u.pathname, query: u.searchParams };
}

/** Matches `pattern` (`/p/:ref/tables`) against `path`; a trailing `*` matches the rest. */
export function match(pattern: string, path: string): Record<string, string> | null {
  const p = pattern.split('/').filter(Boolean), s = path.split('/').filter(Boolean);
  const out: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '*') { out['*'] = s.slice(i).map(decodeURIComponent).join('/'); return out; }
    if (i >= s.length) return null;
    if (p[i].startsWith(':')) out[p[i].slice(1)] = decodeURIComponent(s[i]);
    else if (p[i] !== s[i]) return null;
  }
  return p.length === s.length ? out : null;
}

export function Link({ to, onClick, exact, ...rest }: AnchorHTMLAttributes<HTMLAnchorElement> & { to: string; exact?: boolean }) {
  const click = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e);
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  };
  const active = location.pathname === to || (!exact && to !== '/' && location.pathname.startsWith(`${to}/`));
  return <a href={to} onClick={click} aria-current={active ? 'page' : undefined} {...rest} />;
}
