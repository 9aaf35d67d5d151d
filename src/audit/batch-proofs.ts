import { type Hash, inclusionProofRanges, nodeHash } from './merkle.js';

/**
 * RFC 9162 inclusion proofs for many leaves of one tree in a single pass over its leaves, in
 * order: the tree is walked as MTH recurses (left subtree, then right), so each leaf is read once
 * when its turn comes, each node is hashed once, and only the nodes some proof needs are kept.
 * Memory holds those nodes and the recursion (the tree's depth), never the leaves.
 */
export interface BatchProofs {
  readonly root: Hash;
  /** PATH(m, D[n]) of one of the requested leaf indexes. */
  proof(leafIndex: number): Hash[];
}

export async function batchInclusionProofs(
  treeSize: number,
  leafIndexes: readonly number[],
  nextLeaf: () => Promise<Hash>,
): Promise<BatchProofs> {
  if (!Number.isSafeInteger(treeSize) || treeSize < 1) throw new RangeError('tree size must be at least 1');
  const key = (start: number, end: number) => `${start}:${end}`;
  const needed = new Set<string>();
  for (const m of leafIndexes) for (const [start, end] of inclusionProofRanges(m, treeSize)) needed.add(key(start, end));
  const nodes = new Map<string, Hash>();
  const visit = async (start: number, end: number): Promise<Hash> => {
    let h: Hash;
    if (end - start === 1) h = await nextLeaf();
    else {
      const k = largestPowerOfTwoBelow(end - start);
      const left = await visit(start, start + k);
      h = nodeHash(left, await visit(start + k, end));
    }
    if (needed.has(key(start, end))) nodes.set(key(start, end), h);
    return h;
  };
  const root = await visit(0, treeSize);
  return {
    root,
    proof(leafIndex: number): Hash[] {
      return inclusionProofRanges(leafIndex, treeSize).map(([start, end]) => {
        const node = nodes.get(key(start, end));
        if (!node) throw new RangeError(`leaf ${leafIndex} was not among the leaves proofs were computed for`);
        return node;
      });
    },
  };
}

/** Where MTH splits a tree of n > 1 leaves: the largest power of two smaller than n. */
function largestPowerOfTwoBelow(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}
