-- Sites: create, change and delete a project's sites; deploys (zip, file by file or built from git) that always land
-- in staging; publish and rollback, which swap one pointer of the site row in one statement; builds and their
-- credentials. Ids from the URL arrive as text, so a malformed one is a 404 like an unknown one, never a cast error.

create or replace function platform_private.uuid_or_null(p text) returns uuid
  language sql immutable
as $$ select case when p ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then p::uuid end $$;

-- Every site read by a member goes through here: not found and not a member look the same (404).
create or replace function platform_private.site_for_member(p_ref text, p_site_id text) returns platform.sites
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_member(p_ref);
  v_site platform.sites;
begin
  select s.* into v_site from platform.sites s
    where s.id = platform_private.uuid_or_null(p_site_id) and s.project_id = v_project.id;
  if not found then raise exception 'Site not found' using errcode = 'LMN10'; end if;
  return v_site;
end $$;

create or replace function platform_private.deploy_of(p_site platform.sites, p_deploy_id text) returns platform.site_deploys
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_deploy platform.site_deploys;
begin
  select d.* into v_deploy from platform.site_deploys d
    where d.id = platform_private.uuid_or_null(p_deploy_id) and d.site_id = p_site.id;
  if not found then raise exception 'Deploy not found' using errcode = 'LMN11'; end if;
  return v_deploy;
end $$;

-- Every API process caches a site's pointers (server/src/sites/serve.ts): this tells them all to drop the
-- project's, through the channel that already carries project changes.
create or replace function platform_private.site_changed(p_project_id bigint) returns void
  language sql volatile security definer set search_path = pg_catalog, pg_temp
as $$ select null::void from (select pg_notify('loam_project_changed', platform_private.project_ref(p_project_id))) n $$;

-- ---- the sweep of unreferenced files (server/src/sites/sweep.ts, job site__sweep)
-- A file's bytes are shared by every deploy of the site holding its SHA-256. Whatever makes a deploy refer to
-- bytes again takes this lock shared; the sweep takes it exclusively while it checks that a hash is unreferenced
-- and deletes its bytes, so a deploy cannot start referring to bytes being deleted. Bytes just written (an upload
-- whose row is not recorded yet) are protected by their age: the sweep leaves files younger than a grace period.
create or replace function platform_private.lock_site_blobs(p_site_id uuid, p_exclusive boolean) returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
begin
  if p_exclusive then perform pg_advisory_xact_lock(hashtextextended('loam-site-blobs:' || p_site_id, 0));
  else perform pg_advisory_xact_lock_shared(hashtextextended('loam-site-blobs:' || p_site_id, 0)); end if;
end $$;

-- Debounced: one queued sweep per site (the job key), run when the site's deploys change.
create or replace function platform_private.queue_site_sweep(p_site_id uuid) returns void
  language sql volatile security definer set search_path = pg_catalog, pg_temp
as $$
  select null::void from (select graphile_worker.add_job('site__sweep', json_build_object('site_id', p_site_id),
    queue_name := 'site:' || p_site_id, job_key := 'site__sweep:' || p_site_id, max_attempts := 3)) j
$$;

-- Deploys past the retention count go (their manifests with them): all but the newest p_keep, the live and the
-- staging deploy, and deploys still being uploaded or unpacked (unless a day old: abandoned). Returns the ref of
-- the site's project (null: the site is gone, its files go with site__purge) and how many deploys went.
create or replace function platform_private.prune_site_deploys(p_site_id uuid, p_keep integer, out ref text, out removed integer)
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_site platform.sites;
begin
  select s.* into v_site from platform.sites s where s.id = p_site_id;
  if not found then return; end if;
  ref := platform_private.project_ref(v_site.project_id);
  delete from platform.site_deploys d
    where d.site_id = p_site_id
      and d.id is distinct from v_site.live_deploy_id and d.id is distinct from v_site.staging_deploy_id
      and (d.status in ('ready', 'failed') or d.created_at < now() - interval '1 day')
      and d.id not in (select x.id from platform.site_deploys x where x.site_id = p_site_id order by x.created_at desc, x.id limit greatest(p_keep, 0));
  get diagnostics removed = row_count;
end $$;

-- Of the given hashes, those no deploy of the site refers to. Holds the exclusive lock until the caller's
-- transaction ends: the caller deletes their bytes before committing.
create or replace function platform_private.unreferenced_site_blobs(p_site_id uuid, p_hashes text[]) returns text[]
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
begin
  perform platform_private.lock_site_blobs(p_site_id, true);
  return coalesce((select array_agg(h order by h) from unnest(p_hashes) h
    where not exists (select 1 from platform.site_files f join platform.site_deploys d on d.id = f.deploy_id
                      where d.site_id = p_site_id and f.sha256 = h)), '{}');
end $$;

-- Names a site may not take: what the platform or a visitor would read as the platform's own.
create or replace function platform_private.validate_subdomain(p_subdomain text) returns text
  language plpgsql immutable
as $$
begin
  if p_subdomain is null or p_subdomain !~ '^[a-z0-9]([a-z0-9]|-(?!-)){1,61}[a-z0-9]$' then
    raise exception 'subdomain must be 3-63 characters of a-z, 0-9 and single hyphens, starting and ending with a letter or digit'
      using errcode = 'LMV10';
  end if;
  if p_subdomain = any ('{www,api,app,admin,administrator,root,mail,email,smtp,imap,pop,ftp,ssh,ns1,ns2,dns,mx,
      localhost,loam,platform,dashboard,console,studio,status,health,metrics,docs,help,support,billing,account,accounts,
      auth,login,signin,signup,oauth,sso,storage,rest,graphql,realtime,functions,project,projects,sites,site,static,
      assets,cdn,media,files,preview,staging,internal,system,security,abuse,postmaster,hostmaster,webmaster,test}'::text[])
     or p_subdomain ~ '^(xn-|loam-)' then
    raise exception 'subdomain "%" is reserved', p_subdomain using errcode = 'LMV11';
  end if;
  return p_subdomain;
end $$;

create or replace function platform_private.validate_site_path(p_path text) returns text
  language plpgsql immutable
as $$
begin
  if p_path is not null and (p_path = '' or length(p_path) > 1024 or p_path ~ '(^|/)\.\.?(/|$)' or p_path ~ '^/|\\|//|[\x01-\x1f\x7f]') then
    raise exception 'not_found_page must be a relative path inside the deploy (no "..", no leading "/", no backslashes)'
      using errcode = 'LMV12';
  end if;
  return p_path;
end $$;

create or replace function platform_private.check_subdomain_free(p_subdomain text, p_site_id uuid) returns void
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
begin
  if exists (select 1 from platform.sites where subdomain = p_subdomain and id is distinct from p_site_id) then
    raise exception 'subdomain "%" is taken', p_subdomain using errcode = 'LMT01';
  end if;
end $$;

-- A site's deploy limits from its organization's plan (the API and the jobs cap them with the operator's).
create or replace function platform_private.site_plan_limits(p_site_id uuid) returns table (max_deploy_bytes bigint, max_files integer)
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$
  select pl.max_site_deploy_bytes, pl.max_site_files from platform.sites s join platform.projects p on p.id = s.project_id
  join platform.organizations o on o.id = p.organization_id join platform.plans pl on pl.id = o.plan where s.id = p_site_id
$$;

create or replace function platform.site_limits(p_ref text, p_site_id text) returns table (max_deploy_bytes bigint, max_files integer)
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$ select * from platform_private.site_plan_limits((platform_private.site_for_member(p_ref, p_site_id)).id) $$;
comment on function platform.site_limits(text, text) is 'The deploy limits of a site''s plan.';

create or replace function platform.list_sites(p_ref text) returns setof platform.sites
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$
  select s.* from platform.sites s where s.project_id = (platform.project_for_member(p_ref)).id order by s.created_at, s.id
$$;
comment on function platform.list_sites(text) is 'The sites of a project the caller is a member of.';

create or replace function platform.get_site(p_ref text, p_site_id text) returns platform.sites
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$ select platform_private.site_for_member(p_ref, p_site_id) $$;

create or replace function platform.create_site(p_ref text, p_subdomain text, p_name text, p_spa_mode boolean, p_not_found_page text)
  returns platform.sites
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_role(p_ref, 'project.content');
  v_site platform.sites;
  v_max integer;
begin
  perform platform_private.validate_subdomain(p_subdomain);
  perform platform_private.validate_site_path(nullif(p_not_found_page, ''));
  -- One site creation per project at a time, so two concurrent creations cannot both pass the plan limit.
  perform 1 from platform.projects where id = v_project.id for update;
  select pl.max_sites_per_project into v_max from platform.organizations o join platform.plans pl on pl.id = o.plan
    where o.id = v_project.organization_id;
  if (select count(*) from platform.sites where project_id = v_project.id) >= v_max then
    raise exception 'the plan allows % site(s) per project', v_max using errcode = 'LMQ01';
  end if;
  -- A deleted project's site gives its name back (its files went with the project's: they live under its ref).
  delete from platform.sites s using platform.projects p
    where s.subdomain = p_subdomain and p.id = s.project_id and p.deleted_at is not null;
  perform platform_private.check_subdomain_free(p_subdomain, null);
  insert into platform.sites (project_id, subdomain, name, spa_mode, not_found_page)
    values (v_project.id, p_subdomain, coalesce(p_name, p_subdomain), coalesce(p_spa_mode, false), nullif(p_not_found_page, ''))
    returning * into v_site;
  return v_site;
end $$;
comment on function platform.create_site(text, text, text, boolean, text) is 'Creates a site of a project (subdomain unique across the platform).';

-- Null arguments leave a setting as it is; an empty not_found_page clears it.
create or replace function platform.update_site(p_ref text, p_site_id text, p_subdomain text, p_name text,
                                                p_spa_mode boolean, p_not_found_page text)
  returns platform.sites
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_site platform.sites := platform_private.site_for_member(p_ref, p_site_id);
begin
  if p_subdomain is not null and p_subdomain <> v_site.subdomain then
    perform platform_private.validate_subdomain(p_subdomain);
    delete from platform.sites s using platform.projects p
      where s.subdomain = p_subdomain and p.id = s.project_id and p.deleted_at is not null;
    perform platform_private.check_subdomain_free(p_subdomain, v_site.id);
  end if;
  perform platform_private.validate_site_path(nullif(p_not_found_page, ''));
  update platform.sites set
    subdomain = coalesce(p_subdomain, subdomain),
    name = coalesce(p_name, name),
    spa_mode = coalesce(p_spa_mode, spa_mode),
    not_found_page = case when p_not_found_page is null then not_found_page else nullif(p_not_found_page, '') end,
    updated_at = now()
  where id = v_site.id returning * into v_site;
  perform platform_private.site_changed(v_site.project_id);
  return v_site;
end $$;

-- The site's rows go at once (it stops being served); its files go in a job (site__purge).
create or replace function platform.delete_site(p_ref text, p_site_id text) returns platform.sites
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_site platform.sites := platform_private.site_for_member(p_ref, p_site_id);
begin
  delete from platform.sites where id = v_site.id;
  perform platform_private.site_changed(v_site.project_id);
  perform graphile_worker.add_job('site__purge', json_build_object('ref', p_ref, 'site_id', v_site.id),
    job_key := 'site__purge:' || v_site.id, max_attempts := 5);
  return v_site;
end $$;

create or replace function platform.list_site_deploys(p_ref text, p_site_id text) returns setof platform.site_deploys
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$
  select d.* from platform.site_deploys d
  where d.site_id = (platform_private.site_for_member(p_ref, p_site_id)).id
  order by d.created_at desc, d.id
$$;

create or replace function platform.get_site_deploy(p_ref text, p_site_id text, p_deploy_id text) returns platform.site_deploys
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$ select platform_private.deploy_of(platform_private.site_for_member(p_ref, p_site_id), p_deploy_id) $$;

-- A zip deploy: its bytes were stored by the API under a key made of the ids; the job unpacks them.
create or replace function platform.create_zip_deploy(p_ref text, p_site_id text, p_deploy_id uuid, p_label text)
  returns platform.site_deploys
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_site platform.sites := platform_private.site_for_member(p_ref, p_site_id);
  v_deploy platform.site_deploys;
begin
  insert into platform.site_deploys (id, site_id, label, source, status)
    values (p_deploy_id, v_site.id, coalesce(p_label, ''), 'zip', 'processing') returning * into v_deploy;
  perform graphile_worker.add_job('site_deploy__process', json_build_object('ref', p_ref, 'deploy_id', v_deploy.id),
    queue_name := 'site:' || v_site.id, job_key := 'site_deploy__process:' || v_deploy.id, max_attempts := 3);
  return v_deploy;
end $$;

-- A file-by-file deploy. With a manifest {path: sha256}, the entries whose bytes the site already has are
-- filled in at once (copied from an earlier deploy's row); the others wait for an upload. Returns the deploy
-- and the hashes still missing.
create or replace function platform.open_site_deploy(p_ref text, p_site_id text, p_label text, p_manifest jsonb, p_max_files integer)
  returns table (deploy platform.site_deploys, missing text[])
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_site platform.sites := platform_private.site_for_member(p_ref, p_site_id);
  v_deploy platform.site_deploys;
begin
  if p_manifest is not null and jsonb_typeof(p_manifest) <> 'object' then
    raise exception 'manifest must be an object of path: sha256' using errcode = 'LMV13';
  end if;
  if p_manifest is not null and (select count(*) from jsonb_object_keys(p_manifest)) > p_max_files then
    raise exception 'a deploy may hold at most % files', p_max_files using errcode = 'LMD04';
  end if;
  if exists (select 1 from jsonb_each(coalesce(p_manifest, '{}')) e
             where jsonb_typeof(e.value) <> 'string' or e.value #>> '{}' !~ '^[0-9a-f]{64}$') then
    raise exception 'manifest values must be lowercase hex SHA-256 digests' using errcode = 'LMV13';
  end if;
  -- Copying rows of known files refers to their bytes again: not while the sweep is deleting unreferenced ones.
  perform platform_private.lock_site_blobs(v_site.id, false);
  insert into platform.site_deploys (site_id, label, source, status)
    values (v_site.id, coalesce(p_label, ''), 'files', 'pending') returning * into v_deploy;
  insert into platform.site_files (deploy_id, path, sha256, size, content_type, br_size, gz_size)
    select v_deploy.id, e.key, e.value #>> '{}', known.size, known.content_type, known.br_size, known.gz_size
    from jsonb_each(coalesce(p_manifest, '{}')) e
    left join lateral (
      select f.size, f.content_type, f.br_size, f.gz_size from platform.site_files f join platform.site_deploys d on d.id = f.deploy_id
      where d.site_id = v_site.id and f.sha256 = e.value #>> '{}' and f.size is not null limit 1) known on true;
  return query select v_deploy, coalesce((select array_agg(distinct f.sha256 order by f.sha256) from platform.site_files f
    where f.deploy_id = v_deploy.id and f.size is null), '{}');
end $$;

create or replace function platform_private.pending_deploy(p_ref text, p_site_id text, p_deploy_id text) returns platform.site_deploys
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_deploy platform.site_deploys := platform_private.deploy_of(platform_private.site_for_member(p_ref, p_site_id), p_deploy_id);
begin
  select * into v_deploy from platform.site_deploys where id = v_deploy.id for update;
  if v_deploy.status <> 'pending' then
    raise exception 'deploy is %, not pending: files can only change before finalize', v_deploy.status using errcode = 'LMD01';
  end if;
  return v_deploy;
end $$;

-- Records one uploaded file of a pending deploy (its bytes are already stored under their hash).
create or replace function platform.put_site_file(p_ref text, p_site_id text, p_deploy_id text, p_path text, p_sha256 text,
                                                  p_size bigint, p_content_type text, p_max_files integer,
                                                  p_br_size bigint, p_gz_size bigint)
  returns platform.site_files
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_deploy platform.site_deploys := platform_private.pending_deploy(p_ref, p_site_id, p_deploy_id);
  v_file platform.site_files;
begin
  perform platform_private.lock_site_blobs(v_deploy.site_id, false);
  insert into platform.site_files (deploy_id, path, sha256, size, content_type, br_size, gz_size)
    values (v_deploy.id, p_path, p_sha256, p_size, p_content_type, p_br_size, p_gz_size)
    on conflict (deploy_id, path) do update set sha256 = excluded.sha256, size = excluded.size, content_type = excluded.content_type,
      br_size = excluded.br_size, gz_size = excluded.gz_size
    returning * into v_file;
  if (select count(*) from platform.site_files where deploy_id = v_deploy.id) > p_max_files then
    raise exception 'a deploy may hold at most % files', p_max_files using errcode = 'LMD04';
  end if;
  return v_file;
end $$;

create or replace function platform.delete_site_file(p_ref text, p_site_id text, p_deploy_id text, p_path text) returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_deploy platform.site_deploys := platform_private.pending_deploy(p_ref, p_site_id, p_deploy_id);
begin
  delete from platform.site_files where deploy_id = v_deploy.id and path = p_path;
  if not found then raise exception 'File not found' using errcode = 'LMN12'; end if;
end $$;

create or replace function platform.list_site_files(p_ref text, p_site_id text, p_deploy_id text) returns setof platform.site_files
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$
  select f.* from platform.site_files f
  where f.deploy_id = (platform_private.deploy_of(platform_private.site_for_member(p_ref, p_site_id), p_deploy_id)).id
  order by f.path
$$;

-- Makes a deploy ready and the site's staging version. Called by the API (finalize, under the caller's
-- membership) and by the zip job (after unpacking): both hand in the parsed _headers and _redirects rules.
create or replace function platform_private.stage_deploy(p_deploy_id uuid, p_headers jsonb, p_redirects jsonb, p_max_bytes bigint)
  returns platform.site_deploys
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_deploy platform.site_deploys;
  v_missing integer;
  v_count integer;
  v_size bigint;
begin
  select * into v_deploy from platform.site_deploys where id = p_deploy_id for update;
  if not found then raise exception 'Deploy not found' using errcode = 'LMN11'; end if;
  if v_deploy.status not in ('pending', 'processing') then
    raise exception 'deploy is already %', v_deploy.status using errcode = 'LMD01';
  end if;
  select count(*) filter (where size is null), count(*), coalesce(sum(size), 0) into v_missing, v_count, v_size
    from platform.site_files where deploy_id = p_deploy_id;
  if v_count = 0 then raise exception 'the deploy has no files' using errcode = 'LMD02'; end if;
  if v_missing > 0 then
    raise exception '% file(s) of the manifest were not uploaded', v_missing using errcode = 'LMD03';
  end if;
  if v_size > p_max_bytes then
    raise exception 'the deploy is % bytes; at most % are allowed', v_size, p_max_bytes using errcode = 'LMD05';
  end if;
  update platform.site_deploys set status = 'ready', error = null, size = v_size, file_count = v_count, ready_at = now(),
      headers = coalesce(p_headers, '[]'), redirects = coalesce(p_redirects, '[]')
    where id = p_deploy_id returning * into v_deploy;
  update platform.sites set staging_deploy_id = p_deploy_id, updated_at = now() where id = v_deploy.site_id;
  perform platform_private.site_changed((select project_id from platform.sites where id = v_deploy.site_id));
  perform platform_private.queue_site_sweep(v_deploy.site_id);
  return v_deploy;
end $$;

create or replace function platform.finalize_site_deploy(p_ref text, p_site_id text, p_deploy_id text, p_headers jsonb,
                                                         p_redirects jsonb, p_max_bytes bigint)
  returns platform.site_deploys
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_deploy platform.site_deploys := platform_private.pending_deploy(p_ref, p_site_id, p_deploy_id);
begin
  return platform_private.stage_deploy(v_deploy.id, p_headers, p_redirects, p_max_bytes);
end $$;

-- The zip job's outcome when the archive is refused: the deploy fails, nothing is staged or published.
create or replace function platform_private.fail_deploy(p_deploy_id uuid, p_error text) returns void
  language sql volatile security definer set search_path = pg_catalog, pg_temp
as $$
  delete from platform.site_files where deploy_id = p_deploy_id;
  update platform.site_deploys set status = 'failed', error = left(p_error, 1000) where id = p_deploy_id and status = 'processing';
$$;

create or replace function platform_private.add_deploy_files(p_deploy_id uuid, p_files jsonb) returns void
  language sql volatile security definer set search_path = pg_catalog, pg_temp
as $$
  select platform_private.lock_site_blobs((select site_id from platform.site_deploys where id = p_deploy_id), false);
  insert into platform.site_files (deploy_id, path, sha256, size, content_type, br_size, gz_size)
  select p_deploy_id, f->>'path', f->>'sha256', (f->>'size')::bigint, f->>'content_type', (f->>'br_size')::bigint, (f->>'gz_size')::bigint
  from jsonb_array_elements(p_files) f
  on conflict (deploy_id, path) do update set sha256 = excluded.sha256, size = excluded.size, content_type = excluded.content_type,
    br_size = excluded.br_size, gz_size = excluded.gz_size
$$;

-- Publish promotes the staging deploy; rollback makes an earlier ready deploy live. One UPDATE of one row
-- either way: a visitor's request reads the pointer once, so it sees the old version or the new one.
create or replace function platform.publish_site_deploy(p_ref text, p_site_id text, p_deploy_id text) returns platform.sites
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_site platform.sites := platform_private.site_for_member(p_ref, p_site_id);
  v_deploy platform.site_deploys := platform_private.deploy_of(v_site, p_deploy_id);
begin
  select * into v_site from platform.sites where id = v_site.id for update;
  if v_site.staging_deploy_id is distinct from v_deploy.id or v_deploy.status <> 'ready' then
    raise exception 'only the current staging deploy can be published' using errcode = 'LMD06';
  end if;
  update platform.site_deploys set published_at = now() where id = v_deploy.id;
  update platform.sites set live_deploy_id = v_deploy.id, updated_at = now() where id = v_site.id returning * into v_site;
  perform platform_private.site_changed(v_site.project_id);
  perform platform_private.queue_site_sweep(v_site.id);
  return v_site;
end $$;

create or replace function platform.rollback_site_deploy(p_ref text, p_site_id text, p_deploy_id text) returns platform.sites
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_site platform.sites := platform_private.site_for_member(p_ref, p_site_id);
  v_deploy platform.site_deploys := platform_private.deploy_of(v_site, p_deploy_id);
begin
  if v_deploy.status <> 'ready' or v_deploy.published_at is null then
    raise exception 'only a deploy that was published before can be rolled back to' using errcode = 'LMD07';
  end if;
  update platform.sites set live_deploy_id = v_deploy.id, updated_at = now() where id = v_site.id returning * into v_site;
  perform platform_private.site_changed(v_site.project_id);
  perform platform_private.queue_site_sweep(v_site.id);
  return v_site;
end $$;

-- Added, removed and changed paths between two ready deploys of a site, by SHA-256.
create or replace function platform.diff_site_deploys(p_ref text, p_site_id text, p_deploy_id text, p_other_id text)
  returns table (path text, change text)
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_site platform.sites := platform_private.site_for_member(p_ref, p_site_id);
  v_a platform.site_deploys := platform_private.deploy_of(v_site, p_deploy_id);
  v_b platform.site_deploys := platform_private.deploy_of(v_site, p_other_id);
begin
  if v_a.status <> 'ready' or v_b.status <> 'ready' then
    raise exception 'both deploys must be ready' using errcode = 'LMD01';
  end if;
  -- `vs` is the base: added = in this deploy only.
  return query
    select coalesce(a.path, b.path),
           case when b.path is null then 'added' when a.path is null then 'removed' else 'changed' end
    from (select f.path, f.sha256 from platform.site_files f where f.deploy_id = v_a.id) a
    full join (select f.path, f.sha256 from platform.site_files f where f.deploy_id = v_b.id) b on a.path = b.path
    where a.path is null or b.path is null or a.sha256 <> b.sha256
    order by 1;
end $$;

-- For serving (the platform's own connection, no caller): a site by subdomain with its two deploys' rules.
create or replace function platform_private.site_for_serving(p_subdomain text)
  returns table (id uuid, ref text, subdomain text, spa_mode boolean, not_found_page text,
                 live_deploy_id uuid, live_headers jsonb, live_redirects jsonb,
                 staging_deploy_id uuid, staging_headers jsonb, staging_redirects jsonb)
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$
  select s.id, p.ref, s.subdomain, s.spa_mode, s.not_found_page,
         s.live_deploy_id, l.headers, l.redirects, s.staging_deploy_id, st.headers, st.redirects
  from platform.sites s join platform.projects p on p.id = s.project_id and p.deleted_at is null
  left join platform.site_deploys l on l.id = s.live_deploy_id
  left join platform.site_deploys st on st.id = s.staging_deploy_id
  where s.subdomain = p_subdomain
$$;

-- ---- builds from git

-- Null arguments leave a setting as it is; an empty repo_url removes the repository. URLs are checked by the API
-- (which schemes the operator allows is a setting of the process).
create or replace function platform.update_site_build(p_ref text, p_site_id text, p_repo_url text, p_branch text,
    p_install_command text, p_build_command text, p_output_dir text, p_auto_publish boolean, p_build_env jsonb)
  returns platform.sites
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_site platform.sites := platform_private.site_for_member(p_ref, p_site_id);
begin
  if p_build_env is not null and (jsonb_typeof(p_build_env) <> 'object' or exists (
      select 1 from jsonb_each(p_build_env) e
      where e.key !~ '^[A-Za-z_][A-Za-z0-9_]{0,127}$' or jsonb_typeof(e.value) <> 'string' or length(e.value #>> '{}') > 4096)
      or (select count(*) from jsonb_object_keys(p_build_env)) > 100) then
    raise exception 'build_env must be an object of at most 100 NAME: "string value" pairs' using errcode = 'LMV14';
  end if;
  if p_output_dir is not null and p_output_dir <> '' then perform platform_private.validate_site_path(p_output_dir); end if;
  if p_branch is not null and (p_branch !~ '^[A-Za-z0-9._/-]{1,255}$' or p_branch ~ '^[-/.]|\.\.|//|/$|\.lock$') then
    raise exception 'production_branch is not a valid branch name' using errcode = 'LMV14';
  end if;
  update platform.sites set
    repo_url = case when p_repo_url is null then repo_url else nullif(p_repo_url, '') end,
    production_branch = coalesce(p_branch, production_branch),
    install_command = case when p_install_command is null then install_command else nullif(p_install_command, '') end,
    build_command = case when p_build_command is null then build_command else nullif(p_build_command, '') end,
    output_dir = coalesce(p_output_dir, output_dir),
    auto_publish = coalesce(p_auto_publish, auto_publish),
    build_env = coalesce(p_build_env, build_env),
    updated_at = now()
  where id = v_site.id returning * into v_site;
  return v_site;
end $$;

create or replace function platform_private.queue_site_build(p_site platform.sites, p_trigger text) returns platform.site_builds
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_build platform.site_builds;
begin
  if p_site.repo_url is null then
    raise exception 'the site has no repository (set repo_url first)' using errcode = 'LMB01';
  end if;
  insert into platform.site_builds (site_id, trigger, branch) values (p_site.id, p_trigger, p_site.production_branch)
    returning * into v_build;
  -- Builds run for minutes: two queues for all of them (a queue runs one job at a time across all workers), so
  -- they hold at most two job slots and projects keep being provisioned, paused and deleted whatever tenants build.
  perform graphile_worker.add_job('site_build__run', json_build_object('build_id', v_build.id),
    queue_name := 'site-builds:' || (abs(hashtext(p_site.id::text)) % 2), job_key := 'site_build__run:' || v_build.id, max_attempts := 1);
  return v_build;
end $$;

create or replace function platform.create_site_build(p_ref text, p_site_id text) returns platform.site_builds
  language sql volatile security definer set search_path = pg_catalog, pg_temp
as $$ select platform_private.queue_site_build(platform_private.site_for_member(p_ref, p_site_id), 'api') $$;

-- For the webhook, which has no caller: the API checks the signature with the secret first.
create or replace function platform_private.site_webhook(p_ref text, p_site_id text)
  returns table (webhook_secret text, production_branch text)
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$
  select s.webhook_secret, s.production_branch from platform.sites s join platform.projects p on p.id = s.project_id
  where s.id = platform_private.uuid_or_null(p_site_id) and p.ref = p_ref and p.deleted_at is null
$$;

create or replace function platform_private.webhook_build(p_ref text, p_site_id text) returns platform.site_builds
  language sql volatile security definer set search_path = pg_catalog, pg_temp
as $$
  select platform_private.queue_site_build(s, 'webhook') from platform.sites s join platform.projects p on p.id = s.project_id
  where s.id = platform_private.uuid_or_null(p_site_id) and p.ref = p_ref and p.deleted_at is null
$$;

create or replace function platform.list_site_builds(p_ref text, p_site_id text) returns setof platform.site_builds
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$
  select b.* from platform.site_builds b where b.site_id = (platform_private.site_for_member(p_ref, p_site_id)).id
  order by b.created_at desc, b.id
$$;

create or replace function platform.get_site_build(p_ref text, p_site_id text, p_build_id text) returns platform.site_builds
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_site platform.sites := platform_private.site_for_member(p_ref, p_site_id);
  v_build platform.site_builds;
begin
  select b.* into v_build from platform.site_builds b where b.id = platform_private.uuid_or_null(p_build_id) and b.site_id = v_site.id;
  if not found then raise exception 'Build not found' using errcode = 'LMN13'; end if;
  return v_build;
end $$;

-- A queued build is cancelled at once; a running one is asked to stop (its worker kills it within a second).
create or replace function platform.cancel_site_build(p_ref text, p_site_id text, p_build_id text) returns platform.site_builds
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_build platform.site_builds := platform.get_site_build(p_ref, p_site_id, p_build_id);
begin
  if v_build.status not in ('queued', 'running') then
    raise exception 'the build has already finished (%)', v_build.status using errcode = 'LMB02';
  end if;
  update platform.site_builds set cancel_requested = true,
      status = case when status = 'queued' then 'cancelled' else status end,
      finished_at = case when status = 'queued' then now() else finished_at end,
      log = case when status = 'queued' then log || '[cancelled before it started]' || chr(10) else log end
    where id = v_build.id returning * into v_build;
  return v_build;
end $$;

-- The worker's side. Start only moves a queued build, so a build runs at most once.
create or replace function platform_private.start_site_build(p_build_id uuid)
  returns table (build_id uuid, site_id uuid, ref text, repo_url text, branch text, install_command text, build_command text,
                 output_dir text, auto_publish boolean, build_env jsonb)
  language sql volatile security definer set search_path = pg_catalog, pg_temp
as $$
  with started as (
    update platform.site_builds set status = 'running', started_at = now() where id = p_build_id and status = 'queued' returning *
  )
  select b.id, s.id, p.ref, s.repo_url, b.branch, s.install_command, s.build_command, s.output_dir, s.auto_publish, s.build_env
  from started b join platform.sites s on s.id = b.site_id join platform.projects p on p.id = s.project_id
$$;

-- Appends to the log (bounded by the worker) and says whether a cancel was asked for.
create or replace function platform_private.site_build_progress(p_build_id uuid, p_text text) returns boolean
  language sql volatile security definer set search_path = pg_catalog, pg_temp
as $$
  update platform.site_builds set log = log || coalesce(p_text, '') where id = p_build_id returning cancel_requested
$$;

create or replace function platform_private.finish_site_build(p_build_id uuid, p_status text, p_error text, p_deploy_id uuid) returns void
  language sql volatile security definer set search_path = pg_catalog, pg_temp
as $$
  update platform.site_builds set status = p_status, error = left(p_error, 1000), deploy_id = p_deploy_id, finished_at = now()
  where id = p_build_id and status = 'running'
$$;

create or replace function platform_private.create_build_deploy(p_site_id uuid, p_label text) returns platform.site_deploys
  language sql volatile security definer set search_path = pg_catalog, pg_temp
as $$
  insert into platform.site_deploys (site_id, label, source, status) values (p_site_id, left(p_label, 256), 'build', 'processing') returning *
$$;

-- auto_publish: the build's deploy, just staged, goes live.
create or replace function platform_private.publish_staged(p_site_id uuid, p_deploy_id uuid) returns void
  language sql volatile security definer set search_path = pg_catalog, pg_temp
as $$
  update platform.site_deploys set published_at = now() where id = p_deploy_id and site_id = p_site_id and status = 'ready';
  update platform.sites set live_deploy_id = p_deploy_id, updated_at = now() where id = p_site_id and staging_deploy_id = p_deploy_id;
  select platform_private.site_changed((select project_id from platform.sites where id = p_site_id));
$$;

-- Credentials for private repositories: written here, never read back by a caller (the site shows only the
-- public key and whether a token is set).
create or replace function platform.set_site_deploy_key(p_ref text, p_site_id text, p_private text, p_public text) returns text
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_site platform.sites := platform_private.site_for_member(p_ref, p_site_id);
begin
  insert into platform_private.site_build_secrets (site_id, deploy_key_private, deploy_key_public) values (v_site.id, p_private, p_public)
    on conflict (site_id) do update set deploy_key_private = excluded.deploy_key_private, deploy_key_public = excluded.deploy_key_public;
  return p_public;
end $$;

create or replace function platform.set_site_repo_token(p_ref text, p_site_id text, p_token text) returns void
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_site platform.sites := platform_private.site_for_member(p_ref, p_site_id);
begin
  if p_token ~ '[[:cntrl:]]' then
    raise exception 'repo_token must not contain control characters' using errcode = 'LMV14';
  end if;
  insert into platform_private.site_build_secrets (site_id, repo_token) values (v_site.id, nullif(p_token, ''))
    on conflict (site_id) do update set repo_token = excluded.repo_token;
end $$;

-- What the site object shows of them.
create or replace function platform.site_build_credentials(p_ref text, p_site_id text)
  returns table (deploy_key_public text, has_repo_token boolean)
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$
  select k.deploy_key_public, coalesce(k.repo_token is not null, false)
  from (select platform_private.site_for_member(p_ref, p_site_id) s) x
  left join platform_private.site_build_secrets k on k.site_id = (x.s).id
$$;

-- The build job's credentials (the platform's own connection).
create or replace function platform_private.site_build_credentials_for_job(p_site_id uuid)
  returns table (deploy_key_private text, repo_token text)
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$ select k.deploy_key_private, k.repo_token from platform_private.site_build_secrets k where k.site_id = p_site_id $$;

-- ---- custom domains

create or replace function platform_private.validate_domain(p_domain text) returns text
  language plpgsql immutable
as $$
begin
  if p_domain is null or length(p_domain) > 253
     or p_domain !~ '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$' then
    raise exception 'custom_domain must be a lowercase domain name such as www.example.com (letters, digits, hyphens and dots)'
      using errcode = 'LMV40';
  end if;
  return p_domain;
end $$;

-- A new domain gets a new token and is not served until verified; the same domain again changes nothing; an
-- empty one removes it. Checks that need the process's settings (the platform's own domains) are the API's.
create or replace function platform.set_site_domain(p_ref text, p_site_id text, p_domain text) returns platform.sites
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_site platform.sites := platform_private.site_for_member(p_ref, p_site_id);
begin
  if p_domain is null or p_domain is not distinct from v_site.custom_domain then return v_site; end if;
  if p_domain <> '' then perform platform_private.validate_domain(p_domain); end if;
  update platform.sites set custom_domain = nullif(p_domain, ''),
      custom_domain_token = case when p_domain = '' then null else replace(gen_random_uuid()::text, '-', '') end,
      custom_domain_verified_at = null, updated_at = now()
    where id = v_site.id returning * into v_site;
  perform platform_private.site_changed(v_site.project_id);
  return v_site;
end $$;

-- p_published: the values of the TXT records at `_loam-challenge.<domain>`, as the API's DNS lookup found them.
-- The site's token must be among them. If another site holds the domain verified, its ownership is checked
-- again against the same records: still published → 409 (both were published: the owner must remove one);
-- gone → the domain moves to this site and the other stops serving it.
create or replace function platform.verify_site_domain(p_ref text, p_site_id text, p_published text[]) returns platform.sites
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_site platform.sites := platform_private.site_for_member(p_ref, p_site_id);
  v_holder platform.sites;
begin
  if v_site.custom_domain is null then
    raise exception 'the site has no custom domain (set custom_domain first)' using errcode = 'LMN40';
  end if;
  if not (v_site.custom_domain_token = any (coalesce(p_published, '{}'))) then
    raise exception 'no TXT record _loam-challenge.% with the value % was found', v_site.custom_domain, v_site.custom_domain_token
      using errcode = 'LMD40';
  end if;
  -- Two verifications of one domain at once take turns.
  perform pg_advisory_xact_lock(hashtextextended('loam-site-domain:' || v_site.custom_domain, 0));
  select s.* into v_holder from platform.sites s
    where s.custom_domain = v_site.custom_domain and s.custom_domain_verified_at is not null and s.id <> v_site.id for update;
  if found then
    if v_holder.custom_domain_token = any (p_published) then
      raise exception 'the domain % is verified by another site whose TXT record is still published', v_site.custom_domain
        using errcode = 'LMT40';
    end if;
    update platform.sites set custom_domain_verified_at = null, updated_at = now() where id = v_holder.id;
    perform platform_private.site_changed(v_holder.project_id);
  end if;
  update platform.sites set custom_domain_verified_at = now(), updated_at = now() where id = v_site.id returning * into v_site;
  perform platform_private.site_changed(v_site.project_id);
  return v_site;
end $$;

-- For serving (the platform's own connection): the site a verified custom domain names.
create or replace function platform_private.site_for_domain(p_host text) returns table (subdomain text, ref text)
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$
  select s.subdomain, p.ref from platform.sites s join platform.projects p on p.id = s.project_id and p.deleted_at is null
  where s.custom_domain = p_host and s.custom_domain_verified_at is not null
$$;

comment on function platform.get_site(text, text) is 'A site of a project the caller is a member of.';
comment on function platform.update_site(text, text, text, text, boolean, text) is 'Changes a site''s subdomain, name, SPA mode or 404 page.';
comment on function platform.delete_site(text, text) is 'Deletes a site; its files are removed by a job.';
comment on function platform.list_site_deploys(text, text) is 'The deploys of a site, newest first.';
comment on function platform.get_site_deploy(text, text, text) is 'A deploy of a site.';
comment on function platform.create_zip_deploy(text, text, uuid, text) is 'Records a zip deploy and queues its unpacking into staging.';
comment on function platform.open_site_deploy(text, text, text, jsonb, integer) is 'Opens a file-by-file deploy; with a manifest, answers the hashes still to upload.';
comment on function platform.put_site_file(text, text, text, text, text, bigint, text, integer, bigint, bigint) is 'Records an uploaded file of a pending deploy.';
comment on function platform.delete_site_file(text, text, text, text) is 'Removes a file from a pending deploy.';
comment on function platform.list_site_files(text, text, text) is 'The manifest of a deploy.';
comment on function platform.finalize_site_deploy(text, text, text, jsonb, jsonb, bigint) is 'Makes a pending deploy ready and the site''s staging deploy.';
comment on function platform.publish_site_deploy(text, text, text) is 'Makes the site''s staging deploy live.';
comment on function platform.rollback_site_deploy(text, text, text) is 'Makes an earlier published deploy live again.';
comment on function platform.diff_site_deploys(text, text, text, text) is 'Paths added, removed and changed (by SHA-256) between two ready deploys.';
comment on function platform.update_site_build(text, text, text, text, text, text, text, boolean, jsonb) is 'Changes a site''s repository and build settings.';
comment on function platform.create_site_build(text, text) is 'Queues a build of the site from its repository.';
comment on function platform.list_site_builds(text, text) is 'The builds of a site, newest first.';
comment on function platform.get_site_build(text, text, text) is 'A build of a site, with its log.';
comment on function platform.cancel_site_build(text, text, text) is 'Cancels a queued or running build.';
comment on function platform.set_site_deploy_key(text, text, text, text) is 'Stores a site''s SSH deploy key (the private half is never read back).';
comment on function platform.set_site_repo_token(text, text, text) is 'Stores (or, empty, removes) a site''s https repository token; never read back.';
comment on function platform.site_build_credentials(text, text) is 'The public deploy key of a site and whether it has a repository token.';
comment on function platform.set_site_domain(text, text, text) is 'Sets (empty: removes) a site''s custom domain; it is served once verified.';
comment on function platform.verify_site_domain(text, text, text[]) is 'Marks a site''s custom domain verified when its TXT record is published (the API looks it up).';
