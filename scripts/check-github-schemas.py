#!/usr/bin/env python3
"""Check the vendored GitHub API descriptions in tests/github/ (standard library only, Python 3.11).

Checks:
  * every "$ref" in tests/github/openapi/api.github.com.pruned.json (and in
    tests/github/webhooks/schemas.json) resolves to a value inside the same file;
  * every component of those files is reachable from their paths/webhooks (nothing extra kept);
  * every operation of the index TSV (default tests/github/openapi/operations.tsv) is present
    with its method, path and operationId;
  * every tests/github/webhooks/examples/*.json is a JSON object with a string "action" field;
  * tests/github/ stays under 3 MB.

Usage: python3 scripts/check-github-schemas.py [--index PATH]
Exits 0 when everything holds, 1 with one line per failure otherwise.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parent.parent
GITHUB = ROOT / "tests" / "github"
OPENAPI = GITHUB / "openapi" / "api.github.com.pruned.json"
WEBHOOKS = GITHUB / "webhooks" / "schemas.json"
EXAMPLES = GITHUB / "webhooks" / "examples"
DEFAULT_INDEX = GITHUB / "openapi" / "operations.tsv"
SIZE_BUDGET = 3 * 1024 * 1024
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


def rel(p: Path) -> str:
    try:
        return str(p.relative_to(ROOT))
    except ValueError:
        return str(p)


def load(path: Path, failures: list[str]):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        failures.append(f"{rel(path)}: missing (run: node scripts/vendor-github-schemas.mjs)")
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        failures.append(f"{rel(path)}: not valid JSON: {e}")
    return None


def iter_refs(node, where="#"):
    """Yield (location, ref) for every string-valued "$ref" key."""
    if isinstance(node, dict):
        for k, v in node.items():
            loc = f"{where}/{k.replace('~', '~0').replace('/', '~1')}"
            if k == "$ref" and isinstance(v, str):
                yield where, v
            else:
                yield from iter_refs(v, loc)
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from iter_refs(v, f"{where}/{i}")


def resolve(doc, ref: str):
    """Resolve a same-document JSON pointer ref ("#/a/b"); raise LookupError when it does not."""
    if not ref.startswith("#"):
        raise LookupError("not a same-document reference")
    pointer = unquote(ref[1:])
    if pointer == "":
        return doc
    if not pointer.startswith("/"):
        raise LookupError("not a JSON pointer")
    node = doc
    for token in pointer[1:].split("/"):
        token = token.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            raise LookupError(f"no {token!r}")
    return node


def check_refs(doc, path: Path, roots_key: str, failures: list[str]) -> int:
    """Every $ref resolves; every component is reachable from doc[roots_key]. Returns ref count."""
    refs = list(iter_refs(doc))
    for where, ref in refs:
        try:
            resolve(doc, ref)
        except LookupError as e:
            failures.append(f"{rel(path)}: $ref {ref!r} at {where} does not resolve ({e})")
    # Reachability: walk from the roots through resolvable component refs.
    reached: set[tuple[str, str]] = set()
    stack = [doc.get(roots_key, {})]
    while stack:
        for _, ref in iter_refs(stack.pop()):
            parts = ref.split("/")
            if len(parts) >= 4 and parts[:2] == ["#", "components"]:
                key = (parts[2], parts[3].replace("~1", "/").replace("~0", "~"))
                if key not in reached:
                    reached.add(key)
                    target = doc.get("components", {}).get(key[0], {}).get(key[1])
                    if target is not None:
                        stack.append(target)
    for kind, entries in doc.get("components", {}).items():
        for name in entries:
            if (kind, name) not in reached:
                failures.append(f"{rel(path)}: components/{kind}/{name} is not reachable from {roots_key}")
    return len(refs)


def read_index(path: Path, failures: list[str]) -> list[tuple[str, str, str]]:
    rows = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        failures.append(f"{rel(path)}: index TSV missing")
        return rows
    for n, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) < 3:
            failures.append(f"{rel(path)}:{n}: expected method<TAB>path<TAB>operationId")
            continue
        rows.append((cols[0].lower(), cols[1], cols[2]))
    if not rows:
        failures.append(f"{rel(path)}: no operations listed")
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--index", type=Path, default=DEFAULT_INDEX, help="operation index TSV")
    args = ap.parse_args()
    failures: list[str] = []
    notes: list[str] = []

    spec = load(OPENAPI, failures)
    if spec is not None:
        if not str(spec.get("openapi", "")).startswith("3.0."):
            failures.append(f"{rel(OPENAPI)}: expected OpenAPI 3.0.x, found {spec.get('openapi')!r}")
        nrefs = check_refs(spec, OPENAPI, "paths", failures)
        paths = spec.get("paths", {})
        index = read_index(args.index, failures)
        for method, route, op_id in index:
            op = paths.get(route, {}).get(method)
            if op is None:
                failures.append(f"{rel(OPENAPI)}: index operation {method.upper()} {route} ({op_id}) is missing")
            elif op.get("operationId") != op_id:
                failures.append(
                    f"{rel(OPENAPI)}: {method.upper()} {route} has operationId {op.get('operationId')!r}, "
                    f"the index says {op_id!r}"
                )
        nops = sum(1 for item in paths.values() for m in HTTP_METHODS if m in item)
        ncomp = sum(len(v) for v in spec.get("components", {}).values())
        notes.append(f"{rel(OPENAPI)}: {nops} operations ({len(index)} from the index), {ncomp} components, {nrefs} $refs")

    hooks = load(WEBHOOKS, failures)
    if hooks is not None:
        nrefs = check_refs(hooks, WEBHOOKS, "webhooks", failures)
        ncomp = sum(len(v) for v in hooks.get("components", {}).values())
        notes.append(f"{rel(WEBHOOKS)}: {len(hooks.get('webhooks', {}))} webhooks, {ncomp} components, {nrefs} $refs")

    examples = sorted(EXAMPLES.glob("*.json")) if EXAMPLES.is_dir() else []
    if not examples:
        failures.append(f"{rel(EXAMPLES)}: no example payloads")
    for path in examples:
        payload = load(path, failures)
        if payload is None:
            continue
        if not isinstance(payload, dict):
            failures.append(f"{rel(path)}: payload is a JSON {type(payload).__name__}, not an object")
        elif not isinstance(payload.get("action"), str) or not payload["action"]:
            failures.append(f"{rel(path)}: payload has no string 'action' field")
        elif path.name.count(".") == 3 and path.name.split(".")[1] != payload["action"]:
            failures.append(f"{rel(path)}: file name says {path.name.split('.')[1]!r}, action is {payload['action']!r}")
    notes.append(f"{rel(EXAMPLES)}: {len(examples)} example payloads")

    size = sum(p.stat().st_size for p in GITHUB.rglob("*") if p.is_file())
    if size >= SIZE_BUDGET:
        failures.append(f"{rel(GITHUB)}: {size} bytes, over the {SIZE_BUDGET}-byte budget")
    notes.append(f"{rel(GITHUB)}: {size} bytes in total")

    for n in notes:
        print(n)
    if failures:
        for f in failures:
            print(f"FAIL: {f}", file=sys.stderr)
        print(f"check-github-schemas: {len(failures)} failure(s)", file=sys.stderr)
        return 1
    print("check-github-schemas: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
