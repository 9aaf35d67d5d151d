import { describe, expect, it } from 'vitest';
import { checkPassword, commonPasswords, normalizePassword, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from '../../src/identity/index.js';
import { accountThrottle } from '../../src/identity/login-throttle.js';

const blocklist = commonPasswords();
const check = (password: string, username = 'alice.nguyen') => checkPassword(normalizePassword(password), { username, blocklist });

describe('password policy (NIST SP 800-63B-4 §3.1.1.2)', () => {
  it('[NIST] 800-63B-4 §3.1.1.2 (blocklist): bundles at least 100,000 common and breached passwords', () => {
    expect(blocklist.size).toBeGreaterThanOrEqual(100_000);
    expect(blocklist.has('123456')).toBe(true);
  });

  it('[NIST] 800-63B-4 §3.1.1.2 (length): minimum 15 code points without MFA, at least 64 accepted, longer than 128 refused', () => {
    expect(PASSWORD_MIN_LENGTH).toBe(15);
    expect(PASSWORD_MAX_LENGTH).toBeGreaterThanOrEqual(64);
    expect(check('river tulip ok!')).toBeUndefined(); // 15
    expect(check('river tulip ok')).toBe('too-short'); // 14
    expect(check('a'.repeat(3) + 'river tulip oak lantern meadow '.repeat(2).slice(0, 61))).toBeUndefined(); // 64
    const hundred = `${'granite harbor 🌊 violet '.repeat(5)}`.slice(0, 100);
    expect([...hundred].length).toBeGreaterThanOrEqual(95);
    expect(check(hundred)).toBeUndefined();
    expect(check('quiet harbor lamp '.repeat(8).slice(0, 128))).toBeUndefined();
    expect(check('quiet harbor lamp '.repeat(8).slice(0, 129))).toBe('too-long');
  });

  it('[NIST] 800-63B-4 §3.1.1.2 (length): counts Unicode code points after NFKC, not UTF-16 units or bytes', () => {
    // 15 emoji are 30 UTF-16 units and 60 bytes, but 15 characters.
    expect(check('🌊🍐🎻🦉🌵🍄🎲🪁🦔🌻🍋🎺🦩🌙🍇')).toBeUndefined();
    // 14 emoji are too short, however many bytes they take.
    expect(check('🌊🍐🎻🦉🌵🍄🎲🪁🦔🌻🍋🎺🦩🌙')).toBe('too-short');
    // Full-width letters normalise (NFKC) to ASCII before the check and the hash.
    expect(normalizePassword('ｐａｓｓｗｏｒｄ')).toBe('password');
  });

  it('[NIST] 800-63B-4 §3.1.1.2 (no folklore): no composition rules — a 20-character all-lowercase passphrase is accepted', () => {
    expect(check('maple otter quiltwork')).toBeUndefined();
    expect(check('lanterns under snowfall')).toBeUndefined();
  });

  it.each([
    ['password1234567', 'common'],
    ['qwertyuiopasdfg', 'common'],
    ['QWERTYUIOPASDFG', 'common'],
    ['123456789012345', 'common'],
    ['Sunshine!!!!!!!2024', 'common'],
    ['alice.nguyen-rocks-2024', 'contains-username'],
    ['ALICE.NGUYEN was here!', 'contains-username'],
    ['wardward2024!!!!', 'context-word'],
    ['WardPassword12345', 'context-word'],
    ['aaaaaaaaaaaaaaaaaaaa', 'common'],
    ['abababababababababab', 'repetitive'],
  ])('[NIST] 800-63B-4 §3.1.1.2 (blocklist): refuses %s (%s), case-insensitively', (password, reason) => {
    expect(check(password)).toBe(reason);
  });

  it('[NIST] 800-63B-4 §3.1.1.2 (blocklist): does not refuse a long passphrase that merely contains a service word', () => {
    expect(check('forward thinking rewards patience')).toBeUndefined();
  });
});

describe('account throttle (NIST SP 800-63B-4 §3.2.2)', () => {
  const at = new Date('2030-01-01T00:00:00Z');
  const later = (s: number) => new Date(at.getTime() + s * 1000);
  it.each([
    [0, 0, 'allow'],
    [4, 0, 'allow'],
    [5, 0, 'wait'],
    [5, 1, 'allow'],
    [6, 1, 'wait'],
    [6, 2, 'allow'],
    [10, 31, 'wait'],
    [10, 32, 'allow'],
    [40, 299, 'wait'],
    [40, 300, 'allow'],
    [99, 300, 'allow'],
    [100, 100_000, 'locked'],
  ])('after %i failures in a row, a try %i s after the last is: %s', (failures, seconds, kind) => {
    expect(accountThrottle({ failures, lastAttemptAt: at }, later(seconds)).kind).toBe(kind);
  });
});
