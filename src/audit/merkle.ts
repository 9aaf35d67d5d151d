import { createHash } from 'node:crypto';

/**
 * RFC 9162 (Certificate Transparency 2.0) §2.1 Merkle tree math over SHA-256, pure: the audit
 * log's leaves are SHA-256(0x00 ‖ entry bytes) (computed by the database on insert), interior
 * nodes SHA-256(0x01 ‖ left ‖ right). Proofs let a third party check, against a signed tree
 * head, that an entry is in the log (inclusion) and that a later log extends an earlier one
 * without altering it (consistency).
 */
export type Hash = Buffer;

const EMPTY_ROOT = createHash('sha256').digest();

export function leafHash(entry: Buffer): Hash {
  return createHash('sha256')
    .update(Buffer.from([0x00]))
    .update(entry)
    .digest();
}

export function nodeHash(left: Hash, right: Hash): Hash {
  return createHash('sha256')
    .update(Buffer.from([0x01]))
    .update(left)
    .update(right)
    .digest();
}

/** The largest power of two smaller than n (n > 1): where MTH splits a tree of n leaves. */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** MTH(D[n]) over leaf hashes; the empty tree's root is SHA-256 of the empty string. */
export function rootHash(leaves: readonly Hash[]): Hash {
  if (leaves.length === 0) return EMPTY_ROOT;
  // Bottom-up: combine pairs level by level; a lone last node is carried up unchanged, which
  // yields exactly the recursive MTH of RFC 9162 §2.1.1.
  let level = [...leaves];
  while (level.length > 1) {
    const next: Hash[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(nodeHash(level[i] as Hash, level[i + 1] as Hash));
    if (level.length % 2 === 1) next.push(level[level.length - 1] as Hash);
    level = next;
  }
  return level[0] as Hash;
}

/** PATH(m, D[n]) of RFC 9162 §2.1.3.1: the inclusion proof of leaf m in the tree of these leaves. */
export function inclusionProof(leaves: readonly Hash[], m: number): Hash[] {
  const n = leaves.length;
  if (!Number.isInteger(m) || m < 0 || m >= n) throw new RangeError('leaf index outside the tree');
  if (n === 1) return [];
  const k = split(n);
  return m < k
    ? [...inclusionProof(leaves.slice(0, k), m), rootHash(leaves.slice(k))]
    : [...inclusionProof(leaves.slice(k), m - k), rootHash(leaves.slice(0, k))];
}

/** PROOF(m, D[n]) of RFC 9162 §2.1.4.1: that the first m leaves are a prefix of these n. */
export function consistencyProof(leaves: readonly Hash[], m: number): Hash[] {
  const n = leaves.length;
  if (!Number.isInteger(m) || m < 1 || m > n) throw new RangeError('old tree size must be between 1 and the new size');
  return subproof(leaves, m, true);
}

function subproof(leaves: readonly Hash[], m: number, complete: boolean): Hash[] {
  const n = leaves.length;
  if (m === n) return complete ? [] : [rootHash(leaves)];
  const k = split(n);
  return m <= k
    ? [...subproof(leaves.slice(0, k), m, complete), rootHash(leaves.slice(k))]
    : [...subproof(leaves.slice(k), m - k, false), rootHash(leaves.slice(0, k))];
}

/** RFC 9162 §2.1.3.2: does `proof` show leaf `index` with `leaf` hash in the tree of `size` with `root`? */
export function verifyInclusion(index: number, size: number, leaf: Hash, proof: readonly Hash[], root: Hash): boolean {
  if (!Number.isInteger(index) || !Number.isInteger(size) || index < 0 || index >= size) return false;
  let fn = index;
  let sn = size - 1;
  let r = leaf;
  for (const p of proof) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      r = nodeHash(p, r);
      if (fn % 2 === 0) [fn, sn] = shiftWhileEven(fn, sn);
    } else {
      r = nodeHash(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && r.equals(root);
}

/** RFC 9162 §2.1.4.2: does `proof` show the tree (size2, root2) extends the tree (size1, root1)? */
export function verifyConsistency(size1: number, size2: number, root1: Hash, root2: Hash, proof: readonly Hash[]): boolean {
  if (!Number.isInteger(size1) || !Number.isInteger(size2) || size1 < 1 || size2 < size1) return false;
  if (size1 === size2) return proof.length === 0 && root1.equals(root2);
  if (proof.length === 0) return false;
  const path = [...proof];
  // When size1 is a power of two, the old root itself starts the path.
  if ((size1 & (size1 - 1)) === 0) path.unshift(root1);
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  const [first, ...rest] = path;
  if (!first) return false;
  let fr = first;
  let sr = first;
  for (const c of rest) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = nodeHash(c, fr);
      sr = nodeHash(c, sr);
      if (fn % 2 === 0) [fn, sn] = shiftWhileEven(fn, sn);
    } else {
      sr = nodeHash(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return fr.equals(root1) && sr.equals(root2) && sn === 0;
}

/** Right-shifts both indexes together until the first is odd or zero (RFC 9162 §2.1.3.2 step 4.b.ii). */
function shiftWhileEven(fn: number, sn: number): [number, number] {
  let f = fn;
  let s = sn;
  while (f % 2 === 0 && f !== 0) {
    f = Math.floor(f / 2);
    s = Math.floor(s / 2);
  }
  return [f, s];
}
