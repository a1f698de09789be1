//! `switchboard`: see `switchboard --help`.

use clap::Parser;

/// mimalloc rather than glibc's allocator: a request allocates and frees many small buffers across
/// threads, and glibc's `malloc`/`free` (with `malloc_consolidate`) took about a tenth of the
/// server's CPU under load (docs/BENCHMARKS.md). Built without transparent huge pages (the
/// workspace's `no_thp`): with them its arenas became resident 2 MiB at a time, 28 MB more at ready.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = switchboard::cli::Cli::parse();
    match switchboard::cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("switchboard: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
