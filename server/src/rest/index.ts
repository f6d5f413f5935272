// The project's /rest/v1 API. (Routes are added by the rest issue.)
import { Router } from 'express';

export const rest = Router();
