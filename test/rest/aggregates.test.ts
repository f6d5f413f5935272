// Aggregates and resource embedding, as PostgREST 12 does them: aggregates inside an embedded resource (grouped
// by the embed's other columns, computed per parent row), the legacy `count` column in an embed, embedded
// resources as GROUP BY keys of the parent, aggregates in to-one spreads hoisted into the parent, the
// per-project switch (PGRST123 wherever the aggregate is), and a key of another project gets nothing.
import assert from 'node:assert/strict';
import { before, test } from 'node:test';
import { createClient } from '@supabase/supabase-js';
import { createProject, http, sql, type Project } from '../helpers/platform.ts';
import { rest } from './fixture.ts';

let p: Project;
const settings = async (project: Project, body: Record<string, unknown>) => {
  const r = await http('PATCH', `/v1/projects/${project.ref}/postgrest`, { token: project.owner.token, body });
  assert.equal(r.status, 200, JSON.stringify(r.body));
};

before(async () => {
  p = await createProject();
  await sql(p, `
    create table clients (id int primary key, name text not null);
    create table projects (id int primary key, name text not null, client_id int references clients(id));
    create table project_invoices (id int primary key, invoice_total numeric, project_id int references projects(id), issued date);
    create table budget_categories (id int primary key, category_name text, budget_owner text, budget_amount numeric);
    create table budget_expenses (id int primary key, expense_amount numeric, budget_category_id int references budget_categories(id));
    grant select on all tables in schema public to anon, authenticated, service_role;
    insert into clients values (1, 'Microsoft'), (2, 'Apple');
    insert into projects values (1, 'Windows 7', 1), (2, 'Windows 10', 1), (3, 'IOS', 2), (4, 'OSX', 2), (5, 'Orphan', null);
    insert into project_invoices values (1, 100, 1, '2024-01-01'), (2, 200, 1, '2024-01-02'), (3, 500, 2, '2024-01-01'), (4, 700, 2, '2024-01-01'),
      (5, 1200, 3, '2024-01-01'), (6, 2000, 3, '2024-01-02'), (7, 100, 4, '2024-01-01'), (8, 4000, 4, '2024-01-01');
    insert into budget_categories values (1, 'Beanie Babies', 'Brian Smith', 1000.31), (2, 'DVDs', 'Jane Clarkson', 2000.12),
      (3, 'Pizza', 'Brian Smith', 1000.11), (4, 'Opera Tickets', 'Jane Clarkson', 7000.41), (5, 'Nuclear Fusion Research', 'Sally Hughes', 500.23),
      (6, 'T-5hirts', 'Dana de Groot', 500.33);
    insert into budget_expenses values (1, 200.26, 1), (2, 400.26, 3), (3, 100.22, 4), (5, 900.27, 5);`);
  await settings(p, { rate_limit_per_minute: 10_000_000, db_aggregates_enabled: true });
});

test('aggregates inside a to-many embed, computed per parent row (an empty embed still gives one row)', async () => {
  const r = await rest(p, 'GET', '/projects?select=name,project_invoices(invoice_total.sum())&order=id');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, [
    { name: 'Windows 7', project_invoices: [{ sum: 300 }] },
    { name: 'Windows 10', project_invoices: [{ sum: 1200 }] },
    { name: 'IOS', project_invoices: [{ sum: 3200 }] },
    { name: 'OSX', project_invoices: [{ sum: 4100 }] },
    { name: 'Orphan', project_invoices: [{ sum: null }] },
  ]);
  const all = await rest(p, 'GET', '/projects?select=name,project_invoices(invoice_total.max(),invoice_total.min(),invoice_total.avg()::int,invoice_total.sum(),invoice_total.count())&id=in.(4,5)&order=id');
  assert.deepEqual(all.body, [
    { name: 'OSX', project_invoices: [{ max: 4000, min: 100, avg: 2050, sum: 4100, count: 2 }] },
    { name: 'Orphan', project_invoices: [{ max: null, min: null, avg: null, sum: null, count: 0 }] },
  ]);
});

test('an embed groups by its other selected columns, untouched by the parent columns', async () => {
  const r = await rest(p, 'GET', '/projects?select=name,client_id,project_invoices(issued,total:invoice_total.sum(),count())&id=in.(1,2)&order=id&project_invoices.order=issued');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, [
    { name: 'Windows 7', client_id: 1, project_invoices: [{ issued: '2024-01-01', total: 100, count: 1 }, { issued: '2024-01-02', total: 200, count: 1 }] },
    { name: 'Windows 10', client_id: 1, project_invoices: [{ issued: '2024-01-01', total: 1200, count: 2 }] },
  ]);
});

test('count() and the legacy count column inside an embed; nested embeds', async () => {
  const r = await rest(p, 'GET', '/clients?select=name,projects(count())&order=id');
  assert.deepEqual(r.body, [{ name: 'Microsoft', projects: [{ count: 2 }] }, { name: 'Apple', projects: [{ count: 2 }] }]);
  const legacy = await rest(p, 'GET', '/clients?select=name,projects(count)&order=id');
  assert.equal(legacy.status, 200, JSON.stringify(legacy.body));
  assert.deepEqual(legacy.body, [{ name: 'Microsoft', projects: [{ count: 2 }] }, { name: 'Apple', projects: [{ count: 2 }] }]);
  const nested = await rest(p, 'GET', '/clients?select=name,projects(name,project_invoices(invoice_total.sum()))&id=eq.2&projects.order=id');
  assert.deepEqual(nested.body, [{ name: 'Apple', projects: [{ name: 'IOS', project_invoices: [{ sum: 3200 }] }, { name: 'OSX', project_invoices: [{ sum: 4100 }] }] }]);
});

test('an embedded resource is a GROUP BY key of the parent (to-one and to-many)', async () => {
  const r = await rest(p, 'GET', '/project_invoices?select=project_id,total:invoice_total.sum(),projects(name)&order=project_id');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, [
    { project_id: 1, total: 300, projects: { name: 'Windows 7' } },
    { project_id: 2, total: 1200, projects: { name: 'Windows 10' } },
    { project_id: 3, total: 3200, projects: { name: 'IOS' } },
    { project_id: 4, total: 4100, projects: { name: 'OSX' } },
  ]);
  const byEmbedOnly = await rest(p, 'GET', '/projects?select=count(),clients(name)');
  assert.equal(byEmbedOnly.status, 200, JSON.stringify(byEmbedOnly.body));
  assert.deepEqual(new Set(byEmbedOnly.body.map((x: unknown) => JSON.stringify(x))), new Set([
    { count: 1, clients: null }, { count: 2, clients: { name: 'Microsoft' } }, { count: 2, clients: { name: 'Apple' } },
  ].map((x) => JSON.stringify(x))));
  const toMany = await rest(p, 'GET', '/clients?select=count(),projects(name)');
  assert.equal(toMany.status, 200, JSON.stringify(toMany.body));
  assert.equal(toMany.body.length, 2);
});

test('aggregates in a to-one spread are hoisted into the parent and grouped with it', async () => {
  const r = await rest(p, 'GET', '/budget_expenses?select=total_expenses:expense_amount.sum(),...budget_categories(budget_owner,total_budget:budget_amount.sum())&order=budget_categories(budget_owner)');
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(r.body, [
    { total_expenses: 600.52, budget_owner: 'Brian Smith', total_budget: 2000.42 },
    { total_expenses: 100.22, budget_owner: 'Jane Clarkson', total_budget: 7000.41 },
    { total_expenses: 900.27, budget_owner: 'Sally Hughes', total_budget: 500.23 },
  ]);
  const only = await rest(p, 'GET', '/budget_expenses?select=...budget_categories(total_budget:budget_amount.sum())');
  assert.deepEqual(only.body, [{ total_budget: 9501.06 }]);
  const unnamed = await rest(p, 'GET', '/project_invoices?select=issued,...projects(client_id.max(),id.count())&order=issued');
  assert.deepEqual(unnamed.body, [{ issued: '2024-01-01', max: 2, count: 6 }, { issued: '2024-01-02', max: 2, count: 2 }]);
});

test('supabase-js: aggregates in embeds', async () => {
  const db = createClient(p.url, p.anonKey, { auth: { persistSession: false } });
  const { data, error } = await db.from('clients').select('name, projects(name, project_invoices(total:invoice_total.sum()))').eq('id', 1).order('id', { referencedTable: 'projects' });
  assert.equal(error, null);
  assert.deepEqual(data, [{ name: 'Microsoft', projects: [{ name: 'Windows 7', project_invoices: [{ total: 300 }] }, { name: 'Windows 10', project_invoices: [{ total: 1200 }] }] }]);
});

test('aggregates switched off: PGRST123 inside embeds and spreads too', async () => {
  const q = await createProject();
  await sql(q, `create table a (id int primary key, n int); create table b (id int primary key, a_id int references a(id), n int);
    grant select on a, b to anon;`);
  const body = { code: 'PGRST123', details: null, hint: null, message: 'Use of aggregate functions is not allowed' };
  for (const select of ['id,b(n.sum())', 'id,b(count())', 'n,...a(n.max())', 'b(id,a(n.avg()))']) {
    const target = select.startsWith('n,') ? '/b' : '/a';
    const r = await rest(q, 'GET', `${target}?select=${select}`);
    assert.equal(r.status, 400, select);
    assert.deepEqual(r.body, body, select);
  }
  // The legacy `count` column is not an aggregate function for the switch, as in PostgREST.
  assert.equal((await rest(q, 'GET', '/a?select=id,b(count)')).status, 200);
});

test('a key of another project gets nothing', async () => {
  const q = await createProject();
  const r = await rest(p, 'GET', '/projects?select=name,project_invoices(invoice_total.sum())', { key: q.anonKey });
  assert.equal(r.status, 401);
  assert.equal(r.body.code, 'PGRST301');
});
