-- The access token each audited action was taken with (a reveal of database credentials names the token that saw
-- the password, as a secret reveal does). No foreign key: the record outlives a revoked token.
alter table platform.audit_log add column token_id uuid;
comment on column platform.audit_log.token_id is 'The access token the action was taken with (platform.current_token_id()), null when none.';

-- Rate-limit rows of keys that never come back (one per client address of the discovery endpoints and of auth's
-- per-address limits) are swept by rate_limit_hit() through this index rather than kept for good.
create index rate_limits_window_start on platform_private.rate_limits (window_start);
