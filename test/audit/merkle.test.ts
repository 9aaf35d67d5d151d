import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  batchInclusionProofs,
  CompactRange,
  consistencyProof,
  consistencyProofFrom,
  inclusionProof,
  inclusionProofRanges,
  leafHash,
  rootHash,
  verifyConsistency,
  verifyInclusion,
} from '../../src/audit/index.js';

// The RFC 6962 reference vectors (the inputs and roots every CT implementation tests against).
const INPUTS = ['', '00', '10', '2021', '3031', '40414243', '5051525354555657', '606162636465666768696a6b6c6d6e6f'].map((h) =>
  Buffer.from(h, 'hex'),
);
const ROOTS = [
  'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
  '6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d',
  'fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125',
  'aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77',
  'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
  '4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4',
  '76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef',
  'ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c',
  '5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328',
];
const hex = (hs: Buffer[]) => hs.map((h) => h.toString('hex'));
const leaves = INPUTS.map(leafHash);

describe('RFC 9162 Merkle tree (audit log)', () => {
  it.each(ROOTS.map((root, size) => ({ size, root })))('computes the reference root of the first $size leaves', ({ size, root }) => {
    expect(rootHash(leaves.slice(0, size)).toString('hex')).toBe(root);
  });

  it('produces the reference inclusion proofs', () => {
    expect(hex(inclusionProof(leaves, 0))).toEqual([
      '96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7',
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      '6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4',
    ]);
    expect(hex(inclusionProof(leaves, 5))).toEqual([
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ]);
  });

  it('produces the reference consistency proofs', () => {
    expect(hex(consistencyProof(leaves.slice(0, 1), 1))).toEqual([]);
    expect(hex(consistencyProof(leaves, 1))).toEqual(hex(inclusionProof(leaves, 0)));
    expect(hex(consistencyProof(leaves, 6))).toEqual([
      '0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a',
      'ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0',
      'd37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7',
    ]);
    expect(hex(consistencyProof(leaves.slice(0, 5), 2))).toEqual([
      '5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e',
      'bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b',
    ]);
  });

  const big = Array.from({ length: 37 }, (_, i) => leafHash(createHash('sha256').update(`entry ${i}`).digest()));

  it('verifies every inclusion proof of every tree up to 37 leaves, and refuses each one tampered', () => {
    for (let n = 1; n <= big.length; n++) {
      const tree = big.slice(0, n);
      const root = rootHash(tree);
      for (let m = 0; m < n; m++) {
        const proof = inclusionProof(tree, m);
        expect(verifyInclusion(m, n, tree[m] as Buffer, proof, root)).toBe(true);
        expect(verifyInclusion(m, n, big[(m + 1) % big.length] as Buffer, proof, root)).toBe(false);
        if (proof.length > 0) {
          const tampered = proof.map((p, i) => (i === 0 ? Buffer.from(p.map((b, j) => (j === 0 ? b ^ 1 : b))) : p));
          expect(verifyInclusion(m, n, tree[m] as Buffer, tampered, root)).toBe(false);
        }
        // A head binds size and root together: this proof does not show inclusion in the larger tree.
        if (n < big.length) expect(verifyInclusion(m, n + 1, tree[m] as Buffer, proof, rootHash(big.slice(0, n + 1)))).toBe(false);
      }
    }
  });

  it('verifies every consistency proof between tree sizes up to 37, and refuses an altered or truncated history', () => {
    for (let n = 1; n <= big.length; n++) {
      const root2 = rootHash(big.slice(0, n));
      for (let m = 1; m <= n; m++) {
        const root1 = rootHash(big.slice(0, m));
        const proof = consistencyProof(big.slice(0, n), m);
        expect(verifyConsistency(m, n, root1, root2, proof)).toBe(true);
        // An old head whose entries were changed does not extend to the new one.
        const altered = rootHash([leafHash(Buffer.from('forged')), ...big.slice(1, m)]);
        expect(verifyConsistency(m, n, altered, root2, proof)).toBe(false);
        if (proof.length > 0) expect(verifyConsistency(m, n, root1, root2, proof.slice(0, -1))).toBe(false);
      }
    }
  });

  it('extends a compact range to the same roots as the whole tree, and survives a round trip through bytes', () => {
    let range = CompactRange.empty();
    expect(range.root().toString('hex')).toBe(ROOTS[0]);
    for (let n = 1; n <= big.length; n++) {
      range.append(big[n - 1] as Buffer);
      expect(range.size).toBe(n);
      expect(range.root().equals(rootHash(big.slice(0, n)))).toBe(true);
      range = CompactRange.fromBytes(n, range.toBytes());
    }
    expect(() => CompactRange.fromBytes(5, Buffer.alloc(32))).toThrow(RangeError);
  });

  it('computes from a compact range and the new leaves exactly the consistency proof of the whole tree', () => {
    for (let m = 1; m <= big.length; m++) {
      const old = CompactRange.empty();
      for (const leaf of big.slice(0, m)) old.append(leaf);
      for (let n = m; n <= big.length; n++) {
        expect(hex(consistencyProofFrom(old, big.slice(m, n)))).toEqual(hex(consistencyProof(big.slice(0, n), m)));
      }
    }
  });

  it('names the leaf ranges of every inclusion proof, so a proof can be streamed', () => {
    for (let n = 1; n <= big.length; n++) {
      for (let m = 0; m < n; m++) {
        const streamed = inclusionProofRanges(m, n).map(([start, end]) => rootHash(big.slice(start, end)));
        expect(hex(streamed)).toEqual(hex(inclusionProof(big.slice(0, n), m)));
      }
    }
  });
});

describe('batch inclusion proofs (one pass over the leaves, for archives)', () => {
  it.each([1, 2, 3, 7, 8, 13, 64, 100])('equal PATH(m, D[n]) of RFC 9162 for every leaf of a tree of %i', async (n) => {
    const leaves = Array.from({ length: n }, (_, i) => leafHash(Buffer.from(`entry ${i}`)));
    const wanted = Array.from({ length: n }, (_, i) => i).filter((i) => i % 3 !== 1);
    let next = 0;
    const batch = await batchInclusionProofs(n, wanted, async () => leaves[next++] as Buffer);
    expect(next).toBe(n);
    expect(batch.root.equals(rootHash(leaves))).toBe(true);
    for (const m of wanted)
      expect(batch.proof(m).map((h) => h.toString('hex'))).toEqual(inclusionProof(leaves, m).map((h) => h.toString('hex')));
    if (n > 1) expect(() => batch.proof(1)).toThrow(/not among the leaves/);
  });
});
