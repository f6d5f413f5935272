-- The email service of a project: domains (records to publish, verification results), send-only API keys, the
-- send itself (verified domains only, idempotency keys, a delivery job queued in the same transaction), events
-- and their webhook deliveries (each a job), and stats per day. The API process renders, seals and checks DNS;
-- the worker delivers over SMTP (worker/src/tasks/email_message__send.ts, email_webhook__deliver.ts).

-- ---- Members of the project (Management API, as loam_api) ----------------------------------------------

create or replace function platform.create_email_domain(p_ref text, p_domain text, p_selector text, p_public_key text,
  p_private_sealed text, p_records jsonb)
  returns table (id uuid, domain text, status text, records jsonb, created_at timestamptz, last_checked_at timestamptz, verified_at timestamptz)
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_project platform.projects := platform.project_for_role(p_ref, 'project.settings');
begin
  if p_domain is null or p_domain !~ '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$' or length(p_domain) > 200 then
    raise exception 'invalid domain "%": a DNS name such as mail.example.com', p_domain using errcode = 'LME01';
  end if;
  if exists (select 1 from platform_private.email_domains d where d.project_id = v_project.id and d.domain = p_domain) then
    raise exception 'the domain % is already a sending domain of this project', p_domain using errcode = 'LME02';
  end if;
  if (select count(*) from platform_private.email_domains d where d.project_id = v_project.id) >= 50 then
    raise exception 'a project has at most 50 sending domains' using errcode = 'LME09';
  end if;
  return query insert into platform_private.email_domains as d (project_id, domain, dkim_selector, dkim_public_key, dkim_private_sealed, records)
    values (v_project.id, p_domain, p_selector, p_public_key, p_private_sealed, p_records)
    returning d.id, d.domain, d.status, d.records, d.created_at, d.last_checked_at, d.verified_at;
end $$;
comment on function platform.create_email_domain(text, text, text, text, text, jsonb) is 'Adds a sending domain (pending until its DNS records are found).';

create or replace function platform.email_domains(p_ref text, p_id uuid default null)
  returns table (id uuid, domain text, status text, records jsonb, created_at timestamptz, last_checked_at timestamptz, verified_at timestamptz)
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_project platform.projects := platform.project_for_member(p_ref);
begin
  return query select d.id, d.domain, d.status, d.records, d.created_at, d.last_checked_at, d.verified_at
    from platform_private.email_domains d where d.project_id = v_project.id and (p_id is null or d.id = p_id) order by d.domain;
  if p_id is not null and not found then raise exception 'Email domain not found' using errcode = 'LME03'; end if;
end $$;
comment on function platform.email_domains(text, uuid) is 'The sending domains of a project (one, given its id).';

-- The result of a DNS check made by the API process: each record's `status`, and verified when all were found.
-- p_verified null: DNS gave no answer for some record (and none was missing): the status stays as it was, so an
-- outage of the resolvers does not stop a verified domain's mail.
create or replace function platform.record_email_domain_check(p_ref text, p_id uuid, p_verified boolean, p_records jsonb)
  returns table (id uuid, domain text, status text, records jsonb, created_at timestamptz, last_checked_at timestamptz, verified_at timestamptz)
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_project platform.projects := platform.project_for_role(p_ref, 'project.settings');
begin
  return query update platform_private.email_domains d set records = p_records, last_checked_at = now(),
      status = case when p_verified is null then d.status when p_verified then 'verified' else 'failed' end,
      verified_at = case when p_verified is null then d.verified_at when p_verified then coalesce(d.verified_at, now()) else null end
    where d.project_id = v_project.id and d.id = p_id
    returning d.id, d.domain, d.status, d.records, d.created_at, d.last_checked_at, d.verified_at;
  if not found then raise exception 'Email domain not found' using errcode = 'LME03'; end if;
end $$;
comment on function platform.record_email_domain_check(text, uuid, boolean, jsonb) is 'Records a DNS verification of a sending domain.';

create or replace function platform.delete_email_domain(p_ref text, p_id uuid) returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_role(p_ref, 'project.settings');
begin
  delete from platform_private.email_domains d where d.project_id = v_project.id and d.id = p_id;
  if not found then raise exception 'Email domain not found' using errcode = 'LME03'; end if;
end $$;
comment on function platform.delete_email_domain(text, uuid) is 'Removes a sending domain; it can no longer send.';

create or replace function platform.create_email_api_key(p_ref text, p_name text, p_hash bytea, p_prefix text)
  returns table (id uuid, name text, key_prefix text, created_at timestamptz, last_used_at timestamptz)
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_project platform.projects := platform.project_for_role(p_ref, 'project.settings');
begin
  if (select count(*) from platform_private.email_api_keys k where k.project_id = v_project.id) >= 50 then
    raise exception 'a project has at most 50 email API keys' using errcode = 'LME09';
  end if;
  return query insert into platform_private.email_api_keys as k (project_id, name, key_hash, key_prefix)
    values (v_project.id, platform_private.validate_name(p_name), p_hash, p_prefix)
    returning k.id, k.name, k.key_prefix, k.created_at, k.last_used_at;
end $$;
comment on function platform.create_email_api_key(text, text, bytea, text) is 'Creates a key that may send the project''s email (stored as a hash).';

create or replace function platform.email_api_keys(p_ref text)
  returns table (id uuid, name text, key_prefix text, created_at timestamptz, last_used_at timestamptz)
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_project platform.projects := platform.project_for_member(p_ref);
begin
  return query select k.id, k.name, k.key_prefix, k.created_at, k.last_used_at from platform_private.email_api_keys k
    where k.project_id = v_project.id order by k.created_at;
end $$;
comment on function platform.email_api_keys(text) is 'The email API keys of a project (never the keys).';

create or replace function platform.delete_email_api_key(p_ref text, p_id uuid) returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_role(p_ref, 'project.settings');
begin
  delete from platform_private.email_api_keys k where k.project_id = v_project.id and k.id = p_id;
  if not found then raise exception 'Email API key not found' using errcode = 'LME04'; end if;
end $$;
comment on function platform.delete_email_api_key(text, uuid) is 'Revokes an email API key.';

create or replace function platform.create_email_webhook(p_ref text, p_url text, p_events text[], p_secret_sealed text)
  returns table (id uuid, url text, events text[], created_at timestamptz)
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_project platform.projects := platform.project_for_role(p_ref, 'project.settings');
begin
  if (select count(*) from platform_private.email_webhooks w where w.project_id = v_project.id) >= 20 then
    raise exception 'a project has at most 20 email webhooks' using errcode = 'LME09';
  end if;
  return query insert into platform_private.email_webhooks as w (project_id, url, events, secret_sealed)
    values (v_project.id, p_url, p_events, p_secret_sealed) returning w.id, w.url, w.events, w.created_at;
end $$;
comment on function platform.create_email_webhook(text, text, text[], text) is 'Adds a webhook that receives the project''s email events.';

create or replace function platform.email_webhooks(p_ref text)
  returns table (id uuid, url text, events text[], created_at timestamptz)
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_project platform.projects := platform.project_for_member(p_ref);
begin
  return query select w.id, w.url, w.events, w.created_at from platform_private.email_webhooks w where w.project_id = v_project.id order by w.created_at;
end $$;
comment on function platform.email_webhooks(text) is 'The email webhooks of a project (never their signing secrets).';

create or replace function platform.email_webhook_deliveries(p_ref text, p_id uuid, p_limit integer)
  returns table (id bigint, event_id bigint, type text, email_id uuid, at timestamptz, status text, attempts integer,
                 response_status integer, last_error text, delivered_at timestamptz)
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_project platform.projects := platform.project_for_member(p_ref);
begin
  if not exists (select 1 from platform_private.email_webhooks w where w.project_id = v_project.id and w.id = p_id) then
    raise exception 'Email webhook not found' using errcode = 'LME07';
  end if;
  return query select dl.id, ev.id, ev.type, ev.email_id, ev.at, dl.status, dl.attempts, dl.response_status, dl.last_error, dl.delivered_at
    from platform_private.email_webhook_deliveries dl join platform_private.email_events ev on ev.id = dl.event_id
    where dl.webhook_id = p_id order by dl.id desc limit least(greatest(coalesce(p_limit, 50), 1), 500);
end $$;
comment on function platform.email_webhook_deliveries(text, uuid, integer) is 'The deliveries of one email webhook (newest first): state, attempts, the last answer or error.';

create or replace function platform.delete_email_webhook(p_ref text, p_id uuid) returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_role(p_ref, 'project.settings');
begin
  delete from platform_private.email_webhooks w where w.project_id = v_project.id and w.id = p_id;
  if not found then raise exception 'Email webhook not found' using errcode = 'LME07'; end if;
end $$;
comment on function platform.delete_email_webhook(text, uuid) is 'Removes an email webhook.';

-- Sending as a member (a management token): the member check, then the shared send.
create or replace function platform.send_email(p_ref text, p_email jsonb)
  returns table (id uuid, status text, created_at timestamptz, replayed boolean)
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_role(p_ref, 'project.content');
begin
  return query select * from platform_private.queue_email(v_project.id, p_email);
end $$;
comment on function platform.send_email(text, jsonb) is 'Queues an email from a verified domain of the project.';

create or replace function platform.project_emails(p_ref text, p_id uuid, p_limit integer)
  returns table (id uuid, from_address text, to_addresses text[], subject text, status text, attempts integer, last_error text,
                 message_id text, idempotency_key text, created_at timestamptz, sent_at timestamptz, events jsonb)
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_project platform.projects := platform.project_for_member(p_ref);
begin
  return query select e.id, e.from_address, e.to_addresses, e.subject, e.status, e.attempts, e.last_error, e.message_id,
      e.idempotency_key, e.created_at, e.sent_at,
      (select coalesce(jsonb_agg(jsonb_build_object('type', ev.type, 'at', ev.at, 'detail', ev.detail) order by ev.id), '[]')
        from platform_private.email_events ev where ev.email_id = e.id)
    from platform_private.emails e where e.project_id = v_project.id and (p_id is null or e.id = p_id)
    order by e.created_at desc limit least(greatest(coalesce(p_limit, 50), 1), 500);
  if p_id is not null and not found then raise exception 'Email not found' using errcode = 'LME08'; end if;
end $$;
comment on function platform.project_emails(text, uuid, integer) is 'Emails of the project (newest first) with their events.';

create or replace function platform.email_stats(p_ref text, p_days integer)
  returns table (day date, queued integer, sent integer, bounced integer, failed integer)
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_member(p_ref);
begin
  return query select d::date,
      count(*) filter (where ev.type = 'queued')::integer, count(*) filter (where ev.type = 'sent')::integer,
      count(*) filter (where ev.type = 'bounced')::integer, count(*) filter (where ev.type = 'failed')::integer
    from generate_series((now() at time zone 'utc')::date - (least(greatest(coalesce(p_days, 7), 1), 90) - 1), (now() at time zone 'utc')::date, interval '1 day') d
    left join platform_private.email_events ev on ev.project_id = v_project.id and (ev.at at time zone 'utc')::date = d::date
    group by d order by d;
end $$;
comment on function platform.email_stats(text, integer) is 'Email events of the project per UTC day.';

-- ---- The platform's own connection (send with an email API key, the worker) ----------------------------

-- The project of an email API key, marking it used, and the key's request counted against the rate limit of the
-- project's organization plan (requests per minute, as a token's are; all keys of a project share one count, so
-- more keys buy no more sends). No row: no such key. retry_after > 0: over the limit, for that many seconds.
drop function if exists platform_private.email_key_project(bytea);
create or replace function platform_private.email_key_project(p_hash bytea, p_default_limit integer)
  returns table (project_id bigint, ref text, key_id uuid, retry_after integer)
  language plpgsql volatile
as $$
#variable_conflict use_column
declare
  v_key record;
begin
  update platform_private.email_api_keys k set last_used_at = now() from platform.projects p
    where k.key_hash = p_hash and p.id = k.project_id and p.deleted_at is null
    returning k.project_id, p.ref, k.id, p.organization_id into v_key;
  if not found then return; end if;
  return query select v_key.project_id, v_key.ref, v_key.id, platform_private.rate_limit_hit('email:' || v_key.project_id,
    coalesce((select pl.rate_limit_per_minute from platform.organizations o join platform.plans pl on pl.id = o.plan
      where o.id = v_key.organization_id), p_default_limit));
end $$;

-- Queues an email: the sender's domain must be a verified domain of the project; a repeated idempotency key
-- answers the first email when the request is the same, and is refused when it is not.
create or replace function platform_private.queue_email(p_project_id bigint, p_email jsonb)
  returns table (id uuid, status text, created_at timestamptz, replayed boolean)
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
#variable_conflict use_column
declare
  v_domain platform_private.email_domains;
  v_existing platform_private.emails;
  v_email platform_private.emails;
  v_sender_domain text := lower(split_part(p_email->>'from_address', '@', 2));
begin
  if p_email->>'idempotency_key' is not null then
    select e.* into v_existing from platform_private.emails e where e.project_id = p_project_id and e.idempotency_key = p_email->>'idempotency_key';
    if found then
      if v_existing.request_hash <> p_email->>'request_hash' then
        raise exception 'this idempotency key was used for a different email' using errcode = 'LME06';
      end if;
      return query select v_existing.id, v_existing.status, v_existing.created_at, true;
      return;
    end if;
  end if;
  select d.* into v_domain from platform_private.email_domains d
    where d.project_id = p_project_id and d.domain = v_sender_domain and d.status = 'verified';
  if not found then
    raise exception 'the domain % is not a verified sending domain of this project', v_sender_domain using errcode = 'LME05';
  end if;
  insert into platform_private.emails as e (project_id, domain_id, from_address, to_addresses, subject, html, text_body,
      attachments, idempotency_key, request_hash)
    values (p_project_id, v_domain.id, p_email->>'from', array(select jsonb_array_elements_text(p_email->'to')), p_email->>'subject',
      p_email->>'html', p_email->>'text', coalesce(p_email->'attachments', '[]'), p_email->>'idempotency_key', p_email->>'request_hash')
    on conflict (project_id, idempotency_key) do nothing
    returning e.* into v_email;
  if not found then
    -- The same key sent by two requests at once: the other one's email.
    select e.* into v_existing from platform_private.emails e where e.project_id = p_project_id and e.idempotency_key = p_email->>'idempotency_key';
    if v_existing.request_hash <> p_email->>'request_hash' then
      raise exception 'this idempotency key was used for a different email' using errcode = 'LME06';
    end if;
    return query select v_existing.id, v_existing.status, v_existing.created_at, true;
    return;
  end if;
  perform platform_private.email_event(v_email.id, 'queued', null);
  perform graphile_worker.add_job('email_message__send', json_build_object('email_id', v_email.id),
    job_key := 'email_message__send:' || v_email.id, max_attempts := 5);
  return query select v_email.id, v_email.status, v_email.created_at, false;
end $$;

-- Records an event and queues one delivery job per webhook that wants it.
create or replace function platform_private.email_event(p_email_id uuid, p_type text, p_detail text) returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_event_id bigint;
  v_project_id bigint;
  v_delivery record;
begin
  insert into platform_private.email_events (project_id, email_id, type, detail)
    select e.project_id, e.id, p_type, left(p_detail, 2000) from platform_private.emails e where e.id = p_email_id
    returning id, project_id into v_event_id, v_project_id;
  for v_delivery in
    insert into platform_private.email_webhook_deliveries (webhook_id, event_id)
      select w.id, v_event_id from platform_private.email_webhooks w
      where w.project_id = v_project_id and (p_type = any (w.events) or '*' = any (w.events))
      returning id
  loop
    perform graphile_worker.add_job('email_webhook__deliver', json_build_object('delivery_id', v_delivery.id),
      job_key := 'email_webhook__deliver:' || v_delivery.id, max_attempts := 5);
  end loop;
end $$;

-- What the delivery job needs: the email, its project, and its domain's DKIM key (sealed).
create or replace function platform_private.email_for_delivery(p_email_id uuid)
  returns table (id uuid, ref text, status text, from_address text, to_addresses text[], subject text, html text, text_body text,
                 attachments jsonb, domain text, dkim_selector text, dkim_private_sealed text)
  language sql stable
as $$
  select e.id, p.ref, e.status, e.from_address, e.to_addresses, e.subject, e.html, e.text_body, e.attachments,
    d.domain, d.dkim_selector, d.dkim_private_sealed
  from platform_private.emails e join platform.projects p on p.id = e.project_id
  left join platform_private.email_domains d on d.id = e.domain_id
  where e.id = p_email_id
$$;

-- One delivery attempt's outcome: sent, bounced (refused for good), failed (retries used up), or `retry` (the
-- job runs again; the attempt is counted).
create or replace function platform_private.email_attempt(p_email_id uuid, p_outcome text, p_detail text, p_message_id text) returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
begin
  update platform_private.emails set attempts = attempts + 1, last_error = case when p_outcome = 'sent' then null else left(p_detail, 2000) end,
      status = case when p_outcome = 'retry' then status else p_outcome end,
      message_id = coalesce(p_message_id, message_id),
      sent_at = case when p_outcome = 'sent' then now() else sent_at end,
      -- Once an email is done its attachments' bytes go; their names, types and sizes stay.
      attachments = case when p_outcome = 'retry' then attachments else (select coalesce(jsonb_agg((a - 'content')
        || jsonb_build_object('size', (length(a->>'content') * 3) / 4 - (length(a->>'content') - length(rtrim(a->>'content', '='))))), '[]') from jsonb_array_elements(attachments) a) end
    where id = p_email_id and status = 'queued';
  if found and p_outcome <> 'retry' then perform platform_private.email_event(p_email_id, p_outcome, p_detail); end if;
end $$;

-- What a webhook delivery job needs: where, the sealed secret, and the event with its email.
create or replace function platform_private.email_webhook_delivery(p_delivery_id bigint)
  returns table (delivery_id bigint, status text, ref text, url text, secret_sealed text, event_id bigint, type text, at timestamptz,
                 detail text, email_id uuid, from_address text, to_addresses text[], subject text, message_id text)
  language sql stable
as $$
  select dl.id, dl.status, p.ref, w.url, w.secret_sealed, ev.id, ev.type, ev.at, ev.detail, e.id, e.from_address, e.to_addresses, e.subject, e.message_id
  from platform_private.email_webhook_deliveries dl
  join platform_private.email_webhooks w on w.id = dl.webhook_id
  join platform_private.email_events ev on ev.id = dl.event_id
  join platform_private.emails e on e.id = ev.email_id
  join platform.projects p on p.id = w.project_id
  where dl.id = p_delivery_id
$$;

create or replace function platform_private.email_webhook_attempt(p_delivery_id bigint, p_ok boolean, p_final boolean, p_status integer, p_error text)
  returns void
  language sql volatile
as $$
  update platform_private.email_webhook_deliveries set attempts = attempts + 1, response_status = p_status, last_error = left(p_error, 2000),
    status = case when p_ok then 'delivered' when p_final then 'failed' else status end,
    delivered_at = case when p_ok then now() else delivered_at end
  where id = p_delivery_id
$$;

-- What a worker that stopped mid-job leaves behind: an email still `queued` (or a webhook delivery `pending`)
-- whose job will never run again — the worker died during its last attempt (graphile-worker counts an attempt
-- when it takes the job), or the job was given up on. Such emails become `failed` (an event, and its webhooks
-- told), such deliveries `failed`. An earlier attempt's crash needs nothing: its job is unlocked and runs again
-- (the email keeps one Message-ID across attempts). Called on each worker liveness tick.
create or replace function platform_private.fail_stalled_emails() returns integer
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_id uuid;
  v_count integer := 0;
begin
  for v_id in
    select e.id from platform_private.emails e
    where e.status = 'queued'
      and not exists (select 1 from graphile_worker.jobs j where j.key = 'email_message__send:' || e.id
                      and (j.attempts < j.max_attempts or j.locked_at is not null))
    for update of e skip locked
  loop
    perform platform_private.email_attempt(v_id, 'failed', 'the delivery job stopped before it could finish (a worker stopped during its last attempt)', null);
    v_count := v_count + 1;
  end loop;
  update platform_private.email_webhook_deliveries dl set status = 'failed',
      last_error = coalesce(dl.last_error, 'the delivery job stopped before it could finish')
    where dl.status = 'pending'
      and not exists (select 1 from graphile_worker.jobs j where j.key = 'email_webhook__deliver:' || dl.id
                      and (j.attempts < j.max_attempts or j.locked_at is not null));
  return v_count;
end $$;
comment on function platform_private.fail_stalled_emails() is
  'Marks failed the emails and webhook deliveries whose job will never run again; returns how many emails.';
