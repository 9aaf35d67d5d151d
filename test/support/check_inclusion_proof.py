#!/usr/bin/env python3
"""An independent check of a Ward audit inclusion proof, written from RFC 9162 and RFC 6962 alone
(hashlib and the openssl command line; nothing of Ward's code). It follows the procedure in
docs/operations.md, "Checking an inclusion proof".

usage: check_inclusion_proof.py <proof.json> <audit-public-key.pem>
exits 0 and prints OK when the entry is in the tree the signed head commits to."""
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


def main() -> None:
    doc = json.load(open(sys.argv[1], encoding="utf-8"))
    public_key_path = sys.argv[2]
    seq, index = doc["seq"], doc["leafIndex"]
    head = doc["treeHead"]
    size, root = head["treeSize"], bytes.fromhex(head["rootHash"])

    # 1. The leaf: SHA-256(0x00 || uint64 seq || UTF-8 entry).
    leaf = sha256(b"\x00" + seq.to_bytes(8, "big") + doc["entry"].encode("utf-8"))

    # 2. RFC 9162 section 2.1.3.2: fold the audit path into a root.
    if not 0 <= index < size:
        fail("leaf index outside the tree")
    fn, sn, r = index, size - 1, leaf
    for p in (bytes.fromhex(h) for h in doc["inclusionProof"]):
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
    if sn != 0 or r != root:
        fail("the path does not lead to the signed root")

    # 3. The head's signature: Ed25519 over RFC 6962's TreeHeadSignature bytes, with the key
    #    published at /.well-known/ward-audit-key (given here, not taken from the proof).
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
        der = subprocess.run(["openssl", "pkey", "-pubin", "-in", public_key_path, "-outform", "DER"], capture_output=True, check=True).stdout
        if hashlib.sha256(der).hexdigest() != head["keyId"]:
            fail("the head names another key")
    print("OK")


main()
