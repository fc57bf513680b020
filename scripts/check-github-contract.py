#!/usr/bin/env python3
"""Check GitHub emulator request logs against GitHub's published API descriptions.

The GitHub emulator (crates/github-emulator, `Emulator::write_log`) writes one JSON object per
served request and per line:

    {"method", "path", "route", "status", "request", "response", "graphql_query"}

This script checks every such line:
  1. the REST (method, route) exists in tests/github/openapi/api.github.com.pruned.json;
  2. the response body validates against the schema documented for that route and status
     (OpenAPI 3.0 `nullable: true` is rewritten into JSON Schema type unions first);
     304 and 204 must have no body. Statuses the description does not list are accepted only
     for the injected transport faults (429, 5xx, 403 secondary rate limit) and for 404;
  3. the request body validates against the operation's requestBody schema, if it has one;
  4. every `graphql_query` validates against GitHub's published GraphQL schema
     (tests/github/graphql/schema.graphql.gz) with graphql-core, and the `data` of its 200
     response reads back unchanged when the query is executed over it (types, enums,
     nullability, no missing or extra fields).
Also, `--webhook EVENT.ACTION=payload.json` validates a webhook payload against
`#/components/schemas/webhook-<event>-<action>` of tests/github/webhooks/schemas.json.

Usage:
    python3 scripts/check-github-contract.py [--webhook EVENT.ACTION=FILE ...] LOG_OR_DIR ...
Directories are searched recursively for *.jsonl files. Needs `jsonschema` and `graphql-core`
(pip install jsonschema graphql-core). Exits 0 when everything holds, 1 with one message per
problem otherwise, 2 on usage errors.
"""

from __future__ import annotations

import argparse
import copy
import gzip
import json
import sys
from pathlib import Path

try:
    import graphql
    import jsonschema
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012
except ImportError as err:  # pragma: no cover - environment problem
    sys.stderr.write(
        f"check-github-contract: {err}; install with: pip install jsonschema graphql-core\n"
    )
    sys.exit(2)

ROOT = Path(__file__).resolve().parent.parent
GITHUB = ROOT / "tests" / "github"
OPENAPI = GITHUB / "openapi" / "api.github.com.pruned.json"
WEBHOOKS = GITHUB / "webhooks" / "schemas.json"
GRAPHQL_SCHEMA = GITHUB / "graphql" / "schema.graphql.gz"
OPENAPI_URI = "urn:github:openapi"
WEBHOOKS_URI = "urn:github:webhooks"
HTTP_METHODS = ("get", "put", "post", "delete", "patch")
FAULT_STATUSES = {429, 500, 502, 503, 504}


def nullable_to_union(node):
    """Rewrite OpenAPI 3.0 `nullable: true` into JSON Schema 2020-12, in place."""
    if isinstance(node, list):
        for item in node:
            nullable_to_union(item)
        return node
    if not isinstance(node, dict):
        return node
    for value in node.values():
        nullable_to_union(value)
    if node.pop("nullable", False) is True:
        if "type" in node:
            types = node["type"] if isinstance(node["type"], list) else [node["type"]]
            if "null" not in types:
                node["type"] = types + ["null"]
            if "enum" in node and None not in node["enum"]:
                node["enum"] = node["enum"] + [None]
        else:
            rest = {k: v for k, v in node.items() if not k.startswith("x-")}
            for key in rest:
                del node[key]
            node["anyOf"] = [rest, {"type": "null"}]
    return node


class Contract:
    def __init__(self) -> None:
        raw = json.loads(OPENAPI.read_text(encoding="utf-8"))
        self.spec = nullable_to_union(copy.deepcopy(raw))
        self.webhooks = json.loads(WEBHOOKS.read_text(encoding="utf-8"))
        self.registry = Registry().with_resources(
            [
                (OPENAPI_URI, Resource.from_contents(self.spec, default_specification=DRAFT202012)),
                (
                    WEBHOOKS_URI,
                    Resource.from_contents(self.webhooks, default_specification=DRAFT202012),
                ),
            ]
        )
        self._graphql_schema = None

    # -- OpenAPI helpers -------------------------------------------------------------------
    def operation(self, method: str, route: str):
        item = self.spec["paths"].get(route)
        if item is None:
            return None
        return item.get(method.lower())

    def deref(self, node):
        while isinstance(node, dict) and "$ref" in node and len(node) == 1:
            ref = node["$ref"]
            if not ref.startswith("#/"):
                raise ValueError(f"external $ref {ref}")
            target = self.spec
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def errors(self, schema: dict, instance) -> list[str]:
        validator = jsonschema.Draft202012Validator(schema, registry=self.registry)
        out = []
        for err in sorted(validator.iter_errors(instance), key=lambda e: list(e.absolute_path)):
            where = "/".join(str(p) for p in err.absolute_path) or "(root)"
            out.append(f"at {where}: {err.message[:300]}")
        return out

    @property
    def graphql_schema(self):
        if self._graphql_schema is None:
            sdl = gzip.decompress(GRAPHQL_SCHEMA.read_bytes()).decode("utf-8")
            # GitHub's published schema breaks two SDL rules (a duplicated field, deprecated
            # interface implementations); skip schema validation, keep document validation.
            self._graphql_schema = graphql.build_schema(
                sdl, assume_valid_sdl=True, assume_valid=True, no_location=True
            )
        return self._graphql_schema

    # -- checks ----------------------------------------------------------------------------
    def check_entry(self, entry: dict) -> list[str]:
        problems: list[str] = []
        method = str(entry.get("method", "")).upper()
        route = entry.get("route")
        status = entry.get("status")
        query = entry.get("graphql_query")
        if route == "/graphql":
            if method != "POST":
                problems.append(f"GraphQL is POST only, got {method}")
            if status in FAULT_STATUSES or status == 403:
                return problems
            if not isinstance(query, str):
                problems.append("GraphQL request without a query string")
                return problems
            try:
                document = graphql.parse(query)
            except graphql.GraphQLError as err:
                return [f"GraphQL query does not parse: {err.message}"]
            for err in graphql.validate(self.graphql_schema, document):
                problems.append(f"GraphQL query invalid: {err.message}")
            if problems:
                return problems
            response = entry.get("response")
            if status == 200 and not (
                isinstance(response, dict) and ("data" in response or "errors" in response)
            ):
                problems.append("GraphQL response has neither `data` nor `errors`")
            elif status == 200 and response.get("data") is not None:
                problems.extend(self.check_graphql_data(document, entry))
            return problems

        op = self.operation(method, route) if isinstance(route, str) else None
        if op is None:
            return [f"{method} {route} is not an operation of {OPENAPI.name}"]

        # 3. request body
        request = entry.get("request")
        if "requestBody" in op and request is not None:
            body = self.deref(op["requestBody"])
            content = body.get("content", {}).get("application/json")
            if content and "schema" in content:
                # Point at the schema inside the (possibly $ref'd) requestBody.
                schema = content["schema"]
                for problem in self.errors(rebase_refs(schema), request):
                    problems.append(f"request body {problem}")

        # 2. response body
        response = entry.get("response")
        responses = op.get("responses", {})
        documented = responses.get(str(status))
        if status in (204, 304):
            if response not in (None, ""):
                problems.append(f"status {status} must have no body")
            if documented is None and status != 304:
                problems.append(f"status {status} is not documented for {method} {route}")
            return problems
        if documented is None:
            message = response.get("message", "") if isinstance(response, dict) else ""
            allowed = (
                status in FAULT_STATUSES
                or status == 404
                or (status == 403 and "rate limit" in str(message))
            )
            if not allowed:
                problems.append(f"status {status} is not documented for {method} {route}")
            elif not isinstance(response, dict) or "message" not in response:
                problems.append(f"undocumented status {status} should carry a JSON message")
            return problems
        documented = self.deref(documented)
        content = documented.get("content", {}).get("application/json")
        if content is None or "schema" not in content:
            return problems
        if response is None:
            problems.append(f"status {status} of {method} {route} needs a JSON body")
            return problems
        for problem in self.errors(rebase_refs(content["schema"]), response):
            problems.append(f"response body {problem}")
        return problems

    def check_graphql_data(self, document, entry: dict) -> list[str]:
        """Run the query over the response data as the root value: the default resolvers
        read the keys back, so a missing or extra field, a null in a non-null field, a wrong
        scalar or enum value, or an unknown `__typename` shows up as an error or a difference."""
        data = entry["response"]["data"]
        request = entry.get("request") or {}
        variables = request.get("variables") if isinstance(request, dict) else None
        result = graphql.execute(
            self.graphql_schema, document, root_value=data, variable_values=variables or {}
        )
        if hasattr(result, "__await__"):  # pragma: no cover - no async resolvers here
            return ["GraphQL execution unexpectedly asynchronous"]
        problems = [
            f"GraphQL response at {'/'.join(map(str, e.path or []))}: {e.message}"
            for e in result.errors or []
        ]
        # Fields the operation does not ask for, or answered differently.
        difference = first_difference(result.data, data, "")
        if difference and not problems:
            problems.append(f"GraphQL response does not match the query's shape at {difference}")
        return problems

    def check_webhook(self, event_action: str, path: Path) -> list[str]:
        event, _, action = event_action.partition(".")
        if not action:
            return [f"--webhook wants EVENT.ACTION=FILE, got {event_action!r}"]
        name = f"webhook-{event}-{action}".replace("_", "-")
        if name not in self.webhooks.get("components", {}).get("schemas", {}):
            return [f"no schema #/components/schemas/{name} in {WEBHOOKS.name}"]
        try:
            payload = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            return [f"cannot read {path}: {err}"]
        schema = {"$ref": f"{WEBHOOKS_URI}#/components/schemas/{name}"}
        return [f"webhook {p}" for p in self.errors(schema, payload)]


def first_difference(expected, actual, path: str) -> str | None:
    if isinstance(expected, dict) and isinstance(actual, dict):
        for key in list(expected) + [k for k in actual if k not in expected]:
            if key not in expected:
                return f"{path}/{key} (not asked for)"
            if key not in actual:
                return f"{path}/{key} (missing)"
            found = first_difference(expected[key], actual[key], f"{path}/{key}")
            if found:
                return found
        return None
    if isinstance(expected, list) and isinstance(actual, list):
        if len(expected) != len(actual):
            return f"{path} (list length)"
        for i, (e, a) in enumerate(zip(expected, actual)):
            found = first_difference(e, a, f"{path}/{i}")
            if found:
                return found
        return None
    return None if expected == actual else f"{path or '/'} ({actual!r} reads back as {expected!r})"


def rebase_refs(node):
    """A copy of an inline schema whose local `#/...` refs point into the OpenAPI file."""
    if isinstance(node, list):
        return [rebase_refs(n) for n in node]
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/"):
                out[key] = OPENAPI_URI + value
            else:
                out[key] = rebase_refs(value)
        return out
    return node


def log_files(args: list[str]) -> list[Path]:
    files: list[Path] = []
    for arg in args:
        p = Path(arg)
        if p.is_dir():
            files.extend(sorted(p.rglob("*.jsonl")))
        else:
            files.append(p)
    return files


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("logs", nargs="*", help="emulator log files (JSON lines) or directories")
    parser.add_argument(
        "--webhook",
        action="append",
        default=[],
        metavar="EVENT.ACTION=FILE",
        help="validate a webhook payload file, e.g. issue_comment.created=payload.json",
    )
    args = parser.parse_args(argv)
    if not args.logs and not args.webhook:
        parser.error("give at least one log file, directory or --webhook")

    contract = Contract()
    failures: list[str] = []
    requests = 0
    routes: set[tuple[str, str]] = set()
    queries = 0
    files = log_files(args.logs)
    for arg in args.logs:
        if not Path(arg).exists():
            failures.append(f"{arg}: no such file or directory")
    for path in files:
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as err:
            failures.append(f"{path}: {err}")
            continue
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except json.JSONDecodeError as err:
                failures.append(f"{path}:{number}: not JSON: {err}")
                continue
            requests += 1
            routes.add((str(entry.get("method")), str(entry.get("route"))))
            if entry.get("graphql_query") is not None:
                queries += 1
            label = f"{entry.get('method')} {entry.get('path') or entry.get('route')} -> {entry.get('status')}"
            for problem in contract.check_entry(entry):
                failures.append(f"{path}:{number}: {label}: {problem}")
    for spec in args.webhook:
        event_action, sep, file = spec.partition("=")
        if not sep:
            failures.append(f"--webhook wants EVENT.ACTION=FILE, got {spec!r}")
            continue
        for problem in contract.check_webhook(event_action, Path(file)):
            failures.append(f"{file}: {problem}")

    summary = (
        f"{requests} requests, {len(routes)} routes, {queries} graphql queries"
        + (f", {len(args.webhook)} webhook payloads" if args.webhook else "")
    )
    if failures:
        for failure in failures:
            print(failure)
        print(f"{summary}: {len(failures)} problem(s)")
        return 1
    print(f"{summary}: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
