"""sparsekit uses only the public APIs of Keras, TensorFlow and JAX.

`keras.src`, `tensorflow.python` and `jax._src` are internals that change
without notice between releases; DESIGN.md rules them out.
"""

import ast
from pathlib import Path

import pytest

import sparsekit

PACKAGE = Path(sparsekit.__file__).parent
PRIVATE = ("keras.src", "tensorflow.python", "jax._src")
# `import keras` (or tensorflow, jax) also binds the private subpackage as an
# attribute: `keras.src.ops`, `tf.python.ops`, `jax._src.core`.
PRIVATE_ATTRIBUTES = {
    "keras": {"src"},
    "tensorflow": {"python"},
    "tf": {"python"},
    "jax": {"_src"},
}


def _is_private(module: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in PRIVATE)


def private_uses(source: str) -> list[str]:
    """Each private import, attribute access or `import_module("...")` target."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if _is_private(alias.name)]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if _is_private(node.module):
                found.append(node.module)
            elif node.level == 0:
                names = [f"{node.module}.{alias.name}" for alias in node.names]
                found += [name for name in names if _is_private(name)]
        elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            if node.attr in PRIVATE_ATTRIBUTES.get(node.value.id, ()):
                found.append(f"{node.value.id}.{node.attr}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            if _is_private(node.value.strip()):
                found.append(node.value.strip())  # importlib.import_module(...)
    return found


@pytest.mark.parametrize(
    "source",
    [
        "from keras.src.ops import core",
        "import tensorflow.python.ops.control_flow_util as cfu",
        "from tensorflow.python.ops import control_flow_util",
        "from jax import _src",
        "import keras\nkeras.src.backend.standardize_dtype('float32')",
        "import tensorflow as tf\ntf.python.ops",
        "import jax\njax._src.core.Tracer",
        "import importlib\nimportlib.import_module('keras.src.utils')",
    ],
)
def test_the_scan_finds_each_form_of_private_use(source):
    assert private_uses(source)


def test_the_scan_leaves_public_apis_alone():
    source = (
        "import keras\nfrom keras import ops\nimport tensorflow as tf\n"
        "import jax\nx = jax.core.Tracer\ny = tf.__internal__\n"
        "z = keras.saving.register_keras_serializable\n"
        '"""keras.src is private (a docstring mentioning it)."""\n'
    )
    assert private_uses(source) == []


def test_sparsekit_imports_no_private_module():
    files = sorted(PACKAGE.rglob("*.py"))
    assert len(files) > 30  # the whole package, not an empty folder
    found = {
        str(path.relative_to(PACKAGE)): uses
        for path in files
        if (uses := private_uses(path.read_text(encoding="utf-8")))
    }
    assert found == {}
