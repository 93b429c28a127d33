use clap::Parser;

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
