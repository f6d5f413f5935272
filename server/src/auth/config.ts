// A project's auth settings (Supabase field names, defaults filled in by SQL), cached per process and dropped
// when the control database announces a change (a PATCH of /config/auth, a key rotation, a pause).
import { controlPool } from '../../../db/src/pools.ts';
import { projectCache } from '../../../db/src/projects.ts';

export interface AuthConfig {
  site_url: string;
  uri_allow_list: string;
  disable_signup: boolean;
  external_email_enabled: boolean;
  external_anonymous_users_enabled: boolean;
  security_manual_linking_enabled: boolean;
  /** SSO with SAML 2.0 (sso.ts). */
  saml_enabled?: boolean;
  saml_external_url?: string | null;
  [external: `external_${string}`]: unknown;
  mailer_autoconfirm: boolean;
  mailer_secure_email_change_enabled: boolean;
  mailer_otp_exp: number;
  mailer_otp_length: number;
  jwt_exp: number;
  password_min_length: number;
  password_required_characters: string;
  refresh_token_rotation_enabled: boolean;
  security_update_password_require_reauthentication: boolean;
  hook_custom_access_token_enabled: boolean;
  hook_custom_access_token_uri: string | null;
  security_refresh_token_reuse_interval: number;
  /** Seconds; 0 means sessions do not end by age. */
  sessions_timebox: number;
  smtp_admin_email: string | null;
  smtp_host: string | null;
  smtp_port: string | null;
  smtp_user: string | null;
  smtp_pass: string | null;
  smtp_sender_name: string | null;
  smtp_max_frequency: number;
  rate_limit_email_sent: number;
  rate_limit_token_refresh: number;
  rate_limit_verify: number;
  rate_limit_otp: number;
  rate_limit_anonymous_users: number;
  [template: `mailer_${string}`]: unknown;
  // Phone / SMS and phone MFA (phone.ts, mfa.ts); hooks are `hook_<name>_{enabled,uri,secrets}` (hooks.ts).
  sms_autoconfirm: boolean;
  sms_otp_exp: number;
  sms_otp_length: number;
  sms_max_frequency: number;
  sms_template: string;
  sms_test_otp: string | null;
  sms_test_otp_valid_until: string | null;
  sms_provider: string;
  sms_twilio_account_sid: string | null;
  sms_twilio_auth_token: string | null;
  sms_twilio_message_service_sid: string | null;
  rate_limit_sms_sent: number;
  [mfa: `mfa_${string}`]: unknown;
  [hook: `hook_${string}`]: unknown;
  // WebAuthn MFA and passkeys (webauthn.ts).
  mfa_web_authn_enroll_enabled: boolean;
  mfa_web_authn_verify_enabled: boolean;
  passkey_enabled: boolean;
  webauthn_rp_id: string | null;
  webauthn_rp_display_name: string | null;
  webauthn_rp_origins: string | null;
  // OAuth 2.1 server (oauth-server.ts).
  oauth_server_enabled: boolean;
  oauth_server_allow_dynamic_registration: boolean;
  oauth_server_authorization_path: string | null;
}

const configs = projectCache(async (ref) =>
  (await controlPool().query('select platform_private.auth_config($1) as c', [ref])).rows[0].c as AuthConfig);

export const authConfig = (ref: string): Promise<AuthConfig> => configs.get(ref);

/** `*` matches within a path segment or host label, `**` matches anything (GoTrue's glob semantics, roughly). */
function globToRegExp(glob: string): RegExp {
  const body = glob.split('**').map((part) => part.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/.]*')).join('.*');
  return new RegExp(`^${body}$`);
}

/** The redirect a request asked for if the project allows it (same host as site_url, or in uri_allow_list),
 *  else site_url — an open redirect would hand tokens to anyone. */
export function allowedRedirect(cfg: AuthConfig, requested: string | undefined): string {
  if (!requested) return cfg.site_url;
  let url: URL;
  try { url = new URL(requested); } catch { return cfg.site_url; }
  try {
    if (url.host === new URL(cfg.site_url).host) return requested;
  } catch { /* site_url is validated on write */ }
  for (const entry of cfg.uri_allow_list.split(',').map((s) => s.trim()).filter(Boolean)) {
    if (entry === requested || globToRegExp(entry).test(requested)) return requested;
  }
  return cfg.site_url;
}
