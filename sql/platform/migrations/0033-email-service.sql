-- The email service of a project (a PaaS API shape): sending domains with the DNS records to publish (SPF on a
-- return-path subdomain with its MX, DKIM with a key pair generated per domain), API keys that may only send,
-- emails (rendered, with attachments) delivered through the operator's SMTP relay by worker jobs with retries,
-- their events, and webhooks signed per Standard Webhooks. Private tables: reached through the functions in
-- sql/platform/functions/email-service.sql (members of the project, or the worker's own connection).

create table platform_private.email_domains (
  id uuid primary key default gen_random_uuid(),
  project_id bigint not null references platform.projects on delete cascade,
  domain text not null check (domain ~ '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$' and length(domain) <= 200),
  dkim_selector text not null,
  dkim_public_key text not null,
  dkim_private_sealed text not null,
  status text not null default 'pending' check (status in ('pending', 'verified', 'failed')),
  records jsonb not null default '[]',
  last_checked_at timestamptz,
  verified_at timestamptz,
  created_at timestamptz not null default now(),
  unique (project_id, domain)
);
comment on table platform_private.email_domains is 'Sending domains of projects; the DKIM private key is sealed with the operator key.';

create table platform_private.email_api_keys (
  id uuid primary key default gen_random_uuid(),
  project_id bigint not null references platform.projects on delete cascade,
  name text not null check (length(name) between 1 and 256),
  key_hash bytea not null unique,
  key_prefix text not null,
  last_used_at timestamptz,
  created_at timestamptz not null default now()
);
comment on table platform_private.email_api_keys is 'Keys that may send the project''s email and nothing else; stored as SHA-256.';

create table platform_private.emails (
  id uuid primary key default gen_random_uuid(),
  project_id bigint not null references platform.projects on delete cascade,
  domain_id uuid references platform_private.email_domains on delete set null,
  from_address text not null,
  to_addresses text[] not null,
  subject text not null,
  html text,
  text_body text,
  attachments jsonb not null default '[]',
  idempotency_key text,
  request_hash text not null,
  status text not null default 'queued' check (status in ('queued', 'sent', 'bounced', 'failed')),
  attempts integer not null default 0,
  last_error text,
  message_id text,
  created_at timestamptz not null default now(),
  sent_at timestamptz,
  unique (project_id, idempotency_key)
);
create index on platform_private.emails (project_id, created_at);
comment on table platform_private.emails is 'Emails a project sent (or is sending) through its email service.';

create table platform_private.email_events (
  id bigint generated always as identity primary key,
  project_id bigint not null references platform.projects on delete cascade,
  email_id uuid not null references platform_private.emails on delete cascade,
  type text not null check (type in ('queued', 'sent', 'bounced', 'failed')),
  detail text,
  at timestamptz not null default now()
);
create index on platform_private.email_events (email_id, id);
create index on platform_private.email_events (project_id, at);

create table platform_private.email_webhooks (
  id uuid primary key default gen_random_uuid(),
  project_id bigint not null references platform.projects on delete cascade,
  url text not null check (length(url) <= 2048),
  events text[] not null,
  secret_sealed text not null,
  created_at timestamptz not null default now()
);
create index on platform_private.email_webhooks (project_id);

create table platform_private.email_webhook_deliveries (
  id bigint generated always as identity primary key,
  webhook_id uuid not null references platform_private.email_webhooks on delete cascade,
  event_id bigint not null references platform_private.email_events on delete cascade,
  status text not null default 'pending' check (status in ('pending', 'delivered', 'failed')),
  attempts integer not null default 0,
  response_status integer,
  last_error text,
  delivered_at timestamptz,
  unique (webhook_id, event_id)
);

alter table platform_private.email_domains enable row level security;
alter table platform_private.email_api_keys enable row level security;
alter table platform_private.emails enable row level security;
alter table platform_private.email_events enable row level security;
alter table platform_private.email_webhooks enable row level security;
alter table platform_private.email_webhook_deliveries enable row level security;
