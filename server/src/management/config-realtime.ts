// A project's realtime settings: GET/PATCH /v1/projects/{ref}/config/realtime, with Supabase's field names.
// A limit left unset is the platform's default (server/src/realtime/limits.ts), which GET shows.
import { Router } from 'express';
import { errors } from '../errors.ts';
import { DEFAULT_LIMITS, forgetRealtimeLimits, type RealtimeLimits } from '../realtime/limits.ts';
import { body, bool, param } from '../validate.ts';
import { authenticate, callerQuery, scope } from './session.ts';

export const configRealtime = Router();
configRealtime.use('/projects/:ref/config/realtime', authenticate, scope('projects'));

type Row = { private_only: boolean } & { [K in keyof RealtimeLimits]: number | null };
const LIMITS: [keyof RealtimeLimits, number][] = [
  ['max_concurrent_users', 1_000_000], ['max_events_per_second', 1_000_000], ['max_payload_size_in_kb', 10_000], ['max_channels_per_client', 10_000], ['max_joins_per_second', 1_000_000],
];

const json = (r: Row) => ({
  private_only: r.private_only,
  ...Object.fromEntries(LIMITS.map(([k]) => [k, r[k] ?? DEFAULT_LIMITS[k]])),
});

configRealtime.get('/projects/:ref/config/realtime', async (req, res) => {
  const [row] = await callerQuery<Row>(res, 'select * from platform.realtime_config($1)', [param(req, 'ref')]);
  res.json(json(row));
});

configRealtime.patch('/projects/:ref/config/realtime', async (req, res) => {
  const b = body(req.body);
  const values = LIMITS.map(([k, max]) => {
    const v = b[k];
    if (v === undefined) return null;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > max) throw errors.invalidBody(`${k} must be an integer between 1 and ${max}`);
    return v;
  });
  const [row] = await callerQuery<Row>(res, 'select * from platform.update_realtime_config($1, $2, $3, $4, $5, $6, $7)',
    [param(req, 'ref'), bool(b, 'private_only') ?? null, ...values]);
  forgetRealtimeLimits(param(req, 'ref'));
  res.json(json(row));
});
