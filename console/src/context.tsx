// Who is signed in, their organizations and their role in each (from the members list), shared by every page.
import { createContext, useContext, useEffect, useState, useSyncExternalStore, type ReactNode } from 'react';
import { api, session, type Me, type Member, type Org, type Role } from './api.ts';

interface Account { me: Me; orgs: Org[]; roles: Record<string, Role>; reload: () => void }
const Ctx = createContext<Account | null>(null);

export function useSession(): string | null {
  return useSyncExternalStore(session.subscribe, () => session.token);
}

export function AccountProvider({ children, fallback }: { children: ReactNode; fallback: ReactNode }) {
  const token = useSession();
  const [acct, setAcct] = useState<Omit<Account, 'reload'>>();
  const [n, setN] = useState(0);
  useEffect(() => {
    if (!token) { setAcct(undefined); return; }
    let live = true;
    (async () => {
      const [me, orgs] = await Promise.all([api<Me>('GET', '/auth/me'), api<Org[]>('GET', '/organizations')]);
      const roles: Record<string, Role> = {};
      await Promise.all(orgs.map(async (o) => {
        const members = await api<Member[]>('GET', `/organizations/${o.slug}/members`).catch(() => [] as Member[]);
        roles[o.slug] = members.find((m) => m.user_id === me.id)?.role_name ?? 'Owner';
      }));
      if (live) setAcct({ me, orgs, roles });
    })().catch(() => { /* a 401 signs out (api.ts); other failures show on the pages */ });
    return () => { live = false; };
  }, [token, n]);
  if (!acct) return <>{fallback}</>;
  return <Ctx.Provider value={{ ...acct, reload: () => setN((x) => x + 1) }}>{children}</Ctx.Provider>;
}

export function useAccount(): Account {
  const a = useContext(Ctx);
  if (!a) throw new Error('useAccount outside AccountProvider');
  return a;
}

/** Whether the signed-in account may change things in this organization (every role but Read-only). */
export function useCanWrite(orgSlug: string | undefined): boolean {
  const { roles } = useAccount();
  return !orgSlug || roles[orgSlug] !== 'Read-only';
}
export const READ_ONLY_TITLE = 'Read-only members cannot change this';

const RANK: Record<Role, number> = { 'Read-only': 1, Developer: 2, Administrator: 3, Owner: 4 };
/** Whether the signed-in account's role in this organization is `min` or higher (platform.role_permissions decides
 *  in the API; this only keeps buttons the API would refuse from looking usable). */
export function useHasRole(orgSlug: string | undefined, min: Role): boolean {
  const { roles } = useAccount();
  return !orgSlug || RANK[roles[orgSlug] ?? 'Owner'] >= RANK[min];
}
