import { Init1795710006556 } from './1795710006556-Init';

/** In order of application; registered explicitly (bundlers break TypeORM globs). */
export const MIGRATIONS = [Init1795710006556];
