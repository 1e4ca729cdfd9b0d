#!/usr/bin/env python3
"""Writes the committed seed corpora Fuzz/corpus/{http,gzip,json}/ (run from anywhere;
the files are committed, so scripts/fuzz does not need this). Deterministic: gzip members
carry mtime 0, so re-running reproduces the same files."""
import gzip, json, os, zlib

ROOT = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(ROOT, "..", "Tests", "Fixtures", "conformance")


def gz(data, level=6, **kw):
    return gzip.compress(data, compresslevel=level, mtime=0)


def write(target, name, data):
    d = os.path.join(ROOT, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def compact(obj):
    return json.dumps(obj, separators=(",", ":"))


# ---------------------------------------------------------------- JSON request bodies
HYPERS = {"cutoff": {"radius": 5.0, "smoothing": {"type": "ShiftedCosine", "width": 0.5}},
          "density": {"type": "Gaussian", "width": 0.5},
          "basis": {"type": "TensorProduct", "max_angular": 3, "radial": {"type": "Gto", "max_radial": 4}}}
SI2 = {"numbers": [14, 14], "positions": [[0, 0, 0], [1.3575, 1.3575, 1.3575]],
       "cell": [[0, 2.715, 2.715], [2.715, 0, 2.715], [2.715, 2.715, 0]], "pbc": [True, True, True]}
WATER = {"symbols": ["O", "H", "H"], "positions": [[0, 0, 0], [0.757, 0.586, 0], [-0.757, 0.586, 0]]}

features = {"structures": [SI2], "descriptor": {"type": "power_spectrum", "species": [14], "hypers": HYPERS},
            "per": "atom", "gradients": False}
json_seeds = {
    "features-power-spectrum.json": json.dumps(features, indent=1),
    "features-molecule-structure.json": compact({"structures": [WATER, {"numbers": [8], "positions": [[0, 0, 0]], "cell": None, "pbc": False}],
                                                 "descriptor": {"type": "spherical_expansion", "species": [1, 8], "hypers": HYPERS},
                                                 "per": "structure", "gradients": True}),
    "features-bispectrum.json": compact({"structures": [SI2], "descriptor": {"type": "bispectrum", "species": [14], "hypers": HYPERS}}),
    "features-radial-spectrum.json": compact({"structures": [SI2], "descriptor": {"type": "radial_spectrum", "species": [14], "hypers": {
        "cutoff": {"radius": 4.0, "smoothing": {"type": "Step"}},
        "density": {"type": "Gaussian", "width": 0.3, "scaling": {"type": "Willatt2018", "rate": 1, "scale": 2, "exponent": 3},
                    "center_atom_weight": 0.5},
        "basis": {"radial": {"type": "Gto", "max_radial": 3, "radius": 4.0}, "spline_accuracy": None}}}}),
    "features-basis-id.json": compact({"structures": [WATER], "descriptor": {"type": "power_spectrum", "basis_id": "ab" * 32}}),
    "dataset.json": compact({"descriptor": {"species": [1, 6, 8], "hypers": HYPERS}}),
    "dataset-batch.json": compact({"structures": [WATER, SI2], "targets": [-76.4, 1e-3]}),
    "fit-pca.json": compact({"dataset_id": "d" * 16, "q_max": 6, "contraction": "mixed", "center_specific": True}),
    "fit-pcovr.json": compact({"dataset_id": "d" * 16, "method": "pcovr", "gamma": 0.25, "residual_variance": 1e-4}),
    "job.json": compact({"structures": [SI2, WATER, {"numbers": [200], "positions": [[0, 0, 0]]}],
                         "descriptor": {"type": "power_spectrum", "species": [14], "hypers": HYPERS}, "fail_fast": False}),
    # Edge cases for the reader.
    "edge-unicode.json": '{"k\\u00e9y":"\\ud83d\\ude00 \\u0000 é😀","e\\u0301":1,"é":2}',
    "edge-bad-surrogate.json": '["\\ud800", "\\udc00x"]',
    "edge-numbers.json": "[0,-0,1e308,1e309,-1e-400,5e-324,123456789012345678901234,0.1e1,1E+2,9007199254740993]",
    "edge-deep.json": "[" * 70 + "]" * 70,
    "edge-deep-object.json": '{"a":' * 10 + "1" + "}" * 10,
    "edge-duplicate.json": '{"structures":1,"structures":2}',
    "edge-many-keys.json": compact({f"k{i}": i for i in range(20)}),
    "edge-control.json": '"\x01\x1f"',
    "edge-bom.json": "\ufeff{}",
    "edge-trailing.json": "{} x",
    "edge-empty.json": "",
    "edge-literals.json": "[true,false,null,tru,nul]",
}
for name, text in json_seeds.items():
    write("json", name, text)

# Small requests built from the conformance fixtures (first structure, featomic hypers).
for name in sorted(os.listdir(FIXTURES)):
    if not name.startswith("public_") or not name.endswith(".json"):
        continue
    fixture = json.load(open(os.path.join(FIXTURES, name)))
    structure = fixture["structures"][0]
    if len(structure["numbers"]) > 12:
        continue
    species = sorted(set(structure["numbers"]))
    hypers = {k: v for k, v in fixture["hypers"].items() if k != "species"}
    body = {"structures": [structure], "descriptor": {"type": "power_spectrum", "species": species, "hypers": hypers}}
    write("json", "conformance-" + name.removeprefix("public_"), compact(body))

# ---------------------------------------------------------------- HTTP requests
body = compact(features).encode()
gz_body = gz(body)


def chunked(data, sizes):
    out, i = b"", 0
    for n in sizes:
        out += b"%x\r\n" % n + data[i:i + n] + b"\r\n"
        i += n
    return out + b"%x;ext=1\r\n" % (len(data) - i) + data[i:] + b"\r\n" + b"0\r\nX-Trailer: t\r\n\r\n"


http_seeds = {
    "get.http": b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n",
    "get-query.http": b"GET /v1/jobs?state=queued&limit=10&offset=0&x=%20a+b&%zz=1#frag HTTP/1.1\r\nHost: h\r\nAccept: application/json\r\nX-Request-Id: abc-123\r\n\r\n",
    "get-http10.http": b"GET /metrics HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
    "get-absolute.http": b"GET http://example.com:8080/v1/bases/abc?radial_functions=100 HTTP/1.1\r\nHost: example.com\r\n\r\n",
    "options-star.http": b"OPTIONS * HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n",
    "post-length.http": b"POST /v1/features HTTP/1.1\r\nHost: h\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body,
    "post-chunked.http": b"POST /v1/features HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(body, [7, 100, 1]),
    "post-gzip.http": b"POST /v1/features HTTP/1.1\r\nHost: h\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(gz_body) + gz_body,
    "post-gzip-chunked.http": b"POST /v1/jobs HTTP/1.1\r\nHost: h\r\nContent-Encoding: identity, gzip\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked(gz_body, [10, 20]),
    "expect-continue.http": b"PUT /v1/datasets/x/structures HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nIdempotency-Key: k1\r\nContent-Length: 2\r\n\r\n{}",
    "pipelined.http": (b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
                       b"POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc"
                       b"DELETE /v1/jobs/1 HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"
                       b"HEAD /c HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"),
    "bare-lf.http": b"\r\n\nGET / HTTP/1.1\nHost: h\nContent-Length: 1, 1\n\nx",
    "err-te-and-cl.http": b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    "err-bad-length.http": b"POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 99999999999999999999999\r\n\r\n",
    "err-obs-fold.http": b"GET / HTTP/1.1\r\nHost: h\r\nX: a\r\n  folded\r\n\r\n",
    "err-version.http": b"GET / HTTP/2.0\r\nHost: h\r\n\r\n",
    "err-no-host.http": b"GET / HTTP/1.1\r\n\r\n",
    "err-chunk-size.http": b"POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n",
    "err-expect.http": b"POST / HTTP/1.1\r\nHost: h\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx",
    "err-encoding.http": b"POST / HTTP/1.1\r\nHost: h\r\nContent-Encoding: br\r\nContent-Length: 1\r\n\r\nx",
    "err-target.http": b"GET /%00 HTTP/1.1\r\nHost: h\r\n\r\n",
}
for name, data in http_seeds.items():
    write("http", name, data)

# ---------------------------------------------------------------- gzip members
text = b"soapd " * 200
member = gz(text)
header_flags = bytes([0x1f, 0x8b, 8, 0x1f, 0, 0, 0, 0, 0, 3]) + b"\x04\x00ab" + b"name\x00" + b"comment\x00"
raw = zlib.compressobj(6, zlib.DEFLATED, -15)
deflated = raw.compress(text) + raw.flush()
crc = zlib.crc32(text).to_bytes(4, "little") + len(text).to_bytes(4, "little")
hcrc = (zlib.crc32(header_flags) & 0xffff).to_bytes(2, "little")
gzip_seeds = {
    "empty.gz": gz(b""),
    "text.gz": member,
    "json.gz": gz_body,
    "stored.gz": gz(body, level=0),
    "header-fields.gz": header_flags + hcrc + deflated + crc,
    "concatenated.gz": gz(b"abc") + gz(b"") + gz(b"def"),
    "truncated.gz": member[:len(member) // 2],
    "truncated-trailer.gz": member[:-4],
    "bad-crc.gz": member[:-8] + b"\x00\x00\x00\x00" + member[-4:],
    "trailing-garbage.gz": member + b"\x00\x00\x00",
    "bomb.gz": gz(b"\x00" * (2 << 20), level=9),
    "not-gzip.gz": b"not gzip at all",
}
for name, data in gzip_seeds.items():
    write("gzip", name, data)

# ---------------------------------------------------------------- dictionaries
def dict_file(target, tokens):
    def esc(t):
        t = t.encode() if isinstance(t, str) else t
        return "".join(chr(b) if 0x20 <= b < 0x7f and b not in b'"\\' else "\\x%02x" % b for b in t)
    with open(os.path.join(ROOT, "dict", target + ".dict"), "w") as f:
        f.write("# libFuzzer dictionary, written by Fuzz/make-corpus.py\n")
        for t in tokens:
            f.write('"%s"\n' % esc(t))

dict_file("http", ["GET ", "POST ", "PUT ", "DELETE ", "HEAD ", "OPTIONS * ", " HTTP/1.1\r\n", " HTTP/1.0\r\n", "\r\n", "\r\n\r\n",
                   "Host: h\r\n", "Content-Length: ", "Transfer-Encoding: chunked\r\n", "Transfer-Encoding: ",
                   "Content-Encoding: gzip\r\n", "Expect: 100-continue\r\n", "Connection: close\r\n", "Connection: keep-alive\r\n",
                   "0\r\n\r\n", ";ext=v", "http://", "https://", "%2F", "%00", "?a=b&c", "#", ",", "\x1f\x8b\x08\x00"])
dict_file("gzip", [b"\x1f\x8b\x08\x00", b"\x1f\x8b\x08\x1f", b"\x00\x00\xff\xff", b"\x03\x00", b"\x01\x00\x00\xff\xff",
                   b"\x00\x00\x00\x00", b"\xff\xff\xff\xff"])
dict_file("json", ["structures", "descriptor", "numbers", "symbols", "positions", "cell", "pbc", "type", "species", "hypers",
                   "basis_id", "per", "gradients", "atom", "structure", "cutoff", "radius", "smoothing", "ShiftedCosine", "Step",
                   "width", "density", "Gaussian", "scaling", "Willatt2018", "rate", "scale", "exponent", "center_atom_weight",
                   "basis", "TensorProduct", "max_angular", "radial", "Gto", "max_radial", "spline_accuracy",
                   "spherical_expansion", "radial_spectrum", "power_spectrum", "bispectrum", "dataset_id", "method", "pca",
                   "pcovr", "gamma", "contraction", "separate", "mixed", "center_specific", "q_max", "residual_variance",
                   "targets", "fail_fast", "true", "false", "null", "\\u0000", "\\ud83d\\ude00", "\\ud800", "1e308", "-0", "5e-324",
                   "[[0,0,0]]", "[[1,0,0],[0,1,0],[0,0,1]]"])
