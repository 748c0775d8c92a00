#!/usr/bin/env python3
# Verifies a Resguardo constancia without Resguardo: message hash, metadata, ledger
# entry and the RFC 6962 inclusion path (docs/EVIDENCE.md), then writes the RFC 3161
# token to sello.tst for `openssl ts -verify`. Standard library only.
# Usage: python3 verificar_constancia.py mensaje.eml   (constancia.json in the current directory)
import base64, hashlib, json, sys
c = json.load(open("constancia.json"))
msg = open(sys.argv[1], "rb").read()
assert hashlib.sha256(msg).hexdigest() == c["record"]["sha256"], "message"
assert hashlib.sha256(c["record"]["metadata"].encode()).hexdigest() == c["record"]["meta_sha256"], "metadata"
entry = json.loads(c["ledger"]["entry"])
assert entry["sha256"] == c["record"]["sha256"] and entry["meta_sha256"] == c["record"]["meta_sha256"], "entry"
head, cp = c["ledger"]["proof"].split("\n\n", 1)
lines = head.split("\n")
index = int(lines[1].split()[1]); path = [base64.b64decode(h) for h in lines[2:]]
origin, size, root = cp.split("\n")[:3]; size = int(size); root = base64.b64decode(root)
h = hashlib.sha256(b"\x00" + c["ledger"]["entry"].encode()).digest()
# RFC 6962 §2.1.1 (and RFC 9162 §2.1.3.2): fold the path from the leaf up.
fn, sn = index, size - 1
for p in path:
    if fn % 2 == 1 or fn == sn:
        h = hashlib.sha256(b"\x01" + p + h).digest()
        while fn % 2 == 0 and fn != 0:
            fn >>= 1; sn >>= 1
    else:
        h = hashlib.sha256(b"\x01" + h + p).digest()
    fn >>= 1; sn >>= 1
assert sn == 0 and h == root, "inclusion"
assert hashlib.sha256(cp.encode()).hexdigest() == c["timestamp"]["digest_sha256"], "timestamp digest"
open("sello.tst", "wb").write(base64.b64decode(c["timestamp"]["token"]))
print("message, metadata, entry and inclusion OK; entry", index, "of", size, "; now check the checkpoint signature and sello.tst")
