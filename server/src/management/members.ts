// Organization members and invitations (Supabase's team shapes: role names Owner, Administrator, Developer,
// Read-only): change a role, remove a member, invite by email, list and withdraw invitations, accept one. What a
// role may do is decided in SQL (0-roles.sql, organizations.sql); these handlers validate and render.
import crypto from 'node:crypto';
import { Router } from 'express';
import { config } from '../../../db/src/config.ts';
import { ApiError, errors } from '../errors.ts';
import { body, param, str } from '../validate.ts';
import { authenticate, callerQuery, scope, sha256 } from './session.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const memberNotFound = () => new ApiError(404, 'member_not_found', 'Member not found');
const invitationNotFound = () => new ApiError(404, 'invitation_not_found', 'Invitation not found');

interface InvitationRow { id: string; email: string; role: string; invited_at: Date; expires_at: Date }
const invitationJson = (i: InvitationRow) => ({
  id: i.id, email: i.email, role_name: i.role, invited_at: i.invited_at.toISOString(), expires_at: i.expires_at.toISOString(),
});

interface MemberRow { account_id: string; role: string; email: string; full_name: string | null }
/** A member as GET /members lists them. */
const memberJson = (m: MemberRow) =>
  ({ user_id: m.account_id, user_name: m.full_name ?? m.email, email: m.email, role_name: m.role, mfa_enabled: false });

function roleName(raw: unknown): string {
  return str(body(raw), 'role_name', { required: true, max: 32 });
}

export const members = Router();
members.use('/organizations/:slug/members', authenticate, scope('organizations'));

members.get('/organizations/:slug/members/invitations', async (req, res) => {
  const rows = await callerQuery<InvitationRow & { found: boolean }>(res,
    `select i.*, o.id is not null as found from platform.organizations o
     left join platform.organization_invitations i on i.organization_id = o.id and i.accepted_at is null
     where o.slug = $1 order by i.invited_at, i.id`, [param(req, 'slug')]);
  if (!rows.length) throw new ApiError(404, 'organization_not_found', 'Organization not found');
  res.json(rows.filter((r) => r.id).map(invitationJson));
});

members.post('/organizations/:slug/members/invitations', async (req, res) => {
  const b = body(req.body);
  const email = str(b, 'email', { required: true, max: 320 });
  const role = roleName(b);
  const token = crypto.randomBytes(24).toString('hex');
  const [row] = await callerQuery<InvitationRow>(res, 'select * from platform.invite_member($1, $2, $3, $4, $5, $6)',
    [param(req, 'slug'), email, role, token, sha256(token), `${config.publicUrl}/invitations/{token}`]);
  res.status(201).json(invitationJson(row));
});

members.delete('/organizations/:slug/members/invitations/:id', async (req, res) => {
  const id = param(req, 'id');
  if (!UUID.test(id)) throw invitationNotFound();
  const [row] = await callerQuery<InvitationRow>(res, 'select * from platform.delete_invitation($1, $2)', [param(req, 'slug'), id]);
  res.json(invitationJson(row));
});

members.patch('/organizations/:slug/members/:user_id', async (req, res) => {
  const id = param(req, 'user_id');
  const role = roleName(req.body);
  if (!UUID.test(id)) throw memberNotFound();
  const [m] = await callerQuery<MemberRow>(res,
    `select m.account_id, m.role, a.email, a.full_name from platform.update_member_role($1, $2, $3) m
     join platform.accounts a on a.id = m.account_id`, [param(req, 'slug'), id, role]);
  res.json(memberJson(m));
});

members.delete('/organizations/:slug/members/:user_id', async (req, res) => {
  const id = param(req, 'user_id');
  if (!UUID.test(id)) throw memberNotFound();
  const [m] = await callerQuery<MemberRow>(res, 'select * from platform.remove_member($1, $2)', [param(req, 'slug'), id]);
  res.json(memberJson(m));
});

// The organization's audit log (role changes, invitations, credential reveals, service restarts), newest first.
members.get('/organizations/:slug/audit', authenticate, scope('organizations', 'read'), async (req, res) => {
  const limit = req.query.limit === undefined ? 100 : Number(req.query.limit);
  if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw errors.invalidBody('limit must be an integer from 1 to 1000');
  const rows = await callerQuery(res, `
    select l.id::text, l.action, l.target, p.ref as project_ref, l.account_id as user_id, a.email, l.token_id, l.created_at
    from platform.audit_log l join platform.organizations o on o.id = l.organization_id
    left join platform.projects p on p.id = l.project_id
    left join platform.accounts a on a.id = l.account_id
    where o.slug = $1 order by l.id desc limit $2`, [param(req, 'slug'), limit]);
  res.json(rows);
});

export const invitations = Router();

invitations.post('/invitations/:token/accept', authenticate, scope('organizations', 'write'), async (req, res) => {
  const token = param(req, 'token');
  if (!/^[0-9a-f]{48}$/.test(token)) throw invitationNotFound();
  const [row] = await callerQuery(res, 'select * from platform.accept_invitation($1)', [sha256(token)]);
  res.json(row);
});
