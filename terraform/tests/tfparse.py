"""Parse terraform/ with python-hcl2 and give tests a small, typed view of it.

Run as a script it parses every .tf, .tfvars, .hcl and .tfvars.example file under terraform/ and exits
non-zero naming each file that does not parse (the "HCL parse of every file" CI step):

    python terraform/tests/tfparse.py

python-hcl2 >= 8 is required (its SerializationOptions strip the quotes of string literals).
Expressions come back as strings wrapped in ``${...}``; ``Module.resolve`` follows ``var.X`` to
the variable's default and ``local.X`` to the local's value, which is all the contract tests need.
"""

from __future__ import annotations

import functools
import re
import sys
from pathlib import Path
from typing import Any

import hcl2
from hcl2 import SerializationOptions

TF_ROOT = Path(__file__).resolve().parents[1]

_OPTIONS = SerializationOptions(
    strip_string_quotes=True,
    explicit_blocks=False,
    with_comments=False,
    preserve_heredocs=False,
)


def hcl_files(root: Path = TF_ROOT) -> list[Path]:
    """Every HCL file of the tree: .tf, .tfvars, .hcl (test files) and .tfvars.example templates."""
    files = [
        p
        for p in root.rglob("*")
        if p.is_file()
        and (p.suffix in (".tf", ".tfvars", ".hcl") or p.name.endswith(".tfvars.example"))
        and ".terraform" not in p.parts
    ]
    return sorted(files)


def parse_file(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as f:
        return hcl2.load(f, serialization_options=_OPTIONS)


def expr(value: Any) -> str | None:
    """The expression inside a whole-value ``${...}``, or None for a literal."""
    if isinstance(value, str):
        m = re.fullmatch(r"\$\{(.*)\}", value, flags=re.S)
        if m and _balanced(m.group(1)):
            return m.group(1).strip()
    return None


def _balanced(s: str) -> bool:
    depth = 0
    for ch in s:
        if ch in "{[(":
            depth += 1
        elif ch in "}])":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def split_top_level(s: str, sep: str = ",") -> list[str]:
    """Split an HCL expression on `sep` outside brackets and string literals."""
    parts, depth, cur, in_str, esc = [], 0, [], False, False
    for ch in s:
        if in_str:
            cur.append(ch)
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
            continue
        if ch == '"':
            in_str = True
        elif ch in "{[(":
            depth += 1
        elif ch in "}])":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append("".join(cur).strip())
            cur = []
        else:
            cur.append(ch)
    tail = "".join(cur).strip()
    if tail:
        parts.append(tail)
    return parts


def object_expr(s: str) -> dict[str, str]:
    """``{a = x, "b-c" = y}`` -> ``{"a": "x", "b-c": "y"}`` (values stay raw expressions)."""
    s = s.strip()
    if not (s.startswith("{") and s.endswith("}")):
        raise ValueError(f"not an object expression: {s[:80]}")
    out = {}
    for item in split_top_level(s[1:-1]):
        key, _, value = item.partition("=")
        out[key.strip().strip('"')] = value.strip()
    return out


def list_expr(s: str) -> list[str]:
    s = s.strip()
    if not (s.startswith("[") and s.endswith("]")):
        raise ValueError(f"not a tuple expression: {s[:80]}")
    return split_top_level(s[1:-1])


def call_arg(s: str, function: str) -> str:
    """The single argument of ``function(...)`` in expression `s`."""
    s = s.strip()
    prefix = function + "("
    if not (s.startswith(prefix) and s.endswith(")")):
        raise ValueError(f"not a {function}() call: {s[:80]}")
    return s[len(prefix) : -1]


def literal(s: str) -> Any:
    """An HCL literal expression as a Python value (strings, numbers, booleans)."""
    s = s.strip()
    if s.startswith('"') and s.endswith('"'):
        return s[1:-1]
    if s in ("true", "false"):
        return s == "true"
    if re.fullmatch(r"-?\d+", s):
        return int(s)
    if re.fullmatch(r"-?\d+\.\d*", s):
        return float(s)
    raise ValueError(f"not a literal: {s}")


class Module:
    """All blocks of one directory (a module or an environment), merged across its files."""

    def __init__(self, path: Path):
        self.path = path
        self.files = {p.name: parse_file(p) for p in sorted(path.glob("*.tf"))}
        self.resources: dict[str, dict[str, dict]] = {}
        self.data: dict[str, dict[str, dict]] = {}
        self.variables: dict[str, dict] = {}
        self.outputs: dict[str, dict] = {}
        self.modules: dict[str, dict] = {}
        self.locals: dict[str, Any] = {}
        for parsed in self.files.values():
            for block in parsed.get("resource", []):
                for rtype, by_name in block.items():
                    self.resources.setdefault(rtype, {}).update(by_name)
            for block in parsed.get("data", []):
                for dtype, by_name in block.items():
                    self.data.setdefault(dtype, {}).update(by_name)
            for block in parsed.get("variable", []):
                self.variables.update(block)
            for block in parsed.get("output", []):
                self.outputs.update(block)
            for block in parsed.get("module", []):
                self.modules.update(block)
            for block in parsed.get("locals", []):
                self.locals.update(block)

    def resource(self, rtype: str, name: str) -> dict:
        try:
            return self.resources[rtype][name]
        except KeyError:
            raise AssertionError(f"{self.path.name}: no resource {rtype}.{name}") from None

    def resolve(self, value: Any, depth: int = 0) -> Any:
        """Follow ``${var.X}`` to X's default and ``${local.X}`` to its value."""
        e = expr(value)
        if e is None or depth > 10:
            return value
        m = re.fullmatch(r"var\.(\w+)", e)
        if m:
            var = self.variables.get(m.group(1))
            if var is None:
                raise AssertionError(f"{self.path.name}: undeclared variable {m.group(1)}")
            if "default" not in var:
                raise AssertionError(f"{self.path.name}: variable {m.group(1)} has no default")
            return self.resolve(var["default"], depth + 1)
        m = re.fullmatch(r"local\.(\w+)", e)
        if m:
            if m.group(1) not in self.locals:
                raise AssertionError(f"{self.path.name}: undeclared local {m.group(1)}")
            return self.resolve(self.locals[m.group(1)], depth + 1)
        return value


@functools.lru_cache(maxsize=None)
def load_module(name: str) -> Module:
    return Module(TF_ROOT / "modules" / name)


@functools.lru_cache(maxsize=None)
def load_environment(name: str = "example") -> Module:
    return Module(TF_ROOT / "environments" / name)


def main() -> int:
    files = hcl_files()
    failures = []
    for path in files:
        try:
            parse_file(path)
        except Exception as exc:  # noqa: BLE001 - report every file, then fail
            failures.append((path, exc))
    for path, exc in failures:
        print(f"PARSE ERROR {path.relative_to(TF_ROOT.parent)}: {exc}", file=sys.stderr)
    print(f"parsed {len(files) - len(failures)}/{len(files)} HCL files under {TF_ROOT.name}/")
    return 1 if failures or not files else 0


if __name__ == "__main__":
    sys.exit(main())
