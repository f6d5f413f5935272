// The project's /auth/v1 API. (Routes are added by the auth issue.)
import { Router } from 'express';

export const auth = Router();
