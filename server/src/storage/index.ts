// The project's /storage/v1 API. (Routes are added by the storage issue.)
import { Router } from 'express';

export const storage = Router();
