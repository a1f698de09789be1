//! `flowroute-sim serve` runs the simulator; `flowroute-sim inbound` posts a text as Flowroute would.

use clap::{Parser, Subcommand};
use flowroute_sim::{InboundFormat, Sim, SimConfig, post_inbound};

#[derive(Parser)]
#[command(name = "flowroute-sim", version, about = "A stand-in for Flowroute's messaging API")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the messaging API until Ctrl-C.
    Serve {
        #[arg(long, default_value = "127.0.0.1:8585")]
        listen: String,
        /// ACCESS_KEY:SECRET_KEY; repeatable (default sim-access:sim-secret).
        #[arg(long = "account")]
        accounts: Vec<String>,
        /// Lift Flowroute's 5 SMS/s and 1 MMS/s per key.
        #[arg(long)]
        no_limits: bool,
        /// Post no delivery receipts.
        #[arg(long)]
        no_receipts: bool,
        /// Fail this share of sends (0 to 1) at random with 429, 500 or no answer.
        #[arg(long, default_value_t = 0.0)]
        failure_rate: f64,
        /// A number (11 digits) the first account holds, texting off as Flowroute's numbers start;
        /// repeatable.
        #[arg(long = "number")]
        numbers: Vec<String>,
    },
    /// Post an inbound text to a URL (a Switchboard prefix).
    Inbound {
        #[arg(long)]
        url: String,
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
        #[arg(long)]
        body: Option<String>,
        /// A media link (makes an MMS); repeatable.
        #[arg(long = "media-url")]
        media_urls: Vec<String>,
        /// Use the flat compact format instead of JSON:API.
        #[arg(long)]
        compact: bool,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Serve { listen, accounts, no_limits, no_receipts, failure_rate, numbers } => {
            anyhow::ensure!((0.0..=1.0).contains(&failure_rate), "--failure-rate must be between 0 and 1");
            let mut config =
                SimConfig { rate_limits: !no_limits, receipts: !no_receipts, failure_rate, ..SimConfig::default() };
            if !accounts.is_empty() {
                config.accounts = accounts
                    .iter()
                    .map(|a| a.split_once(':').map(|(k, s)| (k.to_owned(), s.to_owned())))
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| anyhow::anyhow!("--account must be ACCESS_KEY:SECRET_KEY"))?;
            }
            let holder = config.accounts.first().map(|(a, _)| a.clone()).unwrap_or_default();
            for n in &numbers {
                let digits = n.trim_start_matches('+');
                anyhow::ensure!(
                    digits.len() == 11 && digits.starts_with('1') && digits.bytes().all(|b| b.is_ascii_digit()),
                    "--number must be 11 digits, 1NPANXXXXXX: {n}"
                );
                config.numbers.push((holder.clone(), digits.to_owned(), false));
            }
            let sim = Sim::start(std::net::TcpListener::bind(&listen)?, config)?;
            println!("flowroute-sim listening; send to {}", sim.endpoint());
            tokio::signal::ctrl_c().await?;
            sim.stop().await;
        }
        Command::Inbound { url, from, to, body, media_urls, compact } => {
            let format = if compact { InboundFormat::Compact } else { InboundFormat::JsonApi };
            let status = post_inbound(&url, &from, &to, body.as_deref(), &media_urls, format).await?;
            println!("{status}");
            anyhow::ensure!(status == 200, "the receiver answered {status}");
        }
    }
    Ok(())
}
