use clap::Parser;

/// mimalloc: with the system allocator, malloc and free took 15% of the
/// proxied path's CPU; with it the path serves about 23% more (BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = custodian::cli::Cli::parse();
    match custodian::cli::run(cli).await {
        Ok(code) => code,
        Err(e) => {
            eprintln!("custodian: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
