-- Sites, continued: custom domains proven by a DNS TXT record, and the sweep of content-addressed files no
-- deploy refers to any more.

-- A site's custom domain is served (by Host header) only once verified: Loam gives a random token, the owner
-- publishes it as the TXT record `_loam-challenge.<domain>`, and the verify call finds it through DNS. At most
-- one site of the whole platform holds a domain verified (the partial unique index); another site may claim the
-- same name but serves it only after proving ownership itself, which takes it from the holder
-- (platform.verify_site_domain).
alter table platform.sites
  add column custom_domain text check (custom_domain is null or (length(custom_domain) <= 253
    and custom_domain ~ '^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]([a-z0-9-]{0,61}[a-z0-9])?$')),
  add column custom_domain_token text check (custom_domain_token is null or custom_domain_token ~ '^[0-9a-f]{32}$'),
  add column custom_domain_verified_at timestamptz,
  add constraint sites_custom_domain_token check ((custom_domain is null) = (custom_domain_token is null)),
  add constraint sites_custom_domain_verified check (custom_domain_verified_at is null or custom_domain is not null);
create unique index sites_custom_domain_verified_key on platform.sites (custom_domain) where custom_domain_verified_at is not null;
create index sites_custom_domain_idx on platform.sites (custom_domain) where custom_domain is not null;
comment on column platform.sites.custom_domain is 'A domain of the owner''s, served once verified (DNS TXT record _loam-challenge.<domain> = custom_domain_token).';
comment on column platform.sites.custom_domain_token is 'The value to publish in the TXT record _loam-challenge.<custom_domain>.';
comment on column platform.sites.custom_domain_verified_at is 'When ownership of custom_domain was last proven; null: not served.';
