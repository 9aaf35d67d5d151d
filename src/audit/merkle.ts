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

/**
 * The right edge of a Merkle tree: the roots of the perfect subtrees that make up its leaves, one
 * per set bit of the tree size, largest first. It is all the sealer needs to extend the tree and
 * compute its root without reading old leaves again, and it is stored with each tree head. Its
 * root must equal the head's signed root, which authenticates it.
 */
export class CompactRange {
  #size: number;
  readonly #nodes: Hash[];

  private constructor(size: number, nodes: Hash[]) {
    this.#size = size;
    this.#nodes = nodes;
  }

  static empty(): CompactRange {
    return new CompactRange(0, []);
  }

  /** Rebuilds a range from its size and its concatenated 32-byte node hashes. */
  static fromBytes(size: number, bytes: Buffer): CompactRange {
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError('tree size must be a non-negative integer');
    const count = popcount(size);
    if (bytes.length !== count * 32) throw new RangeError(`a tree of ${size} leaves has ${count} edge nodes, not ${bytes.length / 32}`);
    const nodes: Hash[] = [];
    for (let i = 0; i < count; i++) nodes.push(Buffer.from(bytes.subarray(i * 32, i * 32 + 32)));
    return new CompactRange(size, nodes);
  }

  get size(): number {
    return this.#size;
  }

  clone(): CompactRange {
    return new CompactRange(this.#size, [...this.#nodes]);
  }

  append(leaf: Hash): void {
    this.#nodes.push(leaf);
    // Merge equal-sized neighbours: the trailing one bits of the old size are the merges to do.
    for (let s = this.#size; s % 2 === 1; s = Math.floor(s / 2)) {
      const right = this.#nodes.pop() as Hash;
      const left = this.#nodes.pop() as Hash;
      this.#nodes.push(nodeHash(left, right));
    }
    this.#size += 1;
  }

  /** MTH of the whole tree: the edge nodes folded from the right (RFC 9162 §2.1.1). */
  root(): Hash {
    if (this.#nodes.length === 0) return EMPTY_ROOT;
    let h = this.#nodes[this.#nodes.length - 1] as Hash;
    for (let i = this.#nodes.length - 2; i >= 0; i--) h = nodeHash(this.#nodes[i] as Hash, h);
    return h;
  }

  toBytes(): Buffer {
    return Buffer.concat(this.#nodes);
  }

  /** The edge node covering leaves [start, start + length), if it is one. */
  node(start: number, length: number): Hash | undefined {
    let offset = 0;
    for (const [i, bit] of edgeSizes(this.#size).entries()) {
      if (offset === start && bit === length) return this.#nodes[i];
      offset += bit;
    }
    return undefined;
  }
}

/**
 * PROOF(m, D[n]) of RFC 9162 §2.1.4.1, computed from the old tree's compact range and only the
 * leaves appended since — so a verifier can check consistency between successive heads while
 * streaming the log, without holding every leaf. Every node of the proof that lies inside the
 * old tree is one of its edge nodes; the rest are hashed from the new leaves.
 */
export function consistencyProofFrom(old: CompactRange, newLeaves: readonly Hash[]): Hash[] {
  const m = old.size;
  const n = m + newLeaves.length;
  if (m < 1 || n < m) throw new RangeError('old tree size must be between 1 and the new size');
  const mth = (start: number, end: number): Hash => {
    if (start >= m) return rootHash(newLeaves.slice(start - m, end - m));
    const edge = old.node(start, end - start);
    if (!edge || end > m) throw new RangeError('consistency proof needs a node that is not on the old tree edge');
    return edge;
  };
  const sub = (start: number, end: number, size: number, complete: boolean): Hash[] => {
    const len = end - start;
    if (size === len) return complete ? [] : [mth(start, end)];
    const k = split(len);
    return size <= k
      ? [...sub(start, start + k, size, complete), mth(start + k, end)]
      : [...sub(start + k, end, size - k, false), mth(start, start + k)];
  };
  return sub(0, n, m, true);
}

function edgeSizes(size: number): number[] {
  const sizes: number[] = [];
  for (let bit = 2 ** Math.floor(Math.log2(Math.max(size, 1))); bit >= 1; bit /= 2)
    if (size >= bit && Math.floor(size / bit) % 2 === 1) sizes.push(bit);
  return sizes;
}

function popcount(n: number): number {
  let count = 0;
  for (let v = n; v > 0; v = Math.floor(v / 2)) count += v % 2;
  return count;
}

/**
 * The leaf ranges [start, end) whose subtree hashes form PATH(m, D[n]), in proof order. With
 * them an inclusion proof is computed in one pass over the leaves, holding none of them.
 */
export function inclusionProofRanges(m: number, n: number): [number, number][] {
  if (!Number.isInteger(m) || !Number.isInteger(n) || m < 0 || m >= n) throw new RangeError('leaf index outside the tree');
  const ranges: [number, number][] = [];
  let start = 0;
  let end = n;
  while (end - start > 1) {
    const k = split(end - start);
    if (m < start + k) {
      ranges.push([start + k, end]);
      end = start + k;
    } else {
      ranges.push([start, start + k]);
      start += k;
    }
  }
  return ranges.reverse();
}
