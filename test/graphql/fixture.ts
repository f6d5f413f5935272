// A small blog schema with row-level security, used by the GraphQL tests.
import crypto from 'node:crypto';
import { createProject, sql, type Project } from '../helpers/platform.ts';
import { jwtSecret, userToken } from './helpers.ts';

export const SCHEMA = `
  create table public.authors (id serial primary key, name text not null unique);
  comment on table public.authors is 'People who write posts.';
  comment on column public.authors.name is 'The name shown under a post.';
  create table public.posts (
    id serial primary key,
    author_id int not null references public.authors (id),
    owner uuid not null default auth.uid(),
    title text not null,
    published boolean not null default false,
    likes int not null default 0
  );
  create index on public.posts (author_id);
  alter table public.authors enable row level security;
  alter table public.posts enable row level security;
  create policy select_all on public.authors for select using (true);
  create policy select_published on public.posts for select to anon using (published);
  create policy select_own on public.posts for select to authenticated using (owner = auth.uid());
  create policy insert_own on public.posts for insert to authenticated with check (owner = auth.uid());
  create policy update_own on public.posts for update to authenticated using (owner = auth.uid());
  create function public.search_posts(term text) returns setof public.posts
    language sql stable as $$ select * from public.posts where title ilike '%' || term || '%' $$;
  comment on function public.search_posts(text) is 'Posts whose title contains the term.';
  create function public.like_post(post_id int) returns public.posts
    language sql volatile as $$ update public.posts set likes = likes + 1 where id = post_id returning * $$;
`;

export interface Blog {
  p: Project;
  u1: string; u2: string;
  t1: string; t2: string;
}

export async function blogProject(): Promise<Blog> {
  const p = await createProject();
  const u1 = crypto.randomUUID(), u2 = crypto.randomUUID();
  await sql(p, SCHEMA + `
    insert into public.authors (name) values ('Ada'), ('Grace');
    insert into public.posts (author_id, owner, title, published, likes) values
      (1, '${u1}', 'u1 draft', false, 1),
      (1, '${u1}', 'u1 public', true, 10),
      (2, '${u2}', 'u2 draft', false, 100);`);
  const secret = await jwtSecret(p);
  return { p, u1, u2, t1: userToken(secret, u1), t2: userToken(secret, u2) };
}
