import subprocess
import sys


def test_backends_and_cli_import_no_engine():
    code = (
        "import sys, keytokens, keytokens.backends, keytokens.backends.ray_encode, keytokens.cli; "
        "print(sorted(m for m in ('pymilvus', 'ray', 'pyarrow', 'torch') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
