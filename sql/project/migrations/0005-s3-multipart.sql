-- S3 multipart uploads (the /storage/v1/s3 protocol), with Supabase's table names: an upload in progress, and the
-- parts received for it. A part's bytes are stored under `<ref>/parts/<version uuid>` (never a path derived from
-- the key, and a version read back that is not a UUID names nothing); the object itself appears only at
-- CompleteMultipartUpload, through the same row insert (and RLS check on storage.objects) as any upload.
-- Requests run as the caller: service_role (S3 access keys) bypasses RLS, a user (session token) sees only the
-- uploads it started.

create table storage.s3_multipart_uploads (
  id text primary key,
  in_progress_size bigint not null default 0,
  upload_signature text not null default '',
  bucket_id text not null references storage.buckets (id),
  key text not null collate "C",
  version text not null,
  owner_id text,
  created_at timestamptz not null default now(),
  user_metadata jsonb,
  metadata jsonb not null default '{}'
);
create index s3_multipart_uploads_list_idx on storage.s3_multipart_uploads (bucket_id, key, created_at);
comment on table storage.s3_multipart_uploads is 'S3 multipart uploads in progress.';

create table storage.s3_multipart_uploads_parts (
  id uuid primary key default gen_random_uuid(),
  upload_id text not null references storage.s3_multipart_uploads (id) on delete cascade,
  size bigint not null default 0,
  part_number integer not null check (part_number between 1 and 10000),
  bucket_id text not null references storage.buckets (id),
  key text not null collate "C",
  etag text not null,
  owner_id text,
  version text not null,
  created_at timestamptz not null default now(),
  unique (upload_id, part_number)
);
comment on table storage.s3_multipart_uploads_parts is 'Parts received for S3 multipart uploads.';

alter table storage.s3_multipart_uploads enable row level security;
alter table storage.s3_multipart_uploads_parts enable row level security;
grant select, insert, update, delete on storage.s3_multipart_uploads, storage.s3_multipart_uploads_parts
  to authenticated, service_role;

create policy all_owner on storage.s3_multipart_uploads for all to authenticated
  using (owner_id = (select auth.uid())::text) with check (owner_id = (select auth.uid())::text);
create policy all_owner on storage.s3_multipart_uploads_parts for all to authenticated
  using (owner_id = (select auth.uid())::text) with check (owner_id = (select auth.uid())::text);
