/**
 * `node --import tsx --import ./bench/compiled-ward.mjs bench/run.ts`: the benchmark's own code runs
 * through tsx, but every module of Ward it reaches is the compiled one in dist/ (what `npm start`
 * and `ward` run), not src/ transformed on the fly. tsx's transform wraps each function it creates
 * in a naming helper, closures too, which cost a search several per cent of its server CPU that
 * production never pays. `npm run bench` builds dist/ first.
 */
import { register } from 'node:module';

register('./compiled-ward-hooks.mjs', import.meta.url);
