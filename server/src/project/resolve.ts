// Finds the project a data-plane request is for — `/project/<ref>/…` or `<ref>.<LOAM_PROJECT_DOMAIN>` — and
// stops requests to projects that are unknown (404) or not serving (503, e.g. paused).
import { Router, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import { config } from '../../../db/src/config.ts';
import { cachedRuntime, type ProjectRuntime } from '../../../db/src/projects.ts';

export const project = (res: Response): ProjectRuntime => res.locals.project as ProjectRuntime;

const REF = /^[a-z]{20}$/;

export async function gate(ref: string, res: Response, next: NextFunction) {
  const p = REF.test(ref) ? await cachedRuntime(ref) : undefined;
  if (!p || p.deleted) {
    res.status(404).json({ message: 'project not found', code: 'project_not_found' });
    return;
  }
  if (p.status !== 'ACTIVE_HEALTHY') {
    const paused = p.status === 'INACTIVE' || p.status === 'PAUSING';
    res.status(503).set('Retry-After', '10').json({
      message: paused ? 'project is paused' : `project is not available (status ${p.status})`,
      code: paused ? 'project_paused' : 'project_unavailable',
    });
    return;
  }
  res.locals.project = p;
  next();
}

/** Mounts the data-plane routes under both addressing schemes. */
export function dataPlane(routes: Router): RequestHandler {
  const byPath = Router();
  byPath.use('/project/:ref', (req: Request<{ ref: string }>, res, next) => gate(req.params.ref, res, next), routes);
  const suffix = config.projectDomain ? `.${config.projectDomain}` : undefined;
  return (req, res, next) => {
    if (suffix && req.hostname.endsWith(suffix)) {
      const ref = req.hostname.slice(0, -suffix.length);
      return void gate(ref, res, (err?: unknown) => (err ? next(err) : routes(req, res, next))).catch(next);
    }
    byPath(req, res, next);
  };
}
