#!/usr/bin/env python3
"""Regenerate src/examples.json from the vendored OpenAPI description (standard library only).

The emulator builds every REST response from the description's own example for the response
schema, then overrides the fields it keeps in its state. This script copies those examples,
fixes the three that fail their own schema, empties decorative lists (labels, assignees, ...)
and rewrites the example hosts and names into placeholders the emulator substitutes at start:
  {API}   -> the emulator's URL + "/repos/{owner}/{repo}"      (was https://api.github.com/repos/<x>/<y>)
  {WEB}   -> the emulator's URL + "/{owner}/{repo}"             (was https://github.com/<x>/<y>)
  {ROOT}  -> the emulator's URL                                 (was https://api.github.com)
Run from the repository root: python3 crates/github-emulator/extract-examples.py
"""

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "tests" / "github" / "openapi" / "api.github.com.pruned.json"
OUT = Path(__file__).resolve().parent / "src" / "examples.json"

EXAMPLES = {
    "repository": "full-repository-default-response",
    "pull_request": "pull-request",
    "pull_request_simple": "pull-request-simple-items",
    "issue": "issue",
    "issue_comment": "issue-comment",
    "reaction": "reaction",
    "workflow_run": "workflow-run",
    "check_run": "check-run-example-of-in-progress-conclusion",
    "combined_status": "combined-commit-status",
    "collaborator_permission": "repository-collaborator-permission-response-if-user-has-admin-permissions",
    "review": "pull-request-review",
    "rate_limit": "rate-limit-overview",
    "review_comment": "pull-request-review-comment-items",
    "review_comment_simple": "review-comment-items",
    "authenticated_user": "private-user-response-with-public-profile-information",
}


def rewrite(node):
    if isinstance(node, dict):
        return {k: rewrite(v) for k, v in node.items()}
    if isinstance(node, list):
        return [rewrite(v) for v in node]
    if isinstance(node, str):
        node = re.sub(r"https://api\.github\.com/repos/[\w.-]+/[\w.-]+", "{API}", node)
        node = re.sub(r"https://github\.com/(?!images)[\w.-]+/[\w.-]+", "{WEB}", node)
        node = node.replace("https://api.github.com", "{ROOT}")
        node = node.replace("https://github.com", "{ROOT}")
    return node


def main():
    spec = json.loads(SPEC.read_text(encoding="utf-8"))
    examples = spec["components"]["examples"]
    out = {}
    for key, name in EXAMPLES.items():
        value = examples[name]["value"]
        out[key] = value[0] if isinstance(value, list) else value

    # Fixes: examples that fail their own schema.
    for repo in (out["repository"], out["repository"]["source"], out["repository"]["parent"]):
        repo.setdefault("language", None)
    out["collaborator_permission"]["user"]["role_name"] = "admin"

    # Quiet defaults: no labels, assignees, reviewers, milestones, locks.
    user = out["issue_comment"]["user"]
    for pr in (out["pull_request"], out["pull_request_simple"]):
        pr.update(labels=[], assignee=None, assignees=[], requested_reviewers=[],
                  requested_teams=[], milestone=None, locked=False, active_lock_reason=None,
                  auto_merge=None, closed_at=None, merged_at=None, merge_commit_sha=None)
    out["pull_request"].update(merged_by=None, comments=0, review_comments=0)
    out["issue"].update(labels=[], assignee=None, assignees=[], milestone=None, locked=False,
                        active_lock_reason=None, closed_at=None, pull_request=None, comments=0,
                        closed_by=None, pinned_comment=None)
    out["issue"].pop("pull_request")
    for key in ("source", "parent", "template_repository", "organization"):
        out["repository"].pop(key, None)
    out["repository"].pop("security_and_analysis", None)
    out["workflow_run"]["referenced_workflows"] = []
    out["check_run"]["pull_requests"] = []
    out["combined_status"]["statuses"] = out["combined_status"]["statuses"][:1]
    out["user"] = user
    OUT.write_text(json.dumps(rewrite(out), indent=1) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
