import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/app/config.js';
import { openWard } from '../../src/app/ward.js';

describe('openWard', () => {
  it('refuses a data directory that group or others can enter, before creating any key', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ward-perm-'));
    try {
      chmodSync(dir, 0o755);
      await expect(openWard(loadConfig({ WARD_DATA_DIR: dir }, dir))).rejects.toThrow(/chmod 700/);
      await expect(import('node:fs').then((fs) => fs.existsSync(join(dir, 'keys')))).resolves.toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
