#!/usr/bin/env python3
"""An independent check of a Ward audit archive (docs/operations.md, "Archiving old partitions"),
written from RFC 9162 and RFC 6962 alone (hashlib and the openssl command line; nothing of Ward's
code): the digest file, the signed head, and for every entry its leaf hash and inclusion proof.

usage: check_audit_archive.py <dir> <partition> <audit-public-key.pem>
exits 0 and prints "OK <n> entries" when every entry is in the tree the signed head commits to."""
import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def fail(reason: str) -> None:
    print(f"FAIL {reason}")
    sys.exit(1)


def root_from_path(index: int, size: int, leaf: bytes, path: list) -> bytes:
    """RFC 9162 section 2.1.3.2."""
    if not 0 <= index < size:
        fail("leaf index outside the tree")
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            fail("proof longer than the tree is deep")
        if fn % 2 == 1 or fn == sn:
            r = sha256(b"\x01" + p + r)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = sha256(b"\x01" + r + p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        fail("proof shorter than the tree is deep")
    return r


def main() -> None:
    directory, partition, public_key_path = sys.argv[1], sys.argv[2], sys.argv[3]
    ndjson = os.path.join(directory, partition + ".ndjson")
    head_path = os.path.join(directory, partition + ".head.json")

    # 1. The digest file names both files with their SHA-256.
    listed = {}
    for line in open(os.path.join(directory, partition + ".sha256"), encoding="utf-8"):
        digest, name = line.rstrip("\n").split("  ", 1)
        listed[name] = digest
    for path in (ndjson, head_path):
        if hashlib.sha256(open(path, "rb").read()).hexdigest() != listed.get(os.path.basename(path)):
            fail(f"digest of {os.path.basename(path)} does not match")

    # 2. The head: Ed25519 over RFC 6962's TreeHeadSignature bytes, with the published key.
    head = json.load(open(head_path, encoding="utf-8"))["treeHead"]
    size, root = head["treeSize"], bytes.fromhex(head["rootHash"])
    message = bytes([0, 1]) + head["timestamp"].to_bytes(8, "big") + size.to_bytes(8, "big") + root
    with tempfile.TemporaryDirectory() as d:
        msg, sig = os.path.join(d, "msg"), os.path.join(d, "sig")
        open(msg, "wb").write(message)
        open(sig, "wb").write(base64.b64decode(head["signature"]))
        verified = subprocess.run(
            ["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", public_key_path, "-rawin", "-in", msg, "-sigfile", sig],
            capture_output=True,
        )
        if verified.returncode != 0:
            fail("the tree head signature does not verify")

    # 3. Every entry: leaf = SHA-256(0x00 || uint64 seq || UTF-8 entry), its path folds to the root.
    count = 0
    for text in open(ndjson, encoding="utf-8"):
        line = json.loads(text)
        leaf = sha256(b"\x00" + line["seq"].to_bytes(8, "big") + line["entry"].encode("utf-8"))
        if leaf.hex() != line["leafHash"]:
            fail(f"entry {line['seq']}: its leaf hash does not match its entry")
        path = [bytes.fromhex(h) for h in line["inclusionProof"]]
        if root_from_path(line["leafIndex"], size, leaf, path) != root:
            fail(f"entry {line['seq']}: the path does not lead to the signed root")
        count += 1
    print(f"OK {count} entries")


main()
