//! Fault points for the crash tests (built only with the `failpoints` feature). A point named
//! by `GIT_MISSION_FAULT` panics — the panic hook then exits 255 at once, like a kill. With
//! `GIT_MISSION_FAULT_ONCE=<file>`, only the first process to reach it (of all those that
//! inherited the setting: the supervisor and its detached workers) crashes: it creates the
//! file, and the others find it there. (The `fail` crate counts per process, which would crash
//! every worker a supervisor starts.)

static ASKED: std::sync::OnceLock<(Option<String>, Option<String>)> = std::sync::OnceLock::new();

/// Takes the fault settings from the command's environment (the CLI calls this once).
pub fn init(env: &crate::env::Env) {
    let _ = ASKED.set((
        env.var("GIT_MISSION_FAULT").map(str::to_owned),
        env.var("GIT_MISSION_FAULT_ONCE").map(str::to_owned),
    ));
}

/// Crashes here if this is the point asked for.
pub fn hit(name: &str) {
    let Some((point, once)) = ASKED.get() else {
        return;
    };
    if point.as_deref() != Some(name) {
        return;
    }
    if let Some(marker) = once {
        let first = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(marker)
            .is_ok();
        if !first {
            return;
        }
    }
    panic!("fault point {name} hit");
}
