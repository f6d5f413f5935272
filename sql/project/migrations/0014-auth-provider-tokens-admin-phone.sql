-- Auth (issue 16): the provider's tokens in the PKCE code exchange, as GoTrue answers it (provider_token,
-- provider_refresh_token from the flow of an OAuth sign-in).

-- PKCE exchange: the code once, with the verifier whose SHA-256 (base64url) is the stored challenge. The session,
-- with the provider's tokens the OAuth callback kept in the flow (none for email flows).
create or replace function auth.exchange_code(p_code text, p_verifier text, p_ip text, p_user_agent text) returns jsonb
  language plpgsql volatile
as $$
declare
  v_flow auth.flow_state;
  v_computed text;
begin
  select * into v_flow from auth.flow_state where auth_code = p_code for update;
  if not found or v_flow.user_id is null then
    raise exception 'invalid flow state, no valid flow state found' using errcode = 'LMU10';
  end if;
  if coalesce(v_flow.auth_code_issued_at, v_flow.created_at) + interval '5 minutes' < now() then
    raise exception 'invalid flow state, flow state has expired' using errcode = 'LMU11';
  end if;
  v_computed := case v_flow.code_challenge_method
    when 's256' then rtrim(translate(encode(sha256(convert_to(p_verifier, 'UTF8')), 'base64'), E'+/\n', '-_'), '=')
    else p_verifier end;
  if v_computed <> v_flow.code_challenge then
    raise exception 'code challenge does not match previously saved code verifier' using errcode = 'LMU12';
  end if;
  delete from auth.flow_state where id = v_flow.id;
  return auth.start_session(v_flow.user_id, v_flow.authentication_method, p_ip, p_user_agent)
    || jsonb_strip_nulls(jsonb_build_object('provider_token', nullif(v_flow.provider_access_token, ''),
                                            'provider_refresh_token', nullif(v_flow.provider_refresh_token, '')));
end $$;
