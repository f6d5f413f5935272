-- Per-project auth settings: defaults, reads (members; the data plane), validated updates. Field names are the
-- Supabase Management API's, so its clients (CLI, Terraform) read and write them unchanged.

create or replace function platform_private.auth_config_defaults() returns jsonb
  language sql immutable
as $$
  select jsonb_build_object(
    'site_url', 'http://localhost:3000',
    'uri_allow_list', '',
    'disable_signup', false,
    'external_email_enabled', true,
    'external_anonymous_users_enabled', false,
    'mailer_autoconfirm', false,
    'mailer_secure_email_change_enabled', true,
    'mailer_otp_exp', 3600,
    'mailer_otp_length', 6,
    'jwt_exp', 3600,
    'password_min_length', 6,
    'password_required_characters', '',
    'refresh_token_rotation_enabled', true,
    'security_update_password_require_reauthentication', false,
    -- A Postgres function that may change an access token's claims: pg-functions://postgres/<schema>/<name>.
    'hook_custom_access_token_enabled', false,
    'hook_custom_access_token_uri', null,
    'security_refresh_token_reuse_interval', 10,
    'sessions_timebox', 0,
    'smtp_admin_email', null,
    'smtp_host', null,
    'smtp_port', null,
    'smtp_user', null,
    'smtp_pass', null,
    'smtp_sender_name', null,
    'smtp_max_frequency', 60,
    -- Per hour, per email address.
    'rate_limit_email_sent', 30,
    -- Per 5 minutes, per IP address (GoTrue's windows).
    'rate_limit_token_refresh', 150,
    'rate_limit_verify', 30,
    'rate_limit_otp', 30,
    -- Per hour, per IP address.
    'rate_limit_anonymous_users', 30,
    'mailer_subjects_confirmation', 'Confirm your signup',
    'mailer_subjects_recovery', 'Reset your password',
    'mailer_subjects_magic_link', 'Your sign-in link',
    'mailer_subjects_invite', 'You have been invited',
    'mailer_subjects_email_change', 'Confirm your new email address',
    'mailer_subjects_reauthentication', 'Confirm it is you',
    'mailer_templates_confirmation_content',
      E'<h2>Confirm your signup</h2>\n<p><a href="{{ .ConfirmationURL }}">Confirm your email address</a></p>\n<p>Or enter this code: {{ .Token }}</p>',
    'mailer_templates_recovery_content',
      E'<h2>Reset your password</h2>\n<p><a href="{{ .ConfirmationURL }}">Choose a new password</a></p>\n<p>Or enter this code: {{ .Token }}</p>',
    'mailer_templates_magic_link_content',
      E'<h2>Sign in</h2>\n<p><a href="{{ .ConfirmationURL }}">Sign in to {{ .SiteURL }}</a></p>\n<p>Or enter this code: {{ .Token }}</p>',
    'mailer_templates_invite_content',
      E'<h2>You have been invited</h2>\n<p>You have been invited to {{ .SiteURL }}. <a href="{{ .ConfirmationURL }}">Accept the invitation</a></p>\n<p>Or enter this code: {{ .Token }}</p>',
    'mailer_templates_reauthentication_content',
      E'<h2>Confirm it is you</h2>\n<p>Enter this code: {{ .Token }}</p>',
    'mailer_templates_email_change_content',
      E'<h2>Confirm your new email address</h2>\n<p><a href="{{ .ConfirmationURL }}">Change your email from {{ .Email }} to {{ .NewEmail }}</a></p>\n<p>Or enter this code: {{ .Token }}</p>')
  -- OAuth / OIDC providers (server/src/auth/oauth.ts): keycloak (any OIDC issuer at external_keycloak_url) and
  -- google; client ids may be a comma-separated list (the first is used for /authorize, all for id_token).
  || jsonb_build_object(
    'external_keycloak_enabled', false, 'external_keycloak_client_id', null, 'external_keycloak_secret', null,
    'external_keycloak_url', null,
    'external_google_enabled', false, 'external_google_client_id', null, 'external_google_secret', null,
    'external_google_skip_nonce_check', false,
    'security_manual_linking_enabled', false)
  -- Phone / SMS, auth hooks and Web3 sign-in (server/src/auth/phone.ts, hooks.ts, web3.ts). A hook URI is
  -- pg-functions://postgres/<schema>/<function> or an http(s) URL; its secrets are Standard Webhooks secrets
  -- ("v1,whsec_<base64>", several separated by "|"). sms_test_otp: "<number>=<code>,…".
  || jsonb_build_object(
    'external_phone_enabled', false, 'sms_autoconfirm', false, 'sms_otp_exp', 60, 'sms_otp_length', 6,
    'sms_max_frequency', 60, 'sms_template', 'Your code is {{ .Code }}', 'sms_test_otp', null,
    'sms_test_otp_valid_until', null, 'sms_provider', 'twilio', 'sms_twilio_account_sid', null,
    'sms_twilio_auth_token', null, 'sms_twilio_message_service_sid', null,
    -- Per hour, for the whole project (GoTrue's limit is per instance).
    'rate_limit_sms_sent', 30,
    'mfa_phone_enroll_enabled', false, 'mfa_phone_verify_enabled', false, 'mfa_phone_otp_length', 6,
    'mfa_phone_template', 'Your code is {{ .Code }}', 'mfa_phone_max_frequency', 5,
    'hook_custom_access_token_secrets', null,
    'hook_send_sms_enabled', false, 'hook_send_sms_uri', null, 'hook_send_sms_secrets', null,
    'hook_send_email_enabled', false, 'hook_send_email_uri', null, 'hook_send_email_secrets', null,
    'hook_mfa_verification_attempt_enabled', false, 'hook_mfa_verification_attempt_uri', null,
    'hook_mfa_verification_attempt_secrets', null,
    'hook_password_verification_attempt_enabled', false, 'hook_password_verification_attempt_uri', null,
    'hook_password_verification_attempt_secrets', null,
    'hook_before_user_created_enabled', false, 'hook_before_user_created_uri', null,
    'hook_before_user_created_secrets', null,
    'external_web3_ethereum_enabled', false, 'external_web3_solana_enabled', false)
  -- SSO with SAML 2.0 and the OAuth 2.0 providers that are not OpenID Connect issuers (server/src/auth/sso.ts,
  -- server/src/auth/oauth-providers.ts). `external_<p>_url` is GoTrue's GOTRUE_EXTERNAL_<P>_URL: a self-hosted
  -- GitLab, GitHub Enterprise, … (Supabase's API names only the GitLab and Azure ones; Loam takes all).
  -- Azure is an OpenID Connect issuer: `external_azure_url` is its tenant's issuer URL.
  || jsonb_build_object(
    'saml_enabled', false, 'saml_external_url', null,
    'external_github_enabled', false, 'external_github_client_id', null, 'external_github_secret', null, 'external_github_url', null,
    'external_gitlab_enabled', false, 'external_gitlab_client_id', null, 'external_gitlab_secret', null, 'external_gitlab_url', null,
    'external_discord_enabled', false, 'external_discord_client_id', null, 'external_discord_secret', null, 'external_discord_url', null,
    'external_bitbucket_enabled', false, 'external_bitbucket_client_id', null, 'external_bitbucket_secret', null,
    'external_bitbucket_url', null,
    'external_azure_enabled', false, 'external_azure_client_id', null, 'external_azure_secret', null, 'external_azure_url', null)
  -- The other providers of oauth-providers.ts; Supabase's API names none of their URLs (GoTrue's
  -- GOTRUE_EXTERNAL_<P>_URL). `external_apple_url` is Loam's: GoTrue ignores an Apple URL; Loam moves Apple's
  -- endpoints and issuer there (an Apple-compatible server, a test's).
  || jsonb_build_object(
    'external_apple_url', null, 'external_facebook_url', null, 'external_x_url', null, 'external_slack_oidc_url', null, 'external_slack_url', null,
    'external_spotify_url', null, 'external_twitch_url', null, 'external_notion_url', null, 'external_zoom_url', null,
    'external_figma_url', null, 'external_kakao_url', null, 'external_linkedin_oidc_url', null, 'external_twitter_url', null)
  -- WebAuthn MFA factors and passkeys (server/src/auth/webauthn.ts): the relying party is webauthn_rp_id (else
  -- site_url's host), the origins webauthn_rp_origins (comma-separated; else site_url's origin).
  || jsonb_build_object(
    'mfa_web_authn_enroll_enabled', false, 'mfa_web_authn_verify_enabled', false, 'passkey_enabled', false,
    'webauthn_rp_id', null, 'webauthn_rp_display_name', null, 'webauthn_rp_origins', null)
  -- OAuth 2.1 server (server/src/auth/oauth-server.ts): the project's auth as an identity provider for other apps.
  || jsonb_build_object(
    'oauth_server_enabled', false, 'oauth_server_allow_dynamic_registration', false,
    'oauth_server_authorization_path', null)
$$;

-- Everything the data plane needs, secrets included (read by the platform itself, never by a caller).
create or replace function platform_private.auth_config(p_ref text) returns jsonb
  language sql stable security definer set search_path = pg_catalog, pg_temp
as $$
  select platform_private.auth_config_defaults() || coalesce(c.settings, '{}')
         || jsonb_build_object('smtp_pass', c.smtp_pass)
  from platform.projects p left join platform_private.auth_configs c on c.project_id = p.id
  where p.ref = p_ref and p.deleted_at is null
$$;

-- A member's view: the SMTP password is never shown.
create or replace function platform.auth_config(p_ref text) returns jsonb
  language plpgsql stable security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_member(p_ref);
begin
  return platform_private.auth_config_defaults()
    || coalesce((select c.settings from platform_private.auth_configs c where c.project_id = v_project.id), '{}');
end $$;
comment on function platform.auth_config(text) is 'Auth settings of a project (Supabase field names), without the SMTP password.';

-- PATCH semantics: only the given fields change; null puts a field back to its default.
create or replace function platform.update_auth_config(p_ref text, p_patch jsonb) returns jsonb
  language plpgsql volatile security definer set search_path = pg_catalog, pg_temp
as $$
declare
  v_project platform.projects := platform.project_for_role(p_ref, 'project.settings');
  v_defaults jsonb := platform_private.auth_config_defaults();
  v_key text;
  v_value jsonb;
  v_want text;
  v_settings jsonb;
  v_schema jsonb := platform_private.auth_config_schema();
  v_field jsonb;
  v_num numeric;
  v_int_min jsonb := '{"mailer_otp_exp": 1, "mailer_otp_length": 6, "jwt_exp": 30, "password_min_length": 6,
    "security_refresh_token_reuse_interval": 0, "sessions_timebox": 0, "smtp_max_frequency": 0,
    "rate_limit_email_sent": 1, "rate_limit_token_refresh": 1, "rate_limit_verify": 1, "rate_limit_otp": 1,
    "rate_limit_anonymous_users": 1}';
  v_int_max jsonb := '{"mailer_otp_exp": 86400, "mailer_otp_length": 10, "jwt_exp": 604800, "password_min_length": 72}';
begin
  if p_patch is null or jsonb_typeof(p_patch) <> 'object' then
    raise exception 'body must be a JSON object' using errcode = 'LMU19';
  end if;
  select coalesce(c.settings, '{}') into v_settings from platform_private.auth_configs c where c.project_id = v_project.id;
  v_settings := coalesce(v_settings, '{}');
  for v_key, v_value in select * from jsonb_each(p_patch) loop
    -- Known fields: Supabase's whole schema (auth-config-fields.sql) and Loam's defaults.
    v_field := coalesce(v_schema -> v_key, '{}');
    if not (v_defaults ? v_key or v_schema ? v_key) then
      raise exception 'unknown auth config field: %', v_key using errcode = 'LMU19';
    end if;
    if v_key = 'smtp_pass' then
      continue;
    end if;
    if jsonb_typeof(v_value) = 'null' then
      v_settings := v_settings - v_key;
      continue;
    end if;
    v_want := coalesce(v_field ->> 'type', nullif(jsonb_typeof(v_defaults -> v_key), 'null'), 'string');
    if jsonb_typeof(v_value) <> replace(v_want, 'integer', 'number') then
      raise exception '% must be % %', v_key, case when v_want = 'integer' then 'an' else 'a' end, v_want using errcode = 'LMU19';
    end if;
    if v_want in ('number', 'integer') then
      v_num := (v_value #>> '{}')::numeric;
      if (v_want = 'integer' and v_num <> trunc(v_num))
         or v_num < greatest((v_int_min ->> v_key)::numeric, (v_field ->> 'min')::numeric)
         or v_num > least((v_int_max ->> v_key)::numeric, (v_field ->> 'max')::numeric) then
        raise exception '% must be % between % and %', v_key, replace(replace(v_want, 'integer', 'an integer'), 'number', 'a number'),
          coalesce(greatest((v_int_min ->> v_key)::numeric, (v_field ->> 'min')::numeric), 0),
          coalesce(least((v_int_max ->> v_key)::numeric, (v_field ->> 'max')::numeric), 2147483647) using errcode = 'LMU19';
      end if;
    end if;
    if v_want = 'string' then
      -- Loam's password_required_characters takes any ':'-separated character sets, not only Supabase's three.
      if v_field ? 'enum' and v_key <> 'password_required_characters' and not (v_field -> 'enum') @> jsonb_build_array(v_value) then
        raise exception '% must be one of: %', v_key, (select string_agg(quote_literal(e), ', ') from jsonb_array_elements_text(v_field -> 'enum') e)
          using errcode = 'LMU19';
      end if;
      if v_field ? 'pattern' and (v_value #>> '{}') !~ (v_field ->> 'pattern') then
        raise exception '% must match the pattern %', v_key, v_field ->> 'pattern' using errcode = 'LMU19';
      end if;
      if v_field ->> 'format' = 'date-time' and (v_value #>> '{}') !~ '^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$' then
        raise exception '% must be a date-time (RFC 3339)', v_key using errcode = 'LMU19';
      end if;
      if v_field ->> 'format' = 'email' and (v_value #>> '{}') <> '' and (v_value #>> '{}') !~ '^[^@\s]+@[^@\s]+$' then
        raise exception '% must be an email address', v_key using errcode = 'LMU19';
      end if;
    end if;
    -- Hooks, SMS and phone MFA settings (phone branch).
    if v_key ~ '^hook_[a-z_]+_uri$' and (v_value #>> '{}') !~ '^pg-functions://[^/]+/[a-z_][a-z0-9_]*/[a-z_][a-z0-9_]*$'
       and (v_value #>> '{}') !~ '^https?://[^\s/@]+(/\S*)?$' then
      raise exception '% must be pg-functions://postgres/<schema>/<function> or an http(s) URL', v_key using errcode = 'LMU19';
    end if;
    if v_key ~ '^hook_[a-z_]+_secrets$' and (v_value #>> '{}') !~ '^v1,whsec_[A-Za-z0-9+/=]+(\|v1,whsec_[A-Za-z0-9+/=]+)*$' then
      raise exception '% must be v1,whsec_<base64> secrets separated by |', v_key using errcode = 'LMU19';
    end if;
    if v_key = 'sms_test_otp' and (v_value #>> '{}') !~ '^\s*(\+?[0-9 ]+=[0-9]+\s*(,\s*\+?[0-9 ]+=[0-9]+\s*)*)?$' then
      raise exception 'sms_test_otp must be <phone>=<code> pairs separated by commas' using errcode = 'LMU19';
    end if;
    if v_key = 'sms_test_otp_valid_until' and (v_value #>> '{}') !~ '^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$' then
      raise exception 'sms_test_otp_valid_until must be an RFC 3339 timestamp' using errcode = 'LMU19';
    end if;
    if (v_key in ('sms_otp_length', 'mfa_phone_otp_length') and (v_value #>> '{}')::numeric not between 6 and 10)
       or (v_key in ('sms_otp_exp', 'rate_limit_sms_sent') and (v_value #>> '{}')::numeric < 1) then
      raise exception '% is out of range', v_key using errcode = 'LMU19';
    end if;
    if v_key = 'site_url' and (v_value #>> '{}') !~ '^https?://[^\s/]+' then
      raise exception 'site_url must be an http(s) URL' using errcode = 'LMU19';
    end if;
    v_settings := v_settings || jsonb_build_object(v_key, v_value);
  end loop;
  insert into platform_private.auth_configs as c (project_id, settings, smtp_pass)
    values (v_project.id, v_settings, p_patch ->> 'smtp_pass')
    on conflict (project_id) do update
      set settings = excluded.settings, updated_at = now(),
          smtp_pass = case when p_patch ? 'smtp_pass' then p_patch ->> 'smtp_pass' else c.smtp_pass end;
  return platform.auth_config(p_ref);
end $$;
comment on function platform.update_auth_config(text, jsonb) is 'Changes some auth settings of a project; null resets a field to its default.';

drop function if exists platform_private.auth_rate_limit(text, integer, integer);

-- Every API process caches auth settings with the project runtime; a change drops both everywhere.
create or replace function platform_private.notify_auth_config_changed() returns trigger
  language plpgsql security definer set search_path = pg_catalog, pg_temp
as $$
begin
  perform pg_notify('loam_project_changed', (select p.ref from platform.projects p where p.id = new.project_id));
  return null;
end $$;

drop trigger if exists _200_notify on platform_private.auth_configs;
create trigger _200_notify after insert or update on platform_private.auth_configs
  for each row execute function platform_private.notify_auth_config_changed();
