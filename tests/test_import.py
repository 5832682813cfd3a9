import subprocess
import sys


def test_import_keytokens_does_not_import_torch_or_transformers():
    code = "import sys, keytokens; print(sorted(m for m in ('torch', 'transformers') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_all_names_are_unique_and_importable():
    import keytokens

    assert len(set(keytokens.__all__)) == len(keytokens.__all__)
    for name in keytokens.__all__:
        assert hasattr(keytokens, name), name


def test_the_command_line_starts_without_the_library_it_does_not_need():
    code = (
        "import sys, keytokens.cli; "
        "print(sorted(m for m in ('scipy', 'torch', 'transformers', 'keytokens.heads', 'keytokens.evaluation') "
        "if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_lazy_names_resolve_and_unknown_names_fail():
    import pytest

    import keytokens

    assert keytokens.SparseIndex.__name__ == "SparseIndex"
    assert set(keytokens.__all__) <= set(dir(keytokens))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = keytokens.nope
