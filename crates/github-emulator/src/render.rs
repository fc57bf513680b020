//! REST objects, built from the OpenAPI examples with the state's fields overridden.

use serde_json::{Value, json};

use crate::state::{
    CheckState, CommentSt, IssueSt, ReactionSt, ReviewCommentSt, ReviewSt, Role, RunSt, State,
    TOOL_LOGIN,
};
use crate::util::{base64, fnv, iso, percent_encode};

/// Replaces `from` by `to` inside every string of a JSON value.
fn replace_strings(v: &mut Value, from: &str, to: &str) {
    match v {
        Value::String(s) if s.contains(from) => *s = s.replace(from, to),
        Value::Array(a) => a.iter_mut().for_each(|x| replace_strings(x, from, to)),
        Value::Object(o) => o.values_mut().for_each(|x| replace_strings(x, from, to)),
        _ => {}
    }
}

fn set(v: &mut Value, key: &str, value: Value) {
    if let Value::Object(o) = v {
        o.insert(key.to_string(), value);
    }
}

pub(crate) fn node_id(kind: &str, id: u64) -> String {
    base64(format!("0:{kind}{id}").as_bytes())
}

fn opt_time(t: Option<u64>) -> Value {
    t.map_or(Value::Null, |t| Value::String(iso(t)))
}

/// A stable numeric id for a login.
pub(crate) fn user_id(login: &str, owner: &str) -> u64 {
    if login == TOOL_LOGIN {
        41_898_282
    } else if login == owner {
        1
    } else {
        10_000_000 + fnv(login.as_bytes()) % 90_000_000
    }
}

pub(crate) fn is_bot(login: &str) -> bool {
    login.ends_with("[bot]")
}

impl State {
    pub(crate) fn tpl(&self, key: &str) -> Value {
        self.templates
            .get(key)
            .cloned()
            .unwrap_or_else(|| panic!("github-emulator: no example {key}"))
    }

    pub(crate) fn api(&self) -> String {
        format!("{}/repos/{}/{}", self.url, self.owner, self.name)
    }

    pub(crate) fn web(&self) -> String {
        format!("{}/{}/{}", self.url, self.owner, self.name)
    }

    /// simple-user
    pub(crate) fn user(&self, login: &str, bot: bool) -> Value {
        let mut v = self.tpl("user");
        replace_strings(&mut v, "octocat", &percent_encode(login));
        let id = user_id(login, &self.owner);
        set(&mut v, "login", json!(login));
        set(&mut v, "id", json!(id));
        set(
            &mut v,
            "node_id",
            json!(node_id(if bot { "Bot" } else { "User" }, id)),
        );
        set(&mut v, "type", json!(if bot { "Bot" } else { "User" }));
        set(&mut v, "site_admin", json!(false));
        v
    }

    pub(crate) fn association(&self, login: &str) -> &'static str {
        if login == self.owner {
            "OWNER"
        } else if self.permissions.contains_key(login) {
            "COLLABORATOR"
        } else {
            "NONE"
        }
    }

    /// full-repository
    pub(crate) fn repository(&self) -> Value {
        let mut v = self.tpl("repository");
        let owner = self.user(&self.owner, false);
        let default_branch = self.default_branch.clone();
        let now = iso(self.now());
        for (k, val) in [
            ("id", json!(1_296_269)),
            ("node_id", json!(node_id("Repository", 1_296_269))),
            ("name", json!(self.name)),
            ("full_name", json!(format!("{}/{}", self.owner, self.name))),
            ("owner", owner),
            ("private", json!(false)),
            ("fork", json!(false)),
            ("html_url", json!(self.web())),
            ("url", json!(self.api())),
            ("clone_url", json!(format!("{}.git", self.web()))),
            ("default_branch", json!(default_branch)),
            ("open_issues_count", json!(self.open_count())),
            ("open_issues", json!(self.open_count())),
            ("pushed_at", json!(now)),
            ("updated_at", json!(now)),
            ("archived", json!(false)),
            ("disabled", json!(false)),
            ("has_issues", json!(true)),
            ("allow_merge_commit", json!(true)),
            ("allow_squash_merge", json!(true)),
            ("allow_rebase_merge", json!(true)),
        ] {
            set(&mut v, k, val);
        }
        set(
            &mut v,
            "permissions",
            json!({"admin": true, "maintain": true, "push": true, "triage": true, "pull": true}),
        );
        v
    }

    fn open_count(&self) -> usize {
        self.pulls.values().filter(|p| p.open).count()
            + self.issues.values().filter(|i| i.open).count()
    }

    /// The `repository` inside a pull request's head and base.
    fn short_repository(&self) -> Value {
        let full = self.repository();
        let mut v = self.tpl("pull_request")["base"]["repo"].clone();
        if let (Value::Object(dst), Value::Object(src)) = (&mut v, &full) {
            let keys: Vec<String> = dst.keys().cloned().collect();
            for k in keys {
                if let Some(val) = src.get(&k) {
                    dst.insert(k, val.clone());
                }
            }
        }
        v
    }

    fn branch_ref(&self, branch: &str, sha: &str, repo: &Value) -> Value {
        json!({
            "label": format!("{}:{branch}", self.owner),
            "ref": branch,
            "sha": sha,
            "user": self.user(&self.owner, false),
            "repo": repo,
        })
    }

    /// pull-request (`full`) or pull-request-simple
    pub(crate) fn pull_json(&mut self, number: u64, full: bool) -> Value {
        let mergeable = if full {
            self.read_mergeable(number)
        } else {
            None
        };
        let (base_sha, head_sha) = {
            let pr = &self.pulls[&number];
            (pr.base_sha.clone(), pr.head_sha.clone())
        };
        let check = self.check_state(&head_sha);
        let mergeable_state = if full {
            self.merge_state(number, mergeable, check)
                .to_ascii_lowercase()
        } else {
            String::new()
        };
        let stats = if full {
            Some(self.stats(&base_sha, &head_sha))
        } else {
            None
        };
        let repo = self.short_repository();
        let comment_count = self.comments.iter().filter(|c| c.number == number).count();
        let review_comment_count: usize = self.pulls[&number]
            .reviews
            .iter()
            .map(|r| r.comments.len())
            .sum();
        let pr = &self.pulls[&number];
        let mut v = self.tpl(if full {
            "pull_request"
        } else {
            "pull_request_simple"
        });
        let api = self.api();
        let web = self.web();
        let id = 6_000_000 + number;
        let state = if pr.open { "open" } else { "closed" };
        for (k, val) in [
            ("url", json!(format!("{api}/pulls/{number}"))),
            ("id", json!(id)),
            ("node_id", json!(node_id("PullRequest", id))),
            ("html_url", json!(format!("{web}/pull/{number}"))),
            ("diff_url", json!(format!("{web}/pull/{number}.diff"))),
            ("patch_url", json!(format!("{web}/pull/{number}.patch"))),
            ("issue_url", json!(format!("{api}/issues/{number}"))),
            (
                "commits_url",
                json!(format!("{api}/pulls/{number}/commits")),
            ),
            (
                "review_comments_url",
                json!(format!("{api}/pulls/{number}/comments")),
            ),
            (
                "comments_url",
                json!(format!("{api}/issues/{number}/comments")),
            ),
            ("statuses_url", json!(format!("{api}/statuses/{head_sha}"))),
            ("number", json!(number)),
            ("state", json!(state)),
            ("title", json!(pr.title)),
            ("user", self.user(&pr.author, is_bot(&pr.author))),
            ("body", json!(pr.body)),
            ("created_at", json!(iso(pr.created_at))),
            ("updated_at", json!(iso(pr.updated_at))),
            ("closed_at", opt_time(pr.closed_at)),
            ("merged_at", opt_time(pr.merged_at)),
            ("merge_commit_sha", json!(pr.merge_commit)),
            ("head", self.branch_ref(&pr.head, &head_sha, &repo)),
            ("base", self.branch_ref(&pr.base, &base_sha, &repo)),
            ("author_association", json!(self.association(&pr.author))),
            ("draft", json!(pr.draft)),
            (
                "requested_reviewers",
                json!(
                    pr.requested
                        .iter()
                        .map(|l| self.user(l, is_bot(l)))
                        .collect::<Vec<_>>()
                ),
            ),
        ] {
            set(&mut v, k, val);
        }
        let links = json!({
            "self": {"href": format!("{api}/pulls/{number}")},
            "html": {"href": format!("{web}/pull/{number}")},
            "issue": {"href": format!("{api}/issues/{number}")},
            "comments": {"href": format!("{api}/issues/{number}/comments")},
            "review_comments": {"href": format!("{api}/pulls/{number}/comments")},
            "review_comment": {"href": format!("{api}/pulls/comments{{/number}}")},
            "commits": {"href": format!("{api}/pulls/{number}/commits")},
            "statuses": {"href": format!("{api}/statuses/{head_sha}")},
        });
        set(&mut v, "_links", links);
        if full {
            let stats = stats.unwrap_or_default();
            let merged_by = if pr.merged {
                self.user(TOOL_LOGIN, true)
            } else {
                Value::Null
            };
            for (k, val) in [
                ("merged", json!(pr.merged)),
                ("mergeable", json!(mergeable)),
                ("rebaseable", json!(mergeable)),
                ("mergeable_state", json!(mergeable_state)),
                ("merged_by", merged_by),
                ("comments", json!(comment_count)),
                ("review_comments", json!(review_comment_count)),
                ("maintainer_can_modify", json!(false)),
                ("commits", json!(stats.commits)),
                ("additions", json!(stats.additions)),
                ("deletions", json!(stats.deletions)),
                ("changed_files", json!(stats.changed_files)),
            ] {
                set(&mut v, k, val);
            }
        }
        v
    }

    fn label(&self, name: &str) -> Value {
        let id = 208_000_000 + fnv(name.as_bytes()) % 1_000_000;
        json!({
            "id": id,
            "node_id": node_id("Label", id),
            "url": format!("{}/labels/{}", self.api(), percent_encode(name)),
            "name": name,
            "description": null,
            "color": "ededed",
            "default": false,
        })
    }

    fn issue_common(
        &self,
        number: u64,
        title: &str,
        body: &Option<String>,
        open: bool,
        author: &str,
        times: (u64, u64, Option<u64>),
    ) -> Value {
        let mut v = self.tpl("issue");
        let api = self.api();
        let id = 7_000_000 + number;
        let comments = self.comments.iter().filter(|c| c.number == number).count();
        let kind = if self.pulls.contains_key(&number) {
            "pull"
        } else {
            "issues"
        };
        for (k, val) in [
            ("id", json!(id)),
            ("node_id", json!(node_id("Issue", id))),
            ("url", json!(format!("{api}/issues/{number}"))),
            ("repository_url", json!(api)),
            (
                "labels_url",
                json!(format!("{api}/issues/{number}/labels{{/name}}")),
            ),
            (
                "comments_url",
                json!(format!("{api}/issues/{number}/comments")),
            ),
            ("events_url", json!(format!("{api}/issues/{number}/events"))),
            ("html_url", json!(format!("{}/{kind}/{number}", self.web()))),
            ("number", json!(number)),
            ("state", json!(if open { "open" } else { "closed" })),
            (
                "state_reason",
                if open {
                    Value::Null
                } else {
                    json!("completed")
                },
            ),
            ("title", json!(title)),
            ("body", json!(body)),
            ("user", self.user(author, is_bot(author))),
            ("comments", json!(comments)),
            ("created_at", json!(iso(times.0))),
            ("updated_at", json!(iso(times.1))),
            ("closed_at", opt_time(times.2)),
            (
                "closed_by",
                if open {
                    Value::Null
                } else {
                    self.user(TOOL_LOGIN, true)
                },
            ),
            ("author_association", json!(self.association(author))),
        ] {
            set(&mut v, k, val);
        }
        v
    }

    /// issue (for an issue or a pull request)
    pub(crate) fn issue_json(&self, number: u64) -> Option<Value> {
        if let Some(i) = self.issues.get(&number) {
            let IssueSt {
                title,
                body,
                open,
                author,
                created_at,
                updated_at,
                closed_at,
                labels,
                ..
            } = i;
            let mut v = self.issue_common(
                number,
                title,
                body,
                *open,
                author,
                (*created_at, *updated_at, *closed_at),
            );
            let labels: Vec<Value> = labels.iter().map(|l| self.label(l)).collect();
            set(&mut v, "labels", json!(labels));
            return Some(v);
        }
        let p = self.pulls.get(&number)?;
        let mut v = self.issue_common(
            number,
            &p.title,
            &p.body,
            p.open,
            &p.author,
            (p.created_at, p.updated_at, p.closed_at),
        );
        let (api, web) = (self.api(), self.web());
        set(
            &mut v,
            "pull_request",
            json!({
                "url": format!("{api}/pulls/{number}"),
                "html_url": format!("{web}/pull/{number}"),
                "diff_url": format!("{web}/pull/{number}.diff"),
                "patch_url": format!("{web}/pull/{number}.patch"),
                "merged_at": opt_time(p.merged_at),
            }),
        );
        set(&mut v, "draft", json!(p.draft));
        Some(v)
    }

    /// issue-comment
    pub(crate) fn comment_json(&self, c: &CommentSt) -> Value {
        let mut v = self.tpl("issue_comment");
        let api = self.api();
        let kind = if self.pulls.contains_key(&c.number) {
            "pull"
        } else {
            "issues"
        };
        for (k, val) in [
            ("id", json!(c.id)),
            ("node_id", json!(node_id("IssueComment", c.id))),
            ("url", json!(format!("{api}/issues/comments/{}", c.id))),
            (
                "html_url",
                json!(format!(
                    "{}/{kind}/{}#issuecomment-{}",
                    self.web(),
                    c.number,
                    c.id
                )),
            ),
            ("body", json!(c.body)),
            ("user", self.user(&c.login, c.bot)),
            ("created_at", json!(iso(c.created_at))),
            ("updated_at", json!(iso(c.updated_at))),
            ("issue_url", json!(format!("{api}/issues/{}", c.number))),
            ("author_association", json!(self.association(&c.login))),
        ] {
            set(&mut v, k, val);
        }
        v
    }

    /// reaction
    pub(crate) fn reaction_json(&self, r: &ReactionSt) -> Value {
        let mut v = self.tpl("reaction");
        set(&mut v, "id", json!(r.id));
        set(&mut v, "node_id", json!(node_id("Reaction", r.id)));
        set(&mut v, "user", self.user(&r.login, r.bot));
        set(&mut v, "content", json!(r.content));
        set(&mut v, "created_at", json!(iso(r.created_at)));
        v
    }

    /// pull-request-review
    pub(crate) fn review_json(&self, number: u64, r: &ReviewSt) -> Value {
        let mut v = self.tpl("review");
        let html = format!("{}/pull/{number}#pullrequestreview-{}", self.web(), r.id);
        let pr_url = format!("{}/pulls/{number}", self.api());
        for (k, val) in [
            ("id", json!(r.id)),
            ("node_id", json!(node_id("PullRequestReview", r.id))),
            ("user", self.user(&r.login, r.bot)),
            ("body", json!(r.body)),
            ("state", json!(r.state)),
            ("html_url", json!(html)),
            ("pull_request_url", json!(pr_url)),
            (
                "_links",
                json!({"html": {"href": html}, "pull_request": {"href": pr_url}}),
            ),
            ("submitted_at", json!(iso(r.submitted_at))),
            ("commit_id", json!(r.commit_id)),
            ("author_association", json!(self.association(&r.login))),
        ] {
            set(&mut v, k, val);
        }
        v
    }

    /// Every check run on a commit: the policy's required check first, then the others.
    pub(crate) fn check_runs_json(&self, sha: &str) -> Vec<Value> {
        let mut out: Vec<Value> = self.check_run_json(sha).into_iter().collect();
        for r in self.extra_runs.iter().filter(|r| r.sha == sha) {
            let mut v = self.tpl("check_run");
            let id = r.id;
            let done = r.run.conclusion.is_some();
            let details = r
                .run
                .details_url
                .clone()
                .unwrap_or(format!("{}/runs/{id}", self.web()));
            for (k, val) in [
                ("id", json!(id)),
                ("head_sha", json!(sha)),
                ("node_id", json!(node_id("CheckRun", id))),
                ("external_id", json!(id.to_string())),
                ("url", json!(format!("{}/check-runs/{id}", self.api()))),
                ("html_url", json!(format!("{}/runs/{id}", self.web()))),
                ("details_url", json!(details)),
                (
                    "status",
                    json!(if done { "completed" } else { "in_progress" }),
                ),
                ("conclusion", json!(r.run.conclusion)),
                ("started_at", json!(iso(r.created_at))),
                ("completed_at", opt_time(done.then_some(r.created_at))),
                (
                    "output",
                    json!({
                        "title": r.run.title,
                        "summary": r.run.summary,
                        "text": r.run.text,
                        "annotations_count": 0,
                        "annotations_url": format!("{}/check-runs/{id}/annotations", self.api()),
                    }),
                ),
                ("name", json!(r.run.name)),
                ("check_suite", json!({"id": id + 500_000})),
            ] {
                set(&mut v, k, val);
            }
            out.push(v);
        }
        out
    }

    /// check-run for the policy's required check on a commit
    pub(crate) fn check_run_json(&self, sha: &str) -> Option<Value> {
        let state = self.check_state(sha)?;
        let check = self.check_runs.get(sha)?;
        let mut v = self.tpl("check_run");
        let (status, conclusion, completed) = match state {
            CheckState::Pending => ("in_progress", Value::Null, Value::Null),
            CheckState::Success => ("completed", json!("success"), json!(iso(self.now()))),
            CheckState::Failure => ("completed", json!("failure"), json!(iso(self.now()))),
        };
        let (title, summary, text) = self.check_texts(state);
        let id = check.id;
        for (k, val) in [
            ("id", json!(id)),
            ("head_sha", json!(sha)),
            ("node_id", json!(node_id("CheckRun", id))),
            ("external_id", json!(id.to_string())),
            ("url", json!(format!("{}/check-runs/{id}", self.api()))),
            ("html_url", json!(format!("{}/runs/{id}", self.web()))),
            ("details_url", json!(format!("{}/runs/{id}", self.web()))),
            ("status", json!(status)),
            ("conclusion", conclusion),
            ("started_at", json!(iso(check.created_at))),
            ("completed_at", completed),
            (
                "output",
                json!({
                    "title": title,
                    "summary": summary,
                    "text": text,
                    "annotations_count": 0,
                    "annotations_url": format!("{}/check-runs/{id}/annotations", self.api()),
                }),
            ),
            ("name", json!(self.check_name())),
            ("check_suite", json!({"id": id + 500_000})),
        ] {
            set(&mut v, k, val);
        }
        Some(v)
    }

    /// combined-commit-status; the check `ci` also appears as a commit status.
    pub(crate) fn combined_status_json(&self, sha: &str) -> Value {
        let mut v = self.tpl("combined_status");
        let template = v["statuses"][0].clone();
        let mut statuses = Vec::new();
        let policy = self.check_state(sha);
        let state = match self.rollup_state(sha, policy) {
            None => "pending",
            Some(CheckState::Pending) => "pending",
            Some(CheckState::Success) => "success",
            Some(CheckState::Failure) => "failure",
        };
        if let (Some(s), Some(check)) = (policy, self.check_runs.get(sha)) {
            let mut st = template.clone();
            let (_, description, _) = self.check_texts(s);
            let own = match s {
                CheckState::Pending => "pending",
                CheckState::Success => "success",
                CheckState::Failure => "failure",
            };
            for (k, val) in [
                ("url", json!(format!("{}/statuses/{sha}", self.api()))),
                ("id", json!(check.id)),
                ("node_id", json!(node_id("StatusContext", check.id))),
                ("state", json!(own)),
                ("description", json!(description)),
                (
                    "target_url",
                    json!(format!("{}/runs/{}", self.web(), check.id)),
                ),
                ("context", json!(self.check_name())),
                ("created_at", json!(iso(check.created_at))),
                ("updated_at", json!(iso(self.now()))),
            ] {
                set(&mut st, k, val);
            }
            statuses.push(st);
        }
        for s in self.statuses.iter().filter(|s| s.sha == sha) {
            let mut st = template.clone();
            for (k, val) in [
                ("url", json!(format!("{}/statuses/{sha}", self.api()))),
                ("id", json!(s.id)),
                ("node_id", json!(node_id("StatusContext", s.id))),
                ("state", json!(s.state)),
                ("description", json!(s.description)),
                ("target_url", json!(s.target_url)),
                ("context", json!(s.context)),
                ("created_at", json!(iso(s.created_at))),
                ("updated_at", json!(iso(s.created_at))),
            ] {
                set(&mut st, k, val);
            }
            statuses.push(st);
        }
        set(&mut v, "state", json!(state));
        set(&mut v, "total_count", json!(statuses.len()));
        set(&mut v, "statuses", json!(statuses));
        set(&mut v, "sha", json!(sha));
        set(
            &mut v,
            "commit_url",
            json!(format!("{}/commits/{sha}", self.api())),
        );
        set(
            &mut v,
            "url",
            json!(format!("{}/commits/{sha}/status", self.api())),
        );
        v
    }

    /// workflow-run
    pub(crate) fn run_json(&self, r: &RunSt) -> Value {
        let mut v = self.tpl("workflow_run");
        let api = self.api();
        let id = r.id;
        let workflow_id = workflow_id(&r.workflow);
        let info = self.git.commit_info(&r.head_sha);
        let (message, tree, author, committed) = match &info {
            Some(i) => (
                i.message.clone(),
                i.tree.clone(),
                json!({"name": i.author.name, "email": i.author.email}),
                i.committed.clone(),
            ),
            None => (
                String::new(),
                String::new(),
                json!({"name": "", "email": ""}),
                iso(r.created_at),
            ),
        };
        let bot = self.user(TOOL_LOGIN, true);
        let name = workflow_name(&r.workflow);
        for (k, val) in [
            ("id", json!(id)),
            ("name", json!(name)),
            ("node_id", json!(node_id("WorkflowRun", id))),
            ("check_suite_id", json!(id + 500_000)),
            (
                "check_suite_node_id",
                json!(node_id("CheckSuite", id + 500_000)),
            ),
            ("head_branch", json!(r.git_ref)),
            ("head_sha", json!(r.head_sha)),
            (
                "path",
                json!(format!(
                    ".github/workflows/{}@refs/heads/{}",
                    r.workflow, r.git_ref
                )),
            ),
            ("run_number", json!(r.run_number)),
            ("event", json!("workflow_dispatch")),
            ("display_title", json!(r.display_title)),
            ("status", json!(r.status)),
            ("conclusion", json!(r.conclusion)),
            ("workflow_id", json!(workflow_id)),
            ("url", json!(format!("{api}/actions/runs/{id}"))),
            (
                "html_url",
                json!(format!("{}/actions/runs/{id}", self.web())),
            ),
            ("created_at", json!(iso(r.created_at))),
            ("updated_at", json!(iso(r.updated_at))),
            ("actor", bot.clone()),
            ("triggering_actor", bot),
            ("run_attempt", json!(1)),
            ("run_started_at", json!(iso(r.created_at))),
            ("jobs_url", json!(format!("{api}/actions/runs/{id}/jobs"))),
            ("logs_url", json!(format!("{api}/actions/runs/{id}/logs"))),
            (
                "check_suite_url",
                json!(format!("{api}/check-suites/{}", id + 500_000)),
            ),
            (
                "artifacts_url",
                json!(format!("{api}/actions/runs/{id}/artifacts")),
            ),
            (
                "cancel_url",
                json!(format!("{api}/actions/runs/{id}/cancel")),
            ),
            ("rerun_url", json!(format!("{api}/actions/runs/{id}/rerun"))),
            ("previous_attempt_url", Value::Null),
            (
                "workflow_url",
                json!(format!("{api}/actions/workflows/{workflow_id}")),
            ),
            (
                "head_commit",
                json!({
                    "id": r.head_sha,
                    "tree_id": tree,
                    "message": message,
                    "timestamp": committed,
                    "author": author,
                    "committer": {"name": "GitHub", "email": "noreply@github.com"},
                }),
            ),
        ] {
            set(&mut v, k, val);
        }
        v
    }

    /// repository-collaborator-permission
    /// For a custom role, `permission` is the legacy base level of its base role and
    /// `role_name` the custom role's name (the operation's description in GitHub's OpenAPI:
    /// "The `role_name` attribute provides the name of the assigned role, including custom
    /// roles. The `permission` can also be used to determine which base level of access the
    /// collaborator has to the repository").
    pub(crate) fn permission_json(&self, login: &str, role: &Role) -> Value {
        let mut v = self.tpl("collaborator_permission");
        let permission = match role.base.as_str() {
            "maintain" => "write",
            "triage" => "read",
            other => other,
        };
        let rank = |r: &str| match r {
            "admin" => 5,
            "maintain" => 4,
            "write" => 3,
            "triage" => 2,
            "read" => 1,
            _ => 0,
        };
        let have = rank(&role.base);
        let mut user = self.user(login, is_bot(login));
        set(
            &mut user,
            "permissions",
            json!({
                "pull": have >= 1,
                "triage": have >= 2,
                "push": have >= 3,
                "maintain": have >= 4,
                "admin": have >= 5,
            }),
        );
        set(&mut user, "role_name", json!(role.name));
        set(&mut v, "permission", json!(permission));
        set(&mut v, "role_name", json!(role.name));
        set(&mut v, "user", user);
        v
    }

    /// pull-request-review-comment (`full`, `GET /pulls/{n}/comments`) or review-comment
    /// (`GET /pulls/{n}/reviews/{id}/comments`)
    pub(crate) fn review_comment_json(
        &self,
        number: u64,
        c: &ReviewCommentSt,
        full: bool,
    ) -> Value {
        let mut v = self.tpl(if full {
            "review_comment"
        } else {
            "review_comment_simple"
        });
        let api = self.api();
        let html = format!("{}/pull/{number}#discussion_r{}", self.web(), c.id);
        let url = format!("{api}/pulls/comments/{}", c.id);
        let pr_url = format!("{api}/pulls/{number}");
        if let Value::Object(o) = &mut v {
            o.remove("in_reply_to_id");
        }
        for (k, val) in [
            ("url", json!(url)),
            ("pull_request_review_id", json!(c.review_id)),
            ("id", json!(c.id)),
            ("node_id", json!(node_id("PullRequestReviewComment", c.id))),
            ("diff_hunk", json!(c.diff_hunk)),
            ("path", json!(c.path)),
            ("position", json!(c.position)),
            ("original_position", json!(c.position)),
            ("commit_id", json!(self.pulls[&number].head_sha)),
            ("original_commit_id", json!(c.commit_id)),
            ("user", self.user(&c.login, c.bot)),
            ("body", json!(c.body)),
            ("created_at", json!(iso(c.created_at))),
            ("updated_at", json!(iso(c.created_at))),
            ("html_url", json!(html)),
            ("pull_request_url", json!(pr_url)),
            ("author_association", json!(self.association(&c.login))),
            (
                "_links",
                json!({"self": {"href": url}, "html": {"href": html}, "pull_request": {"href": pr_url}}),
            ),
            ("start_line", Value::Null),
            ("original_start_line", Value::Null),
            ("start_side", Value::Null),
            ("line", json!(c.line)),
            ("original_line", json!(c.line)),
            ("side", json!("RIGHT")),
            ("subject_type", json!("line")),
        ] {
            set(&mut v, k, val);
        }
        v
    }

    /// private-user, for `GET /user` with a person's token
    pub(crate) fn authenticated_user_json(&self) -> Value {
        let login = self.caller.login.clone();
        let mut v = self.tpl("authenticated_user");
        replace_strings(&mut v, "octocat", &percent_encode(&login));
        let id = user_id(&login, &self.owner);
        for (k, val) in [
            ("login", json!(login)),
            ("id", json!(id)),
            ("node_id", json!(node_id("User", id))),
            ("type", json!("User")),
            ("name", json!(login)),
            ("company", Value::Null),
            ("blog", json!("")),
            ("location", Value::Null),
            ("email", Value::Null),
            ("bio", Value::Null),
            ("twitter_username", Value::Null),
        ] {
            set(&mut v, k, val);
        }
        v
    }

    /// rate-limit-overview
    pub(crate) fn rate_limit_json(&self) -> Value {
        let mut v = self.tpl("rate_limit");
        let (core, graphql, reset) = self.rate_limit_numbers();
        let entry = |used: u64| json!({"limit": 5000, "used": used, "remaining": 5000u64.saturating_sub(used), "reset": reset});
        if let Some(Value::Object(res)) = v.get_mut("resources") {
            for val in res.values_mut() {
                set(val, "reset", json!(reset));
            }
            res.insert("core".into(), entry(core));
            res.insert("graphql".into(), entry(graphql));
        }
        set(&mut v, "rate", entry(core));
        v
    }
}

/// A workflow's name as the emulator reports it: its file name without `.yml`/`.yaml`.
pub(crate) fn workflow_name(workflow: &str) -> &str {
    workflow.trim_end_matches(".yml").trim_end_matches(".yaml")
}

/// A stable numeric id for a workflow file (or the id itself).
pub(crate) fn workflow_id(workflow: &str) -> u64 {
    workflow
        .parse()
        .unwrap_or_else(|_| 100_000 + fnv(workflow.as_bytes()) % 900_000)
}
