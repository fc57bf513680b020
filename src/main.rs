// mimalloc: a big plan is tens of thousands of small strings, which glibc's allocator spends a
// quarter of `status` on (docs/performance.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    git_mission::cli::run()
}
