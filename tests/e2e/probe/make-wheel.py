# Builds probe-1.0-py3-none-any.whl into DIR by hand (a wheel is a zip with a RECORD; no index,
# no build backend): fleet_probe.py and fleet_probe.pth, which runs it at every interpreter start.
# Usage: python3 make-wheel.py DIR
import base64
import hashlib
import os
import sys
import zipfile

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "fleet_probe.py"), "rb") as f:
    probe = f.read()
files = {
    "fleet_probe.py": probe,
    "fleet_probe.pth": b"import fleet_probe; fleet_probe.run()\n",
    "probe-1.0.dist-info/METADATA": b"Metadata-Version: 2.1\nName: probe\nVersion: 1.0\n",
    "probe-1.0.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: fleet-e2e\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = []
for name, data in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    record.append("%s,sha256=%s,%d" % (name, digest, len(data)))
record.append("probe-1.0.dist-info/RECORD,,")
files["probe-1.0.dist-info/RECORD"] = ("\n".join(record) + "\n").encode()
with zipfile.ZipFile(os.path.join(sys.argv[1], "probe-1.0-py3-none-any.whl"), "w") as wheel:
    for name, data in files.items():
        wheel.writestr(name, data)
