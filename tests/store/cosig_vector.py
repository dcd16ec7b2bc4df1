# Independent computation of a cosignature/v1 line (c2sp.org/tlog-cosignature), with Python's
# hashlib and the `cryptography` package's Ed25519 (RFC 8032, deterministic).
import base64, hashlib, struct
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization
seed = bytes(range(1, 33))
sk = Ed25519PrivateKey.from_private_bytes(seed)
pk = sk.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
name = "witness.example/w1"
ts = 1767225600
text = "example.org/log\n42\n" + base64.b64encode(bytes(32)).decode() + "\n"
kid = hashlib.sha256(name.encode() + b"\n" + b"\x04" + pk).digest()[:4]
msg = ("cosignature/v1\ntime %d\n" % ts + text).encode()
sig = sk.sign(msg)
line = "\u2014 " + name + " " + base64.b64encode(kid + struct.pack(">Q", ts) + sig).decode() + "\n"
vkey = name + "+" + kid.hex() + "+" + base64.b64encode(b"\x04" + pk).decode()
print(repr(text)); print(vkey); print(line.encode())
