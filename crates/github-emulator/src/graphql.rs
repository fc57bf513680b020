//! POST /graphql: documents are parsed ([`crate::gql`]) and executed over the state, answering
//! exactly the fields they select (aliases, fragments, `@include`/`@skip` honoured), for the
//! part of GitHub's schema the emulator serves (see the crate doc). A field the emulator does
//! not serve is an error for the whole document, as an unknown field is on GitHub.
//!
//! Behaviours follow GitHub's GraphQL API: connections need `first` or `last` within 1–100
//! (docs.github.com/graphql/overview/rate-limits-and-query-limits-for-the-graphql-api "Node
//! limit"); a missing repository, issue or pull request is `null` with a `NOT_FOUND` error and
//! the rest of the answer intact; bots are named without their `[bot]` suffix (`Bot.login`);
//! `viewer` of an installation token (Actions' `GITHUB_TOKEN`) is its bot, `login`
//! `github-actions[bot]` (GitHub Apps read their identity this way, since `GET /user` is
//! refused to installation tokens).

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use crate::gql::{Document, Field, Loc, Selection, Val};
use crate::render::{node_id, user_id};
use crate::state::{CheckState, State, message};
use crate::util::{base64, iso, unbase64};
use crate::{Incoming, Reply};

pub(crate) fn handle(st: &mut State, rq: &Incoming) -> Reply {
    let Ok(body) = serde_json::from_str::<Value>(&rq.raw_body) else {
        return message(400, "Problems parsing JSON");
    };
    let Some(query) = body.get("query").and_then(Value::as_str) else {
        return errors_only(vec![json!({
            "message": "A query attribute must be specified and must be a string."
        })]);
    };
    let doc = match crate::gql::parse(query) {
        Ok(doc) => doc,
        Err(e) => {
            return errors_only(vec![json!({
                "message": e.message,
                "locations": [{"line": e.loc.line, "column": e.loc.column}],
            })]);
        }
    };
    let wanted = body.get("operationName").and_then(Value::as_str);
    let op = match wanted {
        Some(name) => doc
            .operations
            .iter()
            .find(|o| o.name.as_deref() == Some(name)),
        None if doc.operations.len() == 1 => doc.operations.first(),
        None => None,
    };
    let Some(op) = op else {
        let msg = match wanted {
            Some(name) => format!("No operation named \"{name}\""),
            None => "An operation name is required".to_string(),
        };
        return errors_only(vec![json!({ "message": msg })]);
    };
    if op.kind != "query" {
        return errors_only(vec![json!({
            "message": format!("github-emulator: {} operations are not served", op.kind)
        })]);
    }
    let given = body.get("variables").cloned().unwrap_or(Value::Null);
    let mut vars = Map::new();
    for def in &op.vars {
        let value = match given.get(&def.name).filter(|v| !v.is_null()) {
            Some(v) => v.clone(),
            None => match &def.default {
                Some(d) => literal(d, &Map::new()),
                None => Value::Null,
            },
        };
        if value.is_null() && def.ty.ends_with('!') {
            return bad_variable(&def.name, &def.ty);
        }
        vars.insert(def.name.clone(), value);
    }
    st.refresh();
    let mut exec = Exec {
        st,
        doc: &doc,
        vars,
        errors: Vec::new(),
        snaps: HashMap::new(),
    };
    let mut path = Vec::new();
    match exec.select(&Obj::Query, &op.selection, &mut path) {
        Ok(data) => {
            let mut out = json!({ "data": data });
            if !exec.errors.is_empty() {
                out["errors"] = Value::Array(exec.errors);
            }
            Reply::json(200, out)
        }
        Err(Fatal(e)) => errors_only(vec![e]),
    }
}

fn errors_only(errors: Vec<Value>) -> Reply {
    Reply::json(200, json!({ "errors": errors }))
}

fn bad_variable(name: &str, ty: &str) -> Reply {
    Reply::json(
        200,
        json!({"errors": [{
            "extensions": {"value": null, "problems": [{"path": [], "explanation": "Expected value to not be null"}]},
            "locations": [{"line": 1, "column": 1}],
            "message": format!("Variable ${name} of type {ty} was provided invalid value"),
        }]}),
    )
}

fn cursor(key: u64) -> String {
    base64(format!("cursor:v2:{key}").as_bytes())
}

fn uncursor(cursor: &str) -> Option<u64> {
    let raw = String::from_utf8(unbase64(cursor)?).ok()?;
    raw.strip_prefix("cursor:v2:")?.parse().ok()
}

/// A value of the document with its variables substituted.
fn literal(v: &Val, vars: &Map<String, Value>) -> Value {
    match v {
        Val::Var(name) => vars.get(name).cloned().unwrap_or(Value::Null),
        Val::Int(n) => json!(n),
        Val::Float(f) => json!(f),
        Val::Str(s) | Val::Enum(s) => json!(s),
        Val::Bool(b) => json!(b),
        Val::Null => Value::Null,
        Val::List(items) => Value::Array(items.iter().map(|i| literal(i, vars)).collect()),
        Val::Obj(fields) => Value::Object(
            fields
                .iter()
                .map(|(k, v)| (k.clone(), literal(v, vars)))
                .collect(),
        ),
    }
}

/// An error that fails the whole document (no `data`).
struct Fatal(Value);

type Res<T> = Result<T, Fatal>;

/// A GraphQL object of the emulator's model.
#[derive(Debug, Clone)]
enum Obj {
    Query,
    Repository,
    Pull(u64),
    Issue(u64),
    IssueComment(u64),
    /// A user or bot by REST login (`name[bot]` for bots).
    Actor(String),
    Viewer,
    Ref(String),
    PullCommit(String, Option<u64>),
    Commit(String, Option<u64>),
    Rollup(String, Option<u64>),
    PolicyRun(String, Option<u64>),
    ExtraRun(usize),
    Status(usize),
    Review(u64, u64),
    ReviewComment(u64, u64),
    Thread(u64, u64),
    ReviewRequest(u64, String),
    RateLimit,
    Conn(Box<Conn>),
    Edge(Box<Obj>, String, &'static str),
    PageInfo(Box<PageInfo>),
}

#[derive(Debug, Clone)]
struct Conn {
    typename: &'static str,
    items: Vec<(String, Obj)>,
    total: usize,
    page: PageInfo,
}

#[derive(Debug, Clone)]
struct PageInfo {
    has_next: bool,
    has_prev: bool,
    start: Option<String>,
    end: Option<String>,
}

impl Obj {
    fn typename(&self) -> &'static str {
        match self {
            Obj::Query => "Query",
            Obj::Repository => "Repository",
            Obj::Pull(_) => "PullRequest",
            Obj::Issue(_) => "Issue",
            Obj::IssueComment(_) => "IssueComment",
            Obj::Actor(login) if crate::render::is_bot(login) => "Bot",
            Obj::Actor(_) | Obj::Viewer => "User",
            Obj::Ref(_) => "Ref",
            Obj::PullCommit(..) => "PullRequestCommit",
            Obj::Commit(..) => "Commit",
            Obj::Rollup(..) => "StatusCheckRollup",
            Obj::PolicyRun(..) | Obj::ExtraRun(_) => "CheckRun",
            Obj::Status(_) => "StatusContext",
            Obj::Review(..) => "PullRequestReview",
            Obj::ReviewComment(..) => "PullRequestReviewComment",
            Obj::Thread(..) => "PullRequestReviewThread",
            Obj::ReviewRequest(..) => "ReviewRequest",
            Obj::RateLimit => "RateLimit",
            Obj::Conn(c) => c.typename,
            Obj::Edge(_, _, t) => t,
            Obj::PageInfo(_) => "PageInfo",
        }
    }
}

/// Whether an object of type `typename` matches the type condition `cond`.
fn applies(typename: &str, cond: &str) -> bool {
    if cond == typename || cond == "Node" {
        return true;
    }
    let members: &[&str] = match cond {
        "Actor" | "RequestedReviewer" | "RepositoryOwner" => &["User", "Bot"],
        "StatusCheckRollupContext" => &["CheckRun", "StatusContext"],
        "IssueOrPullRequest" | "Closable" | "Labelable" | "Assignable" => &["Issue", "PullRequest"],
        "Comment" | "Reactable" | "Updatable" | "UpdatableComment" | "Deletable" => &[
            "Issue",
            "PullRequest",
            "IssueComment",
            "PullRequestReview",
            "PullRequestReviewComment",
        ],
        "RepositoryNode" => &[
            "Issue",
            "PullRequest",
            "IssueComment",
            "PullRequestReview",
            "PullRequestReviewComment",
            "CommitComment",
        ],
        "UniformResourceLocatable" => &[
            "Issue",
            "PullRequest",
            "IssueComment",
            "PullRequestReview",
            "PullRequestReviewComment",
            "User",
            "Bot",
            "CheckRun",
            "Repository",
            "Commit",
        ],
        "GitObject" => &["Commit"],
        _ => &[],
    };
    members.contains(&typename)
}

/// One read of a pull request's mergeability and required check, shared by every field of
/// one document that needs it (and counted as one read, like GitHub's lazy computation).
#[derive(Debug, Clone, Copy)]
struct Snap {
    mergeable: Option<bool>,
    check: Option<CheckState>,
    merge_state: &'static str,
}

struct Exec<'a> {
    st: &'a mut State,
    doc: &'a Document,
    vars: Map<String, Value>,
    errors: Vec<Value>,
    snaps: HashMap<u64, Snap>,
}

/// What a field resolved to, before its sub-selection applies.
enum Out {
    Leaf(Value),
    Obj(Obj),
    List(Vec<Obj>),
    Null,
}

fn leaf(v: impl Into<Value>) -> Res<Out> {
    Ok(Out::Leaf(v.into()))
}

fn opt_leaf<T: Into<Value>>(v: Option<T>) -> Res<Out> {
    Ok(v.map_or(Out::Null, |v| Out::Leaf(v.into())))
}

fn loc_json(loc: Loc) -> Value {
    json!([{"line": loc.line, "column": loc.column}])
}

impl<'a> Exec<'a> {
    fn skipped(&self, directives: &[crate::gql::Directive]) -> bool {
        directives.iter().any(|d| {
            let cond = d
                .args
                .iter()
                .find(|(k, _)| k == "if")
                .map(|(_, v)| literal(v, &self.vars));
            match d.name.as_str() {
                "skip" => cond == Some(Value::Bool(true)),
                "include" => cond != Some(Value::Bool(true)),
                _ => false,
            }
        })
    }

    /// Fields by response key, in document order, merged across fragments (spec "CollectFields").
    fn collect<'d>(
        &self,
        typename: &str,
        selection: &'d [Selection],
        out: &mut Vec<(String, Vec<&'d Field>)>,
    ) where
        'a: 'd,
    {
        for s in selection {
            match s {
                Selection::Field(f) => {
                    if self.skipped(&f.directives) {
                        continue;
                    }
                    match out.iter_mut().find(|(k, _)| k == f.key()) {
                        Some((_, fields)) => fields.push(f),
                        None => out.push((f.key().to_string(), vec![f])),
                    }
                }
                Selection::Inline {
                    type_cond,
                    directives,
                    selection,
                } => {
                    if !self.skipped(directives)
                        && type_cond.as_deref().is_none_or(|t| applies(typename, t))
                    {
                        self.collect(typename, selection, out);
                    }
                }
                Selection::Spread { name, directives } => {
                    if self.skipped(directives) {
                        continue;
                    }
                    if let Some((cond, selection)) = self.doc.fragments.get(name)
                        && applies(typename, cond)
                    {
                        self.collect(typename, selection, out);
                    }
                }
            }
        }
    }

    fn select(&mut self, obj: &Obj, selection: &[Selection], path: &mut Vec<Value>) -> Res<Value> {
        let typename = obj.typename();
        let mut fields = Vec::new();
        self.collect(typename, selection, &mut fields);
        let mut map = Map::new();
        for (key, group) in fields {
            let f = group[0];
            path.push(json!(key));
            let value = if f.name == "__typename" {
                json!(typename)
            } else {
                let sub: Vec<Selection> = group
                    .iter()
                    .flat_map(|g| g.selection.iter().cloned())
                    .collect();
                let out = self.resolve(obj, typename, f, path)?;
                self.complete(out, &sub, path)?
            };
            path.pop();
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }

    fn complete(&mut self, out: Out, sub: &[Selection], path: &mut Vec<Value>) -> Res<Value> {
        Ok(match out {
            Out::Leaf(v) => v,
            Out::Null => Value::Null,
            Out::Obj(o) => self.select(&o, sub, path)?,
            Out::List(items) => {
                let mut values = Vec::new();
                for (i, o) in items.iter().enumerate() {
                    path.push(json!(i));
                    values.push(self.select(o, sub, path)?);
                    path.pop();
                }
                Value::Array(values)
            }
        })
    }

    fn arg(&self, f: &Field, name: &str) -> Option<Value> {
        f.args
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| literal(v, &self.vars))
            .filter(|v| !v.is_null())
    }

    fn not_found(&mut self, f: &Field, path: &[Value], msg: String) -> Res<Out> {
        self.errors.push(json!({
            "type": "NOT_FOUND",
            "path": path,
            "locations": loc_json(f.loc),
            "message": msg,
        }));
        Ok(Out::Null)
    }

    fn unknown(&self, typename: &str, f: &Field) -> Fatal {
        Fatal(json!({
            "extensions": {"code": "undefinedField", "typeName": typename, "fieldName": f.name},
            "locations": loc_json(f.loc),
            "message": format!(
                "Field '{}' doesn't exist on type '{typename}' (or the github-emulator does not serve it)",
                f.name
            ),
        }))
    }

    /// A page of `items` (ordered; keys ascending when `ascending`) under GitHub's rules.
    fn connection(
        &self,
        f: &Field,
        typename: &'static str,
        items: Vec<(u64, Obj)>,
        ascending: bool,
    ) -> Res<Out> {
        let int = |name: &str| self.arg(f, name).and_then(|v| v.as_i64());
        let (first, last) = (int("first"), int("last"));
        let fatal = |ty: &str, msg: String| {
            Fatal(json!({"type": ty, "locations": loc_json(f.loc), "message": msg}))
        };
        if first.is_none() && last.is_none() {
            return Err(fatal(
                "MISSING_PAGINATION_BOUNDARIES",
                format!(
                    "You must provide a `first` or `last` value to properly paginate the `{}` connection.",
                    f.name
                ),
            ));
        }
        for (name, v) in [("first", first), ("last", last)] {
            if let Some(n) = v
                && !(0..=100).contains(&n)
            {
                return Err(fatal(
                    "EXCESSIVE_PAGINATION",
                    format!(
                        "Requesting {n} records on the `{}` connection exceeds the `{name}` limit of 100 records.",
                        f.name
                    ),
                ));
            }
        }
        let bound = |name: &str| -> Res<Option<u64>> {
            match self.arg(f, name) {
                None => Ok(None),
                Some(v) => match v.as_str().and_then(uncursor) {
                    Some(k) => Ok(Some(k)),
                    None => Err(Fatal(json!({
                        "locations": loc_json(f.loc),
                        "message": format!("`{}` does not appear to be a valid cursor.", v.as_str().unwrap_or(&v.to_string())),
                    }))),
                },
            }
        };
        let (after, before) = (bound("after")?, bound("before")?);
        let total = items.len();
        let beyond = |k: u64, b: u64| if ascending { k > b } else { k < b };
        let mut window: Vec<(u64, Obj)> = items
            .into_iter()
            .filter(|(k, _)| after.is_none_or(|a| beyond(*k, a)))
            .filter(|(k, _)| before.is_none_or(|b| beyond(b, *k)))
            .collect();
        let (mut has_next, mut has_prev) = (false, false);
        if let Some(n) = first {
            let n = n as usize;
            has_next = window.len() > n;
            window.truncate(n);
        }
        if let Some(n) = last {
            let n = n as usize;
            if window.len() > n {
                has_prev = true;
                window.drain(..window.len() - n);
            }
        }
        let items: Vec<(String, Obj)> = window.into_iter().map(|(k, o)| (cursor(k), o)).collect();
        let page = PageInfo {
            has_next,
            has_prev,
            start: items.first().map(|(c, _)| c.clone()),
            end: items.last().map(|(c, _)| c.clone()),
        };
        Ok(Out::Obj(Obj::Conn(Box::new(Conn {
            typename,
            items,
            total,
            page,
        }))))
    }

    fn snap(&mut self, n: u64) -> Snap {
        if let Some(s) = self.snaps.get(&n) {
            return *s;
        }
        let mergeable = self.st.read_mergeable(n);
        let head = self.st.pulls[&n].head_sha.clone();
        let check = self.st.check_state(&head);
        let merge_state = self.st.merge_state(n, mergeable, check);
        if let Some(c) = self.st.check_runs.get_mut(&head) {
            c.reads = c.reads.saturating_add(1);
        }
        let s = Snap {
            mergeable,
            check,
            merge_state,
        };
        self.snaps.insert(n, s);
        s
    }

    /// The policy check of a commit: the pull request's snapshot when it is its head.
    fn policy(&mut self, sha: &str, pr: Option<u64>) -> Option<CheckState> {
        match pr {
            Some(n) if self.st.pulls.get(&n).is_some_and(|p| p.head_sha == sha) => {
                self.snap(n).check
            }
            _ => self.st.check_state(sha),
        }
    }

    fn actor(login: &str) -> Out {
        Out::Obj(Obj::Actor(login.to_string()))
    }

    fn resolve(&mut self, obj: &Obj, typename: &str, f: &Field, path: &[Value]) -> Res<Out> {
        let name = f.name.as_str();
        let web = self.st.web();
        match obj {
            Obj::Query => match name {
                "repository" => {
                    let owner = self.arg(f, "owner");
                    let repo = self.arg(f, "name");
                    let (owner, repo) = (
                        owner.as_ref().and_then(Value::as_str).unwrap_or(""),
                        repo.as_ref().and_then(Value::as_str).unwrap_or(""),
                    );
                    if owner.eq_ignore_ascii_case(&self.st.owner)
                        && repo.eq_ignore_ascii_case(&self.st.name)
                    {
                        Ok(Out::Obj(Obj::Repository))
                    } else {
                        let msg = format!(
                            "Could not resolve to a Repository with the name '{owner}/{repo}'."
                        );
                        self.not_found(f, path, msg)
                    }
                }
                "rateLimit" => Ok(Out::Obj(Obj::RateLimit)),
                "viewer" => Ok(Out::Obj(Obj::Viewer)),
                _ => Err(self.unknown(typename, f)),
            },
            Obj::RateLimit => {
                let (_, used, reset) = self.st.rate_limit_numbers();
                match name {
                    "cost" | "nodeCount" => leaf(1),
                    "limit" => leaf(5000),
                    "used" => leaf(used + 1),
                    "remaining" => leaf(5000u64.saturating_sub(used + 1)),
                    "resetAt" => leaf(iso(reset)),
                    _ => Err(self.unknown(typename, f)),
                }
            }
            Obj::Viewer => {
                let caller = self.st.caller.clone();
                let id = user_id(&caller.login, &self.st.owner);
                match name {
                    "login" => leaf(caller.login.clone()),
                    "databaseId" => leaf(id),
                    "id" => leaf(node_id("User", id)),
                    "url" => leaf(format!("{}/{}", self.st.url, caller.login)),
                    "name" => Ok(Out::Null),
                    _ => Err(self.unknown(typename, f)),
                }
            }
            Obj::Actor(login) => {
                let id = user_id(login, &self.st.owner);
                let bot = crate::render::is_bot(login);
                let shown = login.trim_end_matches("[bot]");
                match name {
                    "login" => leaf(shown),
                    "databaseId" => leaf(id),
                    "id" => leaf(node_id(if bot { "Bot" } else { "User" }, id)),
                    "url" => leaf(format!(
                        "{}/{}",
                        self.st.url,
                        if bot {
                            format!("apps/{shown}")
                        } else {
                            shown.to_string()
                        }
                    )),
                    "avatarUrl" => leaf(format!("{}/avatars/{shown}", self.st.url)),
                    "name" if !bot => Ok(Out::Null),
                    _ => Err(self.unknown(typename, f)),
                }
            }
            Obj::Ref(branch) => match name {
                "name" => leaf(branch.clone()),
                "prefix" => leaf("refs/heads/"),
                "id" => leaf(base64(format!("0:Ref{branch}").as_bytes())),
                "target" => match self.st.git.resolve(branch) {
                    Some(sha) => Ok(Out::Obj(Obj::Commit(sha, None))),
                    None => Ok(Out::Null),
                },
                _ => Err(self.unknown(typename, f)),
            },
            Obj::Repository => self.repository(f, typename, path),
            Obj::Pull(n) => self.pull(*n, f, typename),
            Obj::Issue(n) => {
                let Some(i) = self.st.issues.get(n) else {
                    return Ok(Out::Null);
                };
                let id = 7_000_000 + n;
                match name {
                    "id" => leaf(node_id("Issue", id)),
                    "databaseId" => leaf(id),
                    "number" => leaf(*n),
                    "title" => leaf(i.title.clone()),
                    "body" => leaf(i.body.clone().unwrap_or_default()),
                    "state" => leaf(if i.open { "OPEN" } else { "CLOSED" }),
                    "closed" => leaf(!i.open),
                    "url" => leaf(format!("{web}/issues/{n}")),
                    "createdAt" => leaf(iso(i.created_at)),
                    "updatedAt" => leaf(iso(i.updated_at)),
                    "closedAt" => opt_leaf(i.closed_at.map(iso)),
                    "author" => Ok(Self::actor(&i.author)),
                    "comments" => self.comments(*n, f),
                    _ => Err(self.unknown(typename, f)),
                }
            }
            Obj::IssueComment(id) => {
                let Some(c) = self.st.comments.iter().find(|c| c.id == *id) else {
                    return Ok(Out::Null);
                };
                let kind = if self.st.pulls.contains_key(&c.number) {
                    "pull"
                } else {
                    "issues"
                };
                match name {
                    "id" => leaf(node_id("IssueComment", *id)),
                    "databaseId" => leaf(*id),
                    "body" => leaf(c.body.clone()),
                    "author" => Ok(Self::actor(&c.login)),
                    "createdAt" => leaf(iso(c.created_at)),
                    "updatedAt" => leaf(iso(c.updated_at)),
                    "url" => leaf(format!("{web}/{kind}/{}#issuecomment-{id}", c.number)),
                    "authorAssociation" => leaf(self.st.association(&c.login).to_string()),
                    _ => Err(self.unknown(typename, f)),
                }
            }
            Obj::PullCommit(sha, pr) => match name {
                "commit" => Ok(Out::Obj(Obj::Commit(sha.clone(), *pr))),
                "id" => leaf(base64(format!("0:PullRequestCommit{sha}").as_bytes())),
                _ => Err(self.unknown(typename, f)),
            },
            Obj::Commit(sha, pr) => match name {
                "oid" => leaf(sha.clone()),
                "abbreviatedOid" => leaf(sha.chars().take(7).collect::<String>()),
                "id" => leaf(base64(format!("0:Commit{sha}").as_bytes())),
                "url" => leaf(format!("{web}/commit/{sha}")),
                "message" | "committedDate" => {
                    let info = self.st.git.commit_info(sha);
                    match (name, info) {
                        ("message", Some(i)) => leaf(i.message),
                        (_, Some(i)) => leaf(i.committed),
                        _ => Ok(Out::Null),
                    }
                }
                "statusCheckRollup" => {
                    let policy = self.policy(sha, *pr);
                    if self.st.rollup_state(sha, policy).is_some() {
                        Ok(Out::Obj(Obj::Rollup(sha.clone(), *pr)))
                    } else {
                        Ok(Out::Null)
                    }
                }
                _ => Err(self.unknown(typename, f)),
            },
            Obj::Rollup(sha, pr) => match name {
                "id" => leaf(base64(format!("0:StatusCheckRollup{sha}").as_bytes())),
                "state" => {
                    let policy = self.policy(sha, *pr);
                    leaf(state_name(self.st.rollup_state(sha, policy)))
                }
                "contexts" => {
                    let mut items = Vec::new();
                    if self.policy(sha, *pr).is_some() {
                        items.push(Obj::PolicyRun(sha.clone(), *pr));
                    }
                    for (i, r) in self.st.extra_runs.iter().enumerate() {
                        if r.sha == *sha {
                            items.push(Obj::ExtraRun(i));
                        }
                    }
                    for (i, s) in self.st.statuses.iter().enumerate() {
                        if s.sha == *sha {
                            items.push(Obj::Status(i));
                        }
                    }
                    let keyed = items
                        .into_iter()
                        .enumerate()
                        .map(|(i, o)| (i as u64 + 1, o))
                        .collect();
                    self.connection(f, "StatusCheckRollupContextConnection", keyed, true)
                }
                _ => Err(self.unknown(typename, f)),
            },
            Obj::PolicyRun(sha, pr) => {
                let Some(state) = self.policy(sha, *pr) else {
                    return Ok(Out::Null);
                };
                let Some(check) = self.st.check_runs.get(sha) else {
                    return Ok(Out::Null);
                };
                let (id, created) = (check.id, check.created_at);
                let (title, summary, text) = self.st.check_texts(state);
                let done = state != CheckState::Pending;
                match name {
                    "id" => leaf(node_id("CheckRun", id)),
                    "databaseId" => leaf(id),
                    "name" => leaf(self.st.check_name()),
                    "status" => leaf(if done { "COMPLETED" } else { "IN_PROGRESS" }),
                    "conclusion" => opt_leaf(match state {
                        CheckState::Pending => None,
                        CheckState::Success => Some("SUCCESS"),
                        CheckState::Failure => Some("FAILURE"),
                    }),
                    "title" => leaf(title),
                    "summary" => leaf(summary),
                    "text" => opt_leaf(text),
                    "detailsUrl" | "url" | "permalink" => leaf(format!("{web}/runs/{id}")),
                    "startedAt" => leaf(iso(created)),
                    "completedAt" => opt_leaf(done.then(|| iso(self.st.now()))),
                    "isRequired" => leaf(true),
                    _ => Err(self.unknown(typename, f)),
                }
            }
            Obj::ExtraRun(i) => {
                let r = &self.st.extra_runs[*i];
                let id = r.id;
                match name {
                    "id" => leaf(node_id("CheckRun", id)),
                    "databaseId" => leaf(id),
                    "name" => leaf(r.run.name.clone()),
                    "status" => leaf(if r.run.conclusion.is_some() {
                        "COMPLETED"
                    } else {
                        "IN_PROGRESS"
                    }),
                    "conclusion" => opt_leaf(r.run.conclusion.as_ref().map(|c| c.to_uppercase())),
                    "title" => opt_leaf(r.run.title.clone()),
                    "summary" => opt_leaf(r.run.summary.clone()),
                    "text" => opt_leaf(r.run.text.clone()),
                    "detailsUrl" => leaf(
                        r.run
                            .details_url
                            .clone()
                            .unwrap_or(format!("{web}/runs/{id}")),
                    ),
                    "url" | "permalink" => leaf(format!("{web}/runs/{id}")),
                    "startedAt" => leaf(iso(r.created_at)),
                    "completedAt" => opt_leaf(r.run.conclusion.as_ref().map(|_| iso(r.created_at))),
                    "isRequired" => leaf(false),
                    _ => Err(self.unknown(typename, f)),
                }
            }
            Obj::Status(i) => {
                let s = &self.st.statuses[*i];
                match name {
                    "id" => leaf(node_id("StatusContext", s.id)),
                    "context" => leaf(s.context.clone()),
                    "state" => leaf(s.state.to_uppercase()),
                    "description" => opt_leaf(s.description.clone()),
                    "targetUrl" => opt_leaf(s.target_url.clone()),
                    "createdAt" => leaf(iso(s.created_at)),
                    "isRequired" => leaf(false),
                    _ => Err(self.unknown(typename, f)),
                }
            }
            Obj::Review(pr, id) => {
                let Some(r) = self
                    .st
                    .pulls
                    .get(pr)
                    .and_then(|p| p.reviews.iter().find(|r| r.id == *id))
                else {
                    return Ok(Out::Null);
                };
                match name {
                    "id" => leaf(node_id("PullRequestReview", *id)),
                    "databaseId" => leaf(*id),
                    "state" => leaf(r.state.clone()),
                    "body" => leaf(r.body.clone()),
                    "submittedAt" => opt_leaf((r.state != "PENDING").then(|| iso(r.submitted_at))),
                    "createdAt" | "updatedAt" => leaf(iso(r.submitted_at)),
                    "author" => Ok(Self::actor(&r.login)),
                    "url" => leaf(format!("{web}/pull/{pr}#pullrequestreview-{id}")),
                    "commit" => Ok(Out::Obj(Obj::Commit(r.commit_id.clone(), Some(*pr)))),
                    "authorAssociation" => leaf(self.st.association(&r.login).to_string()),
                    "comments" => {
                        let items = r
                            .comments
                            .iter()
                            .map(|c| (c.id, Obj::ReviewComment(*pr, c.id)))
                            .collect();
                        self.connection(f, "PullRequestReviewCommentConnection", items, true)
                    }
                    _ => Err(self.unknown(typename, f)),
                }
            }
            Obj::ReviewComment(pr, id) => self.review_comment(*pr, *id, f, typename),
            Obj::Thread(pr, id) => {
                let Some(t) = self
                    .st
                    .pulls
                    .get(pr)
                    .and_then(|p| p.threads.iter().find(|t| t.id == *id))
                else {
                    return Ok(Out::Null);
                };
                let first = t
                    .comments
                    .first()
                    .and_then(|c| self.st.review_comment(*pr, *c))
                    .map(|c| (c.path.clone(), c.line, c.id));
                let (resolved, resolved_by) = (t.resolved, t.resolved_by.clone());
                let comment_ids = t.comments.clone();
                match name {
                    "id" => leaf(node_id("PullRequestReviewThread", *id)),
                    "isResolved" => leaf(resolved),
                    "isOutdated" => leaf(
                        first
                            .as_ref()
                            .is_some_and(|(_, _, c)| self.outdated(*pr, *c)),
                    ),
                    "path" => leaf(first.map(|(p, _, _)| p).unwrap_or_default()),
                    "line" => opt_leaf(
                        first
                            .filter(|(_, _, c)| !self.outdated(*pr, *c))
                            .map(|(_, l, _)| l),
                    ),
                    "originalLine" => opt_leaf(first.map(|(_, l, _)| l)),
                    "startLine" | "originalStartLine" => Ok(Out::Null),
                    "diffSide" => leaf("RIGHT"),
                    "isCollapsed" => leaf(resolved),
                    "resolvedBy" => Ok(resolved_by.map_or(Out::Null, |l| Self::actor(&l))),
                    "comments" => {
                        let items = comment_ids
                            .into_iter()
                            .map(|c| (c, Obj::ReviewComment(*pr, c)))
                            .collect();
                        self.connection(f, "PullRequestReviewCommentConnection", items, true)
                    }
                    _ => Err(self.unknown(typename, f)),
                }
            }
            Obj::ReviewRequest(pr, login) => match name {
                "id" => leaf(base64(format!("0:ReviewRequest{pr}:{login}").as_bytes())),
                "requestedReviewer" => Ok(Self::actor(login)),
                "asCodeOwner" => leaf(false),
                _ => Err(self.unknown(typename, f)),
            },
            Obj::Conn(c) => match name {
                "nodes" => Ok(Out::List(c.items.iter().map(|(_, o)| o.clone()).collect())),
                "edges" => {
                    let edge = edge_typename(c.typename);
                    Ok(Out::List(
                        c.items
                            .iter()
                            .map(|(k, o)| Obj::Edge(Box::new(o.clone()), k.clone(), edge))
                            .collect(),
                    ))
                }
                "pageInfo" => Ok(Out::Obj(Obj::PageInfo(Box::new(c.page.clone())))),
                "totalCount" => leaf(c.total),
                _ => Err(self.unknown(typename, f)),
            },
            Obj::Edge(node, cursor, _) => match name {
                "node" => Ok(Out::Obj((**node).clone())),
                "cursor" => leaf(cursor.clone()),
                _ => Err(self.unknown(typename, f)),
            },
            Obj::PageInfo(p) => match name {
                "hasNextPage" => leaf(p.has_next),
                "hasPreviousPage" => leaf(p.has_prev),
                "startCursor" => opt_leaf(p.start.clone()),
                "endCursor" => opt_leaf(p.end.clone()),
                _ => Err(self.unknown(typename, f)),
            },
        }
    }

    fn repository(&mut self, f: &Field, typename: &str, path: &[Value]) -> Res<Out> {
        let st = &self.st;
        match f.name.as_str() {
            "id" => leaf(node_id("Repository", 1_296_269)),
            "databaseId" => leaf(1_296_269),
            "name" => leaf(st.name.clone()),
            "nameWithOwner" => leaf(format!("{}/{}", st.owner, st.name)),
            "url" => leaf(st.web()),
            "owner" => Ok(Self::actor(&st.owner)),
            "defaultBranchRef" => Ok(Out::Obj(Obj::Ref(st.default_branch.clone()))),
            "pullRequests" => {
                let states = self.arg(f, "states");
                let wanted = |p: &crate::state::PullSt| {
                    let state = if p.merged {
                        "MERGED"
                    } else if p.open {
                        "OPEN"
                    } else {
                        "CLOSED"
                    };
                    states
                        .as_ref()
                        .and_then(Value::as_array)
                        .is_none_or(|s| s.iter().any(|x| x == state))
                };
                let head = self.arg(f, "headRefName");
                let base = self.arg(f, "baseRefName");
                let order = self.arg(f, "orderBy");
                let by_updated = order.as_ref().is_some_and(|o| o["field"] == "UPDATED_AT");
                let desc = order.as_ref().is_some_and(|o| o["direction"] == "DESC");
                let mut items: Vec<(u64, u64)> = self
                    .st
                    .pulls
                    .values()
                    .filter(|p| wanted(p))
                    .filter(|p| head.as_ref().is_none_or(|h| *h == p.head.as_str()))
                    .filter(|p| base.as_ref().is_none_or(|b| *b == p.base.as_str()))
                    .map(|p| {
                        let key = if by_updated { p.updated_at } else { p.number };
                        (key, p.number)
                    })
                    .collect();
                items.sort();
                if desc {
                    items.reverse();
                }
                // Cursors name pull-request numbers, which follow creation order.
                let ascending = !desc;
                let items = items.into_iter().map(|(_, n)| (n, Obj::Pull(n))).collect();
                self.connection(f, "PullRequestConnection", items, ascending)
            }
            "issues" => {
                let states = self.arg(f, "states");
                let items = self
                    .st
                    .issues
                    .values()
                    .filter(|i| {
                        let s = if i.open { "OPEN" } else { "CLOSED" };
                        states
                            .as_ref()
                            .and_then(Value::as_array)
                            .is_none_or(|x| x.iter().any(|v| v == s))
                    })
                    .map(|i| (i.number, Obj::Issue(i.number)))
                    .collect();
                self.connection(f, "IssueConnection", items, true)
            }
            "pullRequest" | "issue" | "issueOrPullRequest" => {
                let n = self.arg(f, "number").and_then(|v| v.as_u64()).unwrap_or(0);
                let (pr, issue) = (
                    self.st.pulls.contains_key(&n),
                    self.st.issues.contains_key(&n),
                );
                match f.name.as_str() {
                    "pullRequest" if pr => Ok(Out::Obj(Obj::Pull(n))),
                    "issue" if issue => Ok(Out::Obj(Obj::Issue(n))),
                    "issueOrPullRequest" if pr => Ok(Out::Obj(Obj::Pull(n))),
                    "issueOrPullRequest" if issue => Ok(Out::Obj(Obj::Issue(n))),
                    "pullRequest" => self.not_found(
                        f,
                        path,
                        format!("Could not resolve to a PullRequest with the number of {n}."),
                    ),
                    _ => self.not_found(
                        f,
                        path,
                        format!("Could not resolve to an Issue with the number of {n}."),
                    ),
                }
            }
            _ => Err(self.unknown(typename, f)),
        }
    }

    fn comments(&self, number: u64, f: &Field) -> Res<Out> {
        let items = self
            .st
            .comments
            .iter()
            .filter(|c| c.number == number)
            .map(|c| (c.id, Obj::IssueComment(c.id)))
            .collect();
        self.connection(f, "IssueCommentConnection", items, true)
    }

    /// Whether the commented file changed since the comment (GitHub then marks it outdated
    /// and its `line` null).
    fn outdated(&self, pr: u64, comment: u64) -> bool {
        let Some(c) = self.st.review_comment(pr, comment) else {
            return false;
        };
        let head = &self.st.pulls[&pr].head_sha;
        head != &c.commit_id
            && self.st.git.blob_id(&c.commit_id, &c.path) != self.st.git.blob_id(head, &c.path)
    }

    fn review_comment(&mut self, pr: u64, id: u64, f: &Field, typename: &str) -> Res<Out> {
        let outdated = self.outdated(pr, id);
        let Some(c) = self.st.review_comment(pr, id) else {
            return Ok(Out::Null);
        };
        let web = self.st.web();
        match f.name.as_str() {
            "id" => leaf(node_id("PullRequestReviewComment", id)),
            "databaseId" | "fullDatabaseId" => leaf(id),
            "path" => leaf(c.path.clone()),
            "line" => opt_leaf((!outdated).then_some(c.line)),
            "originalLine" => leaf(c.line),
            "startLine" | "originalStartLine" => Ok(Out::Null),
            "diffHunk" => leaf(c.diff_hunk.clone()),
            "body" => leaf(c.body.clone()),
            "author" => Ok(Self::actor(&c.login)),
            "createdAt" | "updatedAt" | "publishedAt" => leaf(iso(c.created_at)),
            "url" => leaf(format!("{web}/pull/{pr}#discussion_r{id}")),
            "outdated" => leaf(outdated),
            "commit" => Ok(Out::Obj(Obj::Commit(
                self.st.pulls[&pr].head_sha.clone(),
                Some(pr),
            ))),
            "originalCommit" => Ok(Out::Obj(Obj::Commit(c.commit_id.clone(), Some(pr)))),
            "pullRequestReview" => Ok(Out::Obj(Obj::Review(pr, c.review_id))),
            "replyTo" => Ok(Out::Null),
            "authorAssociation" => leaf(self.st.association(&c.login).to_string()),
            _ => Err(self.unknown(typename, f)),
        }
    }

    fn pull(&mut self, n: u64, f: &Field, typename: &str) -> Res<Out> {
        let name = f.name.as_str();
        // Fields that read mergeability or the required check share one snapshot.
        if matches!(name, "mergeable" | "mergeStateStatus") {
            let s = self.snap(n);
            return leaf(if name == "mergeable" {
                match s.mergeable {
                    None => "UNKNOWN",
                    Some(true) => "MERGEABLE",
                    Some(false) => "CONFLICTING",
                }
            } else {
                s.merge_state
            });
        }
        let web = self.st.web();
        let Some(p) = self.st.pulls.get(&n) else {
            return Ok(Out::Null);
        };
        let id = 6_000_000 + n;
        match name {
            "id" => leaf(node_id("PullRequest", id)),
            "databaseId" => leaf(id),
            "number" => leaf(n),
            "title" => leaf(p.title.clone()),
            "body" => leaf(p.body.clone().unwrap_or_default()),
            "url" | "permalink" => leaf(format!("{web}/pull/{n}")),
            "state" => leaf(if p.merged {
                "MERGED"
            } else if p.open {
                "OPEN"
            } else {
                "CLOSED"
            }),
            "closed" => leaf(!p.open),
            "merged" => leaf(p.merged),
            "isDraft" => leaf(p.draft),
            "createdAt" => leaf(iso(p.created_at)),
            "updatedAt" => leaf(iso(p.updated_at)),
            "closedAt" => opt_leaf(p.closed_at.map(iso)),
            "mergedAt" => opt_leaf(p.merged_at.map(iso)),
            "headRefName" => leaf(p.head.clone()),
            "headRefOid" => leaf(p.head_sha.clone()),
            "baseRefName" => leaf(p.base.clone()),
            "baseRefOid" => leaf(p.base_sha.clone()),
            "author" => Ok(Self::actor(&p.author)),
            "authorAssociation" => leaf(self.st.association(&p.author).to_string()),
            "reviewDecision" => opt_leaf(self.st.review_decision(n)),
            "mergeCommit" => Ok(p
                .merge_commit
                .clone()
                .map_or(Out::Null, |c| Out::Obj(Obj::Commit(c, None)))),
            "additions" | "deletions" | "changedFiles" => {
                let (base, head) = (p.base_sha.clone(), p.head_sha.clone());
                let s = self.st.stats(&base, &head);
                leaf(match name {
                    "additions" => s.additions,
                    "deletions" => s.deletions,
                    _ => s.changed_files,
                })
            }
            "commits" => {
                let (base, head) = (p.base_sha.clone(), p.head_sha.clone());
                let mut shas = self.st.git.commits_between(&base, &head);
                if shas.last() != Some(&head) {
                    shas.push(head);
                }
                let items = shas
                    .into_iter()
                    .enumerate()
                    .map(|(i, sha)| (i as u64 + 1, Obj::PullCommit(sha, Some(n))))
                    .collect();
                self.connection(f, "PullRequestCommitConnection", items, true)
            }
            "comments" => self.comments(n, f),
            "reviews" | "latestReviews" => {
                let states = self.arg(f, "states");
                let author = self.arg(f, "author");
                let mut reviews: Vec<(u64, String, String)> = p
                    .reviews
                    .iter()
                    .map(|r| (r.id, r.login.clone(), r.state.clone()))
                    .collect();
                if name == "latestReviews" {
                    let mut latest: Vec<(u64, String, String)> = Vec::new();
                    for r in reviews.into_iter().filter(|r| r.2 != "PENDING") {
                        latest.retain(|l| l.1 != r.1);
                        latest.push(r);
                    }
                    latest.sort();
                    reviews = latest;
                }
                let items = reviews
                    .into_iter()
                    .filter(|(_, _, s)| {
                        states
                            .as_ref()
                            .and_then(Value::as_array)
                            .is_none_or(|x| x.iter().any(|v| v == s.as_str()))
                    })
                    .filter(|(_, l, _)| {
                        author
                            .as_ref()
                            .is_none_or(|a| *a == l.trim_end_matches("[bot]"))
                    })
                    .map(|(id, _, _)| (id, Obj::Review(n, id)))
                    .collect();
                self.connection(f, "PullRequestReviewConnection", items, true)
            }
            "reviewThreads" => {
                let items = p
                    .threads
                    .iter()
                    .map(|t| (t.id, Obj::Thread(n, t.id)))
                    .collect();
                self.connection(f, "PullRequestReviewThreadConnection", items, true)
            }
            "reviewRequests" => {
                let items = p
                    .requested
                    .iter()
                    .enumerate()
                    .map(|(i, l)| (i as u64 + 1, Obj::ReviewRequest(n, l.clone())))
                    .collect();
                self.connection(f, "ReviewRequestConnection", items, true)
            }
            _ => Err(self.unknown(typename, f)),
        }
    }
}

fn edge_typename(conn: &'static str) -> &'static str {
    match conn {
        "PullRequestConnection" => "PullRequestEdge",
        "IssueConnection" => "IssueEdge",
        "IssueCommentConnection" => "IssueCommentEdge",
        "PullRequestCommitConnection" => "PullRequestCommitEdge",
        "StatusCheckRollupContextConnection" => "StatusCheckRollupContextEdge",
        "PullRequestReviewConnection" => "PullRequestReviewEdge",
        "PullRequestReviewCommentConnection" => "PullRequestReviewCommentEdge",
        "PullRequestReviewThreadConnection" => "PullRequestReviewThreadEdge",
        "ReviewRequestConnection" => "ReviewRequestEdge",
        _ => "Edge",
    }
}

fn state_name(s: Option<CheckState>) -> &'static str {
    match s {
        None | Some(CheckState::Pending) => "PENDING",
        Some(CheckState::Success) => "SUCCESS",
        Some(CheckState::Failure) => "FAILURE",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_and_type_conditions() {
        assert_eq!(uncursor(&cursor(42)), Some(42));
        assert_eq!(uncursor("nonsense!"), None);
        assert!(applies("CheckRun", "StatusCheckRollupContext"));
        assert!(applies("Bot", "Actor"));
        assert!(!applies("StatusContext", "CheckRun"));
        let vars: Map<String, Value> = [("a".to_string(), json!(3))].into_iter().collect();
        assert_eq!(
            literal(
                &Val::List(vec![Val::Var("a".into()), Val::Enum("OPEN".into())]),
                &vars
            ),
            json!([3, "OPEN"])
        );
    }
}
