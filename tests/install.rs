//! The install step of the workflows `init --github` writes, run as a runner would run it:
//! against a local file server serving a release layout (`v<version>/git-mission-<target>.tar.gz`
//! and its `.sha256`). A binary that matches its checksum is installed without building; a
//! damaged or missing one falls back to `cargo install` from crates.io, or from the git URL
//! and tag given to `init --github --install-from`.

mod common;

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::TestRepo;

/// `python3 -m http.server` on loopback, serving `dir`; killed on drop.
struct Server {
    child: Child,
    url: String,
}

impl Server {
    fn start(dir: &Path) -> Server {
        let mut child = Command::new("python3")
            .args(["-u", "-m", "http.server", "0", "--bind", "127.0.0.1"])
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 http.server");
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.as_mut().expect("stdout"))
            .read_line(&mut line)
            .expect("its first line");
        // "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
        let port = line
            .split_whitespace()
            .skip_while(|w| *w != "port")
            .nth(1)
            .expect("port")
            .to_owned();
        Server {
            child,
            url: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The target the install script picks on this machine.
fn target() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "x86_64-unknown-linux-musl",
        _ => "aarch64-unknown-linux-gnu",
    }
}

/// A release layout for version 0.1.0 whose binary prints `from the release`.
fn release(dir: &Path, damaged: bool) {
    let name = format!("git-mission-{}", target());
    let pkg = dir.join("pkg").join(&name);
    std::fs::create_dir_all(&pkg).expect("pkg");
    std::fs::write(
        pkg.join("git-mission"),
        "#!/bin/sh\necho git-mission 0.1.0 from the release\n",
    )
    .expect("bin");
    let v = dir.join("v0.1.0");
    std::fs::create_dir_all(&v).expect("v");
    let tarball = v.join(format!("{name}.tar.gz"));
    let ok = Command::new("tar")
        .arg("-czf")
        .arg(&tarball)
        .arg("-C")
        .arg(dir.join("pkg"))
        .arg(&name)
        .status()
        .expect("tar")
        .success();
    assert!(ok);
    let sum = Command::new("sha256sum")
        .arg(&tarball)
        .output()
        .expect("sha256sum");
    let mut sum = String::from_utf8_lossy(&sum.stdout).into_owned();
    if damaged {
        sum = format!("{}{}", "0".repeat(64), &sum[64..]);
    }
    std::fs::write(v.join(format!("{name}.tar.gz.sha256")), sum).expect("sum");
}

/// The install step's script and the workflow's env, from a workflow `init --github` wrote.
fn install_step(repo: &TestRepo, workflow: &str) -> (String, Vec<(String, String)>) {
    let text = repo.read(&format!(".github/workflows/{workflow}"));
    let y: serde_json::Value = serde_norway::from_str(&text).expect("workflow YAML");
    let env: Vec<(String, String)> = y["env"]
        .as_object()
        .expect("env")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_owned()))
        .collect();
    let steps = y["jobs"]
        .as_object()
        .expect("jobs")
        .values()
        .flat_map(|j| j["steps"].as_array().cloned().unwrap_or_default())
        .collect::<Vec<_>>();
    let step = steps
        .iter()
        .find(|s| s["name"] == "Install git-mission")
        .expect("the install step");
    (step["run"].as_str().expect("run").to_owned(), env)
}

/// Runs the step as a runner would (bash, the workflow's env), with `releases` as the
/// download location and a `cargo` that only records how it was asked.
fn run_step(
    script: &str,
    env: &[(String, String)],
    releases: &str,
    home: &Path,
) -> (bool, String, Option<String>) {
    let fake = home.join("fake-bin");
    std::fs::create_dir_all(&fake).expect("fake");
    let cargo_log = home.join("cargo-args");
    std::fs::write(
        fake.join("cargo"),
        format!(
            "#!/bin/sh\necho \"$@\" > '{}'\nroot=\"$4\"\nmkdir -p \"$root/bin\"\nprintf '#!/bin/sh\\necho git-mission built by cargo\\n' > \"$root/bin/git-mission\"\nchmod +x \"$root/bin/git-mission\"\n",
            cargo_log.display()
        ),
    )
    .expect("cargo");
    Command::new("chmod")
        .arg("+x")
        .arg(fake.join("cargo"))
        .status()
        .expect("chmod");
    let _ = std::fs::remove_file(&cargo_log);
    let _ = std::fs::remove_dir_all(home.join(".cargo"));
    let out = Command::new("bash")
        .arg("-e")
        .arg("-c")
        .arg(script)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("GIT_MISSION_RELEASES", releases)
        .env("HOME", home)
        .env(
            "PATH",
            format!("{}:/usr/local/bin:/usr/bin:/bin", fake.display()),
        )
        .output()
        .expect("bash");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let installed = home.join(".cargo/bin/git-mission");
    (
        out.status.success() && installed.is_file(),
        text,
        std::fs::read_to_string(&cargo_log)
            .ok()
            .map(|s| s.trim().to_owned()),
    )
}

fn home(repo: &TestRepo, name: &str) -> PathBuf {
    let h = repo.home().join(name);
    std::fs::create_dir_all(&h).expect("home");
    h
}

#[test]
fn the_workflows_install_the_released_binary_after_checking_it() {
    if std::env::consts::OS != "linux" {
        return;
    }
    let repo = TestRepo::new();
    repo.run(&["init", "--github"]).success();
    let files = tempfile::tempdir().expect("tmp");
    release(files.path(), false);
    let server = Server::start(files.path());
    for wf in [
        "mission-pulse.yml",
        "mission-worker.yml",
        "mission-comment.yml",
    ] {
        let (script, env) = install_step(&repo, wf);
        assert!(
            env.iter().any(|(k, v)| k == "GIT_MISSION_RELEASES"
                && v == "https://github.com/git-mission/git-mission/releases/download"),
            "{wf}: {env:?}"
        );
        let h = home(&repo, wf);
        let (ok, out, cargo) = run_step(&script, &env, &server.url, &h);
        assert!(ok, "{wf}: {out}");
        assert!(
            out.contains("git-mission 0.1.0 from the release"),
            "{wf}: {out}"
        );
        assert_eq!(cargo, None, "{wf}: nothing was built");
    }
}

#[test]
fn a_damaged_or_missing_release_falls_back_to_cargo_install() {
    if std::env::consts::OS != "linux" {
        return;
    }
    let repo = TestRepo::new();
    repo.run(&["init", "--github"]).success();
    let (script, env) = install_step(&repo, "mission-pulse.yml");
    let version = env
        .iter()
        .find(|(k, _)| k == "GIT_MISSION_VERSION")
        .expect("version")
        .1
        .clone();
    assert_eq!(version, env!("CARGO_PKG_VERSION"));
    // A checksum that does not match: not installed, built instead.
    let files = tempfile::tempdir().expect("tmp");
    release(files.path(), true);
    let server = Server::start(files.path());
    let h = home(&repo, "damaged");
    let (ok, out, cargo) = run_step(&script, &env, &server.url, &h);
    assert!(ok, "{out}");
    assert!(out.contains("does not match its checksum"), "{out}");
    assert!(out.contains("git-mission built by cargo"), "{out}");
    assert_eq!(
        cargo.as_deref(),
        Some(
            format!(
                "install --locked --root {}/.cargo/bin/.. --version ={version} git-mission",
                h.display()
            )
            .as_str()
        )
    );
    // No release at all (an empty server): built from crates.io.
    let empty = tempfile::tempdir().expect("tmp");
    let none = Server::start(empty.path());
    let h = home(&repo, "missing");
    let (ok, out, cargo) = run_step(&script, &env, &none.url, &h);
    assert!(ok && out.contains("no release binary at"), "{out}");
    assert!(cargo.is_some_and(|c| c.ends_with(&format!("--version ={version} git-mission"))));
    // Installed with --install-from: the fallback builds that git URL at that tag.
    let other = TestRepo::new();
    other
        .run(&[
            "init",
            "--github",
            "--install-from",
            "https://example.com/me/git-mission.git@v9.9.9",
        ])
        .success();
    let (script, env) = install_step(&other, "mission-worker.yml");
    let h = home(&other, "git");
    let (ok, out, cargo) = run_step(&script, &env, &none.url, &h);
    assert!(ok, "{out}");
    assert!(
        cargo.is_some_and(|c| c
            .ends_with("--git https://example.com/me/git-mission.git --tag v9.9.9 git-mission")),
        "{out}"
    );
    let bad = other.run(&["init", "--github", "--install-from", "--upload-pack=evil"]);
    assert_eq!(bad.code, 2, "a flag is not a URL: {}", bad.snapshot());
    let bad = other.run(&[
        "init",
        "--github",
        "--install-from",
        "https://x/y\"; rm -rf ~",
    ]);
    assert_eq!(bad.code, 1, "{}", bad.snapshot());
}

#[test]
fn every_file_the_binary_embeds_is_in_the_published_package() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new(env!("CARGO"))
        .args([
            "package",
            "--list",
            "--allow-dirty",
            "--offline",
            "-p",
            "git-mission",
        ])
        .current_dir(root)
        .output()
        .expect("cargo package --list");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let listed: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    let mut embedded = Vec::new();
    let mut stack = vec![root.join("src")];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).expect("src").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            let text = std::fs::read_to_string(&p).unwrap_or_default();
            for part in text.split("include_str!(\"").skip(1) {
                let rel = part.split('"').next().expect("path");
                let file = p.parent().expect("dir").join(rel);
                let file = file.canonicalize().expect("embedded file exists");
                embedded.push(
                    file.strip_prefix(root.canonicalize().expect("root"))
                        .expect("inside the crate")
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    assert!(embedded.len() >= 15, "{embedded:?}");
    for f in &embedded {
        assert!(listed.contains(f), "{f} is embedded but not packaged");
    }
    for skill in [
        "mission-plan",
        "mission-worker",
        "mission-orchestrator",
        "validator-scrutiny",
    ] {
        assert!(
            listed.contains(&format!("skills/{skill}/SKILL.md")),
            "{skill}"
        );
    }
}
