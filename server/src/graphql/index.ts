// The project's /graphql/v1 API. (Routes are added by the graphql issue.)
import { Router } from 'express';

export const graphql = Router();
