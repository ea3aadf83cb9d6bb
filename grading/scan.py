"""The static scan of a student's code cells (a heuristic; it flags, never scores).

Linear in the size of a cell: IPython's own `TransformerManager` re-tokenises a
cell once per magic (a 20 KB cell of magics took ~92 s) and gives up after 500,
so magics are turned into Python here line by line instead. Nothing recursive
walks the tree: a 600-deep attribute chain must not end the run.
"""

from __future__ import annotations

import ast
import builtins
import re
import textwrap
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

PROTECTED = {
    name
    for name, value in vars(builtins).items()
    if isinstance(value, type) and issubclass(value, BaseException)
} | {
    "isinstance", "len", "abs", "all", "any", "round", "float", "int", "bool",
    "print", "getattr", "hasattr", "setattr", "__import__", "eval", "exec",
    "compile", "repr", "str", "type", "range", "sorted", "zip", "map", "vars",
    "globals", "locals", "dict", "list", "tuple", "set", "sum", "min", "max",
    "object", "super", "iter", "next", "open", "id", "hash", "format",
}  # fmt: skip
HOOKS = {
    "get_ipython", "__builtins__", "settrace", "setprofile", "excepthook",
    "displayhook", "meta_path", "path_hooks", "path_importer_cache", "_getframe",
    "currentframe", "get_referrers", "get_objects", "f_locals", "f_globals",
    "f_back", "tb_frame", "gi_frame", "cr_frame", "ag_frame", "__closure__",
    "cell_contents", "input_transformers_cleanup", "input_transformers_post",
    "ast_transformers", "input_transformer_manager", "events", "user_ns",
}  # fmt: skip
MODULES = {"builtins", "ctypes", "gc", "inspect", "importlib", "runpy", "cffi"}
DYNAMIC = {"eval", "exec", "compile", "__import__", "breakpoint"}
# Writing these attributes changes an existing function or object in place.
SPECIAL_ATTRS = {
    "__eq__", "__ne__", "__bool__", "__class__", "__code__", "__globals__",
    "__defaults__", "__kwdefaults__", "__dict__", "__call__", "__getattr__",
    "__getattribute__", "__len__", "__float__", "__repr__", "__str__",
}  # fmt: skip
# Methods that make an answer compare, test or convert as the test wants.
TRICKS = {
    "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__bool__",
    "__float__", "__int__", "__index__", "__abs__", "__sub__", "__rsub__",
    "__array__", "__array_ufunc__", "__array_function__", "__instancecheck__",
    "__subclasscheck__", "__getattribute__",
}  # fmt: skip
MUTATORS = {
    "update", "setdefault", "__setitem__", "__delitem__", "pop", "popitem",
    "clear", "__setattr__", "__delattr__", "__ior__",
}  # fmt: skip
NAMESPACE_CALLS = {"vars", "globals", "locals"}
# Magics whose argument (line) or body (cell) is Python that runs in the kernel.
PYTHON_MAGICS = {"time", "timeit", "prun", "capture", "debug"}
SAFE_LINE_MAGICS = {"matplotlib", "time", "timeit", "prun", "pwd", "who", "whos"}
SAFE_CELL_MAGICS = {"time", "timeit", "capture", "prun"}


class Unscannable(Exception):
    """The cell could not be read as Python (and may still run in IPython)."""


class OutOfTime(Exception):
    """The scan ran past its deadline."""


@dataclass
class Rules:
    """What the tests rely on, all from the release: never from the submission.

    `forbidden`: dotted names (`sparsekit`, `sparsekit.metrics.hoyer`) an answer
    must not use; `instructor`: names bound by locked cells (`np`, `sk`,
    `_passes`); `owned`: the name each answer cell defines, by grade_id.
    """

    forbidden: list[str] = field(default_factory=list)
    instructor: dict[str, set[str]] = field(default_factory=dict)
    owned: dict[str, str] = field(default_factory=dict)
    imported: set[str] = field(default_factory=set)
    aliases: dict[str, set[str]] = field(default_factory=dict)


def parse(source: str, deadline: float | None = None) -> list[ast.AST]:
    """Trees of what IPython would run from `source` (magics' Python included)."""
    try:
        return [ast.parse(source)]
    except SyntaxError:
        pass
    except (RecursionError, MemoryError, ValueError) as err:
        raise Unscannable(type(err).__name__) from None
    code, extra, magics = _unmagic(source, deadline)
    trees = [ast.Module(body=[], type_ignores=[])]
    for text in [code, *extra]:
        try:
            trees.append(ast.parse(text))
        except SyntaxError:
            if text is code and magics:  # ours or IPython's reading may differ
                raise Unscannable("magics around code the scan cannot read") from None
        except (RecursionError, MemoryError, ValueError) as err:
            raise Unscannable(type(err).__name__) from None
    trees[0].body = [
        ast.Expr(ast.Call(ast.Name(f"__magic_{m}__", ast.Load()), [], []))
        for m in magics
    ]
    return trees


_ASSIGN_MAGIC = re.compile(r"^(\s*)([\w.\[\]'\", ]+?)\s*=\s*([%!].*)$")
_HELP = re.compile(r"^\s*\??[\w.*]+\?{1,2}\s*$")


def _unmagic(source: str, deadline: float | None) -> tuple[str, list[str], list[str]]:
    """(code, Python inside magics, magic names), one pass over the lines."""
    source = textwrap.dedent(source)
    lines = source.splitlines()
    first = next((i for i, ln in enumerate(lines) if ln.strip()), None)
    if first is not None and lines[first].lstrip().startswith("%%"):
        name = lines[first].lstrip()[2:].split(" ", 1)[0]
        body = "\n".join(lines[first + 1 :])
        if name in PYTHON_MAGICS:
            code, extra, magics = _unmagic(body, deadline)
            return code, extra, [f"%%{name}", *magics]
        return "", [], [f"%%{name}"]
    out, extra, magics = [], [], []
    for n, line in enumerate(lines):
        if deadline is not None and n % 256 == 0 and time.monotonic() > deadline:
            raise OutOfTime
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        for prompt in (">>> ", "... "):
            if stripped.startswith(prompt):
                stripped = stripped[len(prompt) :]
        assigned = _ASSIGN_MAGIC.match(line)
        if stripped[:1] in ("%", "!"):
            magics.append(_magic_name(stripped))
            extra += _magic_python(stripped)
            out.append(indent + "pass")
        elif assigned and not stripped.startswith(("#", "'", '"')):
            indent, target, magic = assigned.groups()
            magics.append(_magic_name(magic))
            extra += _magic_python(magic)
            out.append(f"{indent}{target} = None")
        elif stripped[:1] in ("/", ",", ";") and len(stripped) > 1:
            # IPython's autocall escapes: `/f a, b` -> f(a, b), `,f a b` -> f("a", "b").
            func, _, args = stripped[1:].partition(" ")
            if stripped[0] == "/":
                out.append(f"{indent}{func}({args})")
            else:
                parts = args.split() if stripped[0] == "," else [args]
                out.append(f"{indent}{func}({', '.join(map(repr, parts))})")
        elif _HELP.match(stripped):
            out.append(indent + "pass")
        else:
            out.append(indent + stripped)
    return "\n".join(out), extra, magics


def _magic_name(text: str) -> str:
    bang = text.startswith("!")
    word = text.lstrip("%!").split(" ", 1)[0]
    return "!" if bang else "%" + word


def _magic_python(text: str) -> list[str]:
    """The Python argument of `%time CODE`-like magics (options dropped)."""
    name = text.lstrip("%").split(" ", 1)[0]
    if text.startswith("!") or name not in PYTHON_MAGICS:
        return []
    words = text.split()[1:]
    while words and words[0].startswith("-"):
        words = words[2:] if len(words[0]) == 2 and len(words) > 1 else words[1:]
    return [" ".join(words)]


def instructor_rules(cells: Iterable[str], deadline: float | None = None) -> Rules:
    """Imports, aliases and bound names of instructor (locked) code."""
    rules = Rules()
    for source in cells:
        try:
            trees = parse(source, deadline)
        except Unscannable:
            continue
        for tree in trees:
            for name, target in bindings(tree):
                rules.instructor.setdefault(name, set()).add(target)
            learn(tree, rules, taint=False)
    return rules


def bindings(tree: ast.AST) -> list[tuple[str, str]]:
    """(name, what it is bound to) at module level: `module:x`, or `value`."""
    found = []
    for stmt in _top_level(tree):
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            base = "" if isinstance(stmt, ast.Import) else (stmt.module or "") + "."
            for alias in stmt.names:
                if isinstance(stmt, ast.Import) and alias.asname is None:
                    name = target = alias.name.split(".")[0]
                else:
                    name, target = alias.asname or alias.name, base + alias.name
                found.append((name, "module:" + target))
        elif isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found.append((stmt.name, "value"))
        else:
            for node in _walk_shallow(stmt):
                if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                    found.append((node.id, "value"))
    return found


def _top_level(tree: ast.AST) -> list[ast.stmt]:
    """Module-level statements, inside if/for/while/with/try too."""
    out, todo = [], list(getattr(tree, "body", []))
    while todo:
        stmt = todo.pop(0)
        out.append(stmt)
        if isinstance(stmt, (ast.If, ast.For, ast.While, ast.With, ast.Try)):
            for part in ("body", "orelse", "finalbody"):
                todo += getattr(stmt, part, [])
            for handler in getattr(stmt, "handlers", []):
                todo += handler.body
    return out


def _walk_shallow(stmt: ast.stmt) -> Iterable[ast.AST]:
    """The statement's own targets, not nested blocks or functions."""
    if isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign)):
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
    elif isinstance(stmt, (ast.For, ast.AsyncFor)):
        targets = [stmt.target]
    elif isinstance(stmt, (ast.With, ast.AsyncWith)):
        targets = [i.optional_vars for i in stmt.items if i.optional_vars]
    elif isinstance(stmt, ast.Expr):
        targets = [n.target for n in ast.walk(stmt) if isinstance(n, ast.NamedExpr)]
    else:
        targets = []
    for target in targets:
        yield from ast.walk(target)


def learn(tree: ast.AST, rules: Rules, taint: bool) -> None:
    """Records imports and aliases (`h = sk.metrics.hoyer`); with `taint`, also
    what each module-level def or assignment refers to (`def f(): sk...`)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                name = a.asname or a.name.split(".")[0]
                rules.imported.add(name)
                target = a.name if a.asname else a.name.split(".")[0]
                rules.aliases.setdefault(name, set()).add(target)
        elif isinstance(node, ast.ImportFrom) and not node.level:
            for a in node.names:
                name = a.asname or a.name
                rules.imported.add(name)
                target = f"{node.module}.{a.name}" if a.name != "*" else node.module
                rules.aliases.setdefault(name, set()).add(target)
    for stmt in _top_level(tree):
        if isinstance(stmt, ast.Assign):
            names = [t.id for t in stmt.targets if isinstance(t, ast.Name)]
            refs = resolve(stmt.value, rules)
            if taint:
                refs |= _references(stmt.value, rules)
            for name in names:
                rules.aliases.setdefault(name, set()).update(refs)
        elif taint and isinstance(
            stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
        ):
            refs = _references(stmt, rules)
            rules.aliases.setdefault(stmt.name, set()).update(refs)


def _references(node: ast.AST, rules: Rules) -> set[str]:
    refs = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Name) and isinstance(child.ctx, ast.Load):
            refs |= rules.aliases.get(child.id, set())
    return refs


def resolve(expr: ast.AST, rules: Rules) -> set[str]:
    """Dotted names an expression may stand for: `sk.metrics` -> sparsekit.metrics."""
    attrs = []
    while True:
        if isinstance(expr, ast.Attribute):
            attrs.append(expr.attr)
            expr = expr.value
        elif (
            isinstance(expr, ast.Call)
            and _call_name(expr) == "getattr"
            and len(expr.args) >= 2
            and isinstance(expr.args[1], ast.Constant)
            and isinstance(expr.args[1].value, str)
        ):
            attrs.append(expr.args[1].value)
            expr = expr.args[0]
        elif isinstance(expr, ast.Call) and _call_name(expr) in (
            "__import__",
            "import_module",
        ):
            arg = expr.args[0] if expr.args else None
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                roots = {arg.value}
                break
            return set()
        elif isinstance(expr, ast.Name):
            roots = rules.aliases.get(expr.id, set())
            break
        else:
            return set()
    suffix = ".".join(reversed(attrs))
    return {f"{r}.{suffix}" if suffix else r for r in roots}


def _call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _root(expr: ast.AST) -> ast.AST:
    """The innermost object of `a.b[c].d(e).f` (iterative: chains can be deep)."""
    while isinstance(expr, (ast.Attribute, ast.Subscript, ast.Call, ast.Starred)):
        expr = expr.func if isinstance(expr, ast.Call) else expr.value
    return expr


def _text(node: ast.AST, limit: int = 60) -> str:
    try:
        text = ast.unparse(node)
    except (RecursionError, ValueError):
        text = "a deep expression"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _namespace(expr: ast.AST, rules: Rules) -> bool:
    """`vars(x)`, `globals()`, `x.__dict__`, `sys.modules`, `__builtins__`..."""
    if isinstance(expr, ast.Call) and _call_name(expr) in NAMESPACE_CALLS:
        return isinstance(expr.func, ast.Name)
    if isinstance(expr, ast.Attribute) and expr.attr in ("__dict__", "modules"):
        return True
    return isinstance(expr, ast.Name) and expr.id == "__builtins__"


def _module_rooted(expr: ast.AST, rules: Rules) -> bool:
    root = _root(expr)
    if isinstance(root, ast.Name):
        return root.id in rules.imported or root.id in NAMESPACE_CALLS | DYNAMIC
    return False


def _matches(name: str, rule: str) -> bool:
    return name == rule or name.startswith(rule + ".")


def scan_trees(
    trees: list[ast.AST],
    rules: Rules,
    forbidden: list[str] = (),
    owner: str | None = None,
    deadline: float | None = None,
) -> list[str]:
    """What in a student cell can make tests lie; `owner`: its answer's grade_id."""
    found = []
    for tree in trees:
        declared = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.Global):
                declared.update(node.names)
        bound = {name for name, _ in bindings(tree)} | declared
        for name, target in bindings(tree):
            theirs = rules.instructor.get(name)
            if theirs and target not in theirs:
                found.append(f"rebinds {name} (set by a locked cell)")
        for name in declared & set(rules.instructor):
            found.append(f"rebinds {name} (set by a locked cell)")
        for name in sorted(bound):
            if name in PROTECTED:
                found.append(f"redefines {name}")
            other = rules.owned.get(name)
            if other is not None and other != owner:
                found.append(f"redefines {name} (the answer of {other})")
        for count, node in enumerate(ast.walk(tree)):
            if deadline is not None and count % 4096 == 0:
                if time.monotonic() > deadline:
                    raise OutOfTime
            found += _judge(node, rules)
            if forbidden:
                found += _forbidden(node, rules, forbidden)
        for node in tree.body if isinstance(tree, ast.Module) else []:
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
                name = getattr(node.value.func, "id", "")
                if name.startswith("__magic_"):
                    found += _judge_magic(name[len("__magic_") : -2])
    return sorted(set(found))


def _judge_magic(magic: str) -> list[str]:
    if magic == "!":
        return ["runs a shell command (!)"]
    if magic.startswith("%%"):
        return [] if magic[2:] in SAFE_CELL_MAGICS else [f"uses cell magic {magic}"]
    return [] if magic[1:] in SAFE_LINE_MAGICS else [f"uses magic {magic}"]


def _judge(node: ast.AST, rules: Rules) -> list[str]:
    if isinstance(node, ast.ImportFrom) and any(a.name == "*" for a in node.names):
        return [f"star import from {node.module} (may rebind what the tests use)"]
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        mods = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        mods.append(getattr(node, "module", None) or "")
        return [f"imports {m}" for m in mods if m.split(".")[0] in MODULES]
    if isinstance(node, ast.Name):
        if isinstance(node.ctx, ast.Store) and node.id in TRICKS:
            return [f"defines {node.id} (objects that pass comparisons)"]
        return [f"uses {node.id}"] if node.id in HOOKS else []
    if isinstance(node, ast.Attribute):
        found = [f"uses .{node.attr}"] if node.attr in HOOKS else []
        if isinstance(node.ctx, (ast.Store, ast.Del)):
            if _module_rooted(node.value, rules) or _namespace(node.value, rules):
                found.append(f"monkeypatches {_text(node)}")
            elif node.attr in SPECIAL_ATTRS:
                found.append(f"assigns {node.attr}")
        return found
    if isinstance(node, ast.Subscript) and isinstance(node.ctx, (ast.Store, ast.Del)):
        if _namespace(node.value, rules) or _module_rooted(node.value, rules):
            return [f"writes into {_text(node.value)}"]
        return []
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
        if node.name in TRICKS:
            return [f"defines {node.name} (objects that pass comparisons)"]
        return []
    if isinstance(node, ast.Constant) and node.value in TRICKS:
        return [f"defines {node.value} (objects that pass comparisons)"]
    if isinstance(node, ast.Call):
        return _judge_call(node, rules)
    return []


def _judge_call(node: ast.Call, rules: Rules) -> list[str]:
    name = _call_name(node)
    func = node.func
    found = []
    if isinstance(func, ast.Name) and name in DYNAMIC:
        found.append(f"uses {name}() (code the scan cannot read)")
    if name == "import_module":
        found.append("imports a module by name (importlib)")
    first = node.args[0] if node.args else None
    if name == "getattr" and isinstance(func, ast.Name) and len(node.args) > 1:
        if not isinstance(node.args[1], ast.Constant) and _module_rooted(first, rules):
            found.append(f"getattr with a computed name on {_text(first)}")
    if name in ("setattr", "delattr", "__setattr__", "__delattr__") and first:
        if _module_rooted(first, rules) or _namespace(first, rules):
            found.append(f"monkeypatches {_text(first)} via {name}")
        elif isinstance(func, ast.Attribute) and _module_rooted(func.value, rules):
            found.append(f"monkeypatches via {_text(func)}")
    if name in MUTATORS:
        receivers = [func.value] if isinstance(func, ast.Attribute) else []
        receivers += node.args[:1]
        for receiver in receivers:
            if _namespace(receiver, rules):
                found.append(f"writes into {_text(receiver)}")
    return found


def _forbidden(node: ast.AST, rules: Rules, forbidden: list[str]) -> list[str]:
    """Uses of what this answer must compute itself (aliases and getattr too)."""
    names: set[str] = set()
    dynamic = None
    if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
        names = rules.aliases.get(node.id, set())
    elif isinstance(node, ast.Attribute):
        names = resolve(node, rules)
    elif isinstance(node, ast.Import):
        names = {a.name for a in node.names}
    elif isinstance(node, ast.ImportFrom) and not node.level:
        names = {f"{node.module}.{a.name}" for a in node.names} | {node.module}
    elif isinstance(node, ast.Call):
        names = resolve(node, rules)
        name = _call_name(node)
        first = node.args[0] if node.args else None
        if name in ("getattr", "vars", "dir") and first is not None:
            dynamic = resolve(first, rules)
        elif name in ("__import__", "import_module") and not names:
            return ["imports a module by a computed name"]
    found = [
        f"uses {rule} (not allowed in this answer)"
        for rule in forbidden
        for name in names
        if _matches(name, rule)
    ]
    for name in dynamic or ():
        if any(_matches(rule, name) or _matches(name, rule) for rule in forbidden):
            found.append(f"reaches into {name} dynamically (not allowed here)")
    return found
