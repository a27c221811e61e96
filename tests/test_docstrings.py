"""Every public function and class of src/rowrnn has a docstring, and one that raises RowrnnError itself says so
(house style: docstrings give shapes, units, defaults and what they raise). Read with ast: nothing is imported."""
import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "rowrnn"

# Known gaps, by "module.qualified_name", each to be written and then struck from here (the test fails on a
# name listed here that no longer needs it, so the list only shrinks).
NO_DOCSTRING_YET: set[str] = set()
RAISES_NOT_SAID_YET: set[str] = set()


def public_definitions(source: str):
    """(qualified name, node) of every public function and class, and of the public methods of public classes."""
    def walk(body, prefix):
        for node in body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
                yield prefix + node.name, node
                if isinstance(node, ast.ClassDef):
                    yield from walk(node.body, f"{prefix}{node.name}.")
    yield from walk(ast.parse(source).body, "")


def raises_rowrnn_error(node) -> bool:
    """Does the function's own body (not a nested function's) raise RowrnnError or a subclass named *Error?"""
    def own(n):
        for child in ast.iter_child_nodes(n):
            if not isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)):
                yield child
                yield from own(child)
    return any(isinstance(n, ast.Raise) and n.exc is not None and "RowrnnError" in ast.unparse(n.exc)
               for n in own(node))


def says_what_it_raises(docstring: str) -> bool:
    text = docstring.lower()
    return "raise" in text or "rowrnnerror" in text or "refuse" in text


def gaps(sources: dict[str, str]) -> tuple[set[str], set[str]]:
    """(no docstring, raises RowrnnError without saying so), as 'module.name', for module name -> source."""
    missing, unsaid = set(), set()
    for module, source in sources.items():
        for name, node in public_definitions(source):
            doc = ast.get_docstring(node)
            if not doc:
                missing.add(f"{module}.{name}")
            elif not isinstance(node, ast.ClassDef) and raises_rowrnn_error(node) and not says_what_it_raises(doc):
                unsaid.add(f"{module}.{name}")
    return missing, unsaid


SOURCES = {p.stem: p.read_text() for p in sorted(PACKAGE.glob("*.py"))}
MISSING, UNSAID = gaps(SOURCES)


def test_every_public_function_and_class_has_a_docstring():
    new = sorted(MISSING - NO_DOCSTRING_YET)
    assert not new, f"public functions and classes without a docstring: {new}"
    done = sorted(NO_DOCSTRING_YET - MISSING)
    assert not done, f"these have a docstring now (or are gone): strike them from NO_DOCSTRING_YET: {done}"


def test_every_function_that_raises_a_user_error_says_so():
    new = sorted(UNSAID - RAISES_NOT_SAID_YET)
    assert not new, f"these raise RowrnnError and their docstrings do not say when: {new}"
    done = sorted(RAISES_NOT_SAID_YET - UNSAID)
    assert not done, f"these say what they raise now (or are gone): strike them from RAISES_NOT_SAID_YET: {done}"


@pytest.mark.parametrize("source, expected", [
    ("def f():\n    pass\n", ({"m.f"}, set())),
    ('def f():\n    """Adds."""\n    raise RowrnnError("no")\n', (set(), {"m.f"})),
    ('def f():\n    """Adds. Raises RowrnnError for a bad x."""\n    raise RowrnnError("no")\n', (set(), set())),
    ('def f():\n    """Adds."""\n    def g():\n        raise RowrnnError("no")\n', (set(), set())),
    ("def _private():\n    pass\nclass _Hidden:\n    def f(self):\n        pass\n", (set(), set())),
    ('class A:\n    """An A."""\n    def run(self):\n        pass\n    def _helper(self):\n        pass\n',
     ({"m.A.run"}, set())),
    ("async def serve():\n    pass\n", ({"m.serve"}, set())),
])
def test_the_checker_finds_what_is_missing(source, expected):
    assert gaps({"m": source}) == expected
