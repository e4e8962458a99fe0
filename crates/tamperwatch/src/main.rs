//! tamperwatch: watches packets passively and reports network tampering
//! (RST injection, DNS injection, block pages, blackholing, throttling)
//! as events and Prometheus metrics.

mod config;
mod events_cmd;
mod live;
mod pipeline;
mod privdrop;
mod replay;
mod sink;

use anyhow::Result;
use clap::{Parser, Subcommand};
use config::{Config, LogFormat};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "tamperwatch",
    version,
    about = "Passive detector of network tampering: RST and DNS injection, block pages, blackholing, throttling"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Capture live and detect (the daemon). Stops on SIGINT/SIGTERM.
    Run {
        /// Configuration file (default: built-in defaults, see config/tamperwatch.toml).
        #[arg(short, long)]
        config: Option<PathBuf>,
        /// Interface to capture on (repeatable; overrides the config).
        #[arg(short, long = "interface")]
        interface: Vec<String>,
        /// Prometheus exporter-toolkit web configuration file for the
        /// metrics endpoint: TLS and basic authentication (overrides
        /// `metrics.web_config_file`).
        #[arg(long = "web.config.file", value_name = "FILE")]
        web_config_file: Option<PathBuf>,
    },
    /// Run the same pipeline over capture files (pcap, pcapng) at full speed.
    Replay {
        /// Configuration file.
        #[arg(short, long)]
        config: Option<PathBuf>,
        /// Write events to this file, or `-` for standard output
        /// (default: the config's event sinks with -c, else standard output).
        #[arg(long)]
        events: Option<String>,
        /// Write the final Prometheus exposition to this file.
        #[arg(long)]
        metrics_out: Option<PathBuf>,
        /// Worker threads (default: the config's pipeline.workers; 0: one
        /// per CPU core).
        #[arg(long)]
        workers: Option<usize>,
        /// Look each frame's flow up two frames ahead, in every worker (a
        /// prefetch: faster with many concurrent flows, slower with few;
        /// the results are the same): auto measures both and keeps the
        /// faster.
        #[arg(long, value_enum, default_value = "auto")]
        lookahead: pipeline::LookaheadMode,
        /// No summary or progress bar on stderr.
        #[arg(short, long)]
        quiet: bool,
        /// Capture files, read in the order given.
        #[arg(required = true)]
        pcap: Vec<PathBuf>,
    },
    /// Export events from event files (and their rotations) as JSON lines
    /// or CSV, filtered by time, signature and domain, anonymised.
    Events(events_cmd::EventsArgs),
    /// Validate a configuration file and print the effective configuration.
    CheckConfig {
        /// The file (default: the built-in defaults).
        file: Option<PathBuf>,
    },
}

/// The vantage labels, if the operator set any.
pub(crate) fn vantage(cfg: &Config) -> Option<tw_metrics::VantageInfo> {
    let v = &cfg.vantage;
    (!(v.name.is_empty() && v.country.is_empty() && v.network.is_empty())).then(|| {
        tw_metrics::VantageInfo {
            vantage: v.name.clone(),
            country: v.country.clone(),
            network: v.network.clone(),
        }
    })
}

fn init_logging(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter =
        EnvFilter::try_from_env("TAMPERWATCH_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => b.json().init(),
        LogFormat::Text => b
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
    }
}

fn main() {
    let cli = Cli::parse();
    let code = match real_main(cli) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("tamperwatch: {e:#}");
            1
        }
    };
    std::process::exit(code);
}

fn real_main(cli: Cli) -> Result<i32> {
    match cli.cmd {
        Cmd::CheckConfig { file } => {
            let checked = Config::load_or_default(file.as_deref()).and_then(|c| {
                c.web_config()?;
                // the user `run` switches to, looked up as `run` would here:
                // only when root with CAP_SETUID/CAP_SETGID (under systemd's
                // DynamicUser, or in a container without those, `run` keeps
                // its user and never looks it up)
                privdrop::target(&c.security.user)?;
                Ok(c)
            });
            match checked {
                Ok(c) => {
                    print!("{}", c.to_toml());
                    println!("# {}", c.tables_summary());
                    eprintln!("configuration ok");
                    Ok(0)
                }
                Err(e) => {
                    eprintln!("tamperwatch: {e:#}");
                    Ok(1)
                }
            }
        }
        Cmd::Events(args) => events_cmd::run(args),
        Cmd::Run {
            config,
            interface,
            web_config_file,
        } => {
            let mut cfg = Config::load_or_default(config.as_deref())?;
            if !interface.is_empty() {
                cfg.capture.interfaces = interface.clone();
            }
            let web_config_file = web_config_file.map(|w| w.to_string_lossy().into_owned());
            if let Some(w) = &web_config_file {
                cfg.metrics.web_config_file = w.clone();
            }
            init_logging(cfg.log.format);
            live::run(
                cfg,
                config,
                live::CliOverrides {
                    interfaces: interface,
                    web_config_file,
                },
            )
        }
        Cmd::Replay {
            config,
            events,
            metrics_out,
            workers,
            lookahead,
            quiet,
            pcap,
        } => {
            // before anything else: a SIGTERM during the set-up stops the
            // replay cleanly (see replay::watch_signals)
            let (stop, signals) = replay::watch_signals();
            let cfg = Config::load_or_default(config.as_deref())?;
            init_logging(cfg.log.format);
            if !signals {
                tracing::warn!("no signal handling: SIGTERM will not flush events");
            }
            let events = match events.as_deref() {
                // With a config file, its sinks; without one, standard output.
                None if config.is_some() => replay::EventsOut::Config,
                None => replay::EventsOut::Stdout,
                Some("-") => replay::EventsOut::Stdout,
                Some(p) => replay::EventsOut::File(p.into()),
            };
            replay::run(replay::ReplayArgs {
                config: cfg,
                events,
                metrics_out,
                workers,
                lookahead,
                files: pcap,
                quiet,
                stop,
            })
        }
    }
}
