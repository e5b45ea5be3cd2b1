//! Running things: the server (with SIGHUP reloading the dialplans), the payment
//! simulator, `check`, and the prompt tools.

use super::{load_config, PromptsAction};
use crate::server::Server;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub(super) async fn simulator(
    listen: SocketAddr,
    secret: String,
    latency_ms: u64,
    tls: Option<(PathBuf, PathBuf)>,
) -> Result<(), String> {
    use crate::payments::{gateway::Simulator, sips_sim, tls as ptls};
    let sim = Simulator::new(Duration::from_millis(latency_ms), Duration::from_secs(60));
    let state = sips_sim::SimServer { simulator: sim, secret: secret.clone(), answer_secret: secret };
    let acceptor = match &tls {
        Some((cert, key)) => Some(ptls::acceptor(cert, key).map_err(|e| e.to_string())?),
        None => None,
    };
    let l = tokio::net::TcpListener::bind(listen).await.map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    let app = sips_sim::router(state);
    match acceptor {
        Some(acceptor) => {
            eprintln!("payment simulator (Sips Office JSON) on https://{listen}/rs-services/v2/");
            let l = ptls::TlsListener::new(l, acceptor).map_err(|e| e.to_string())?;
            axum::serve(l, app).with_graceful_shutdown(wait_for_signal()).await.map_err(|e| e.to_string())
        }
        None => {
            eprintln!("payment simulator (Sips Office JSON) on http://{listen}/rs-services/v2/");
            axum::serve(l, app).with_graceful_shutdown(wait_for_signal()).await.map_err(|e| e.to_string())
        }
    }
}

pub(super) fn check(config: Option<PathBuf>) -> Result<(), String> {
    let cfg = load_config(config)?;
    let report = crate::ivr::check::check(&cfg).map_err(|e| e.to_string())?;
    print!("{report}");
    Ok(())
}

pub(super) fn prompts(action: PromptsAction) -> Result<(), String> {
    use crate::ivr::{generate, manifest};
    let languages = |lang: String| if lang == "all" { Vec::new() } else { vec![lang] };
    match action {
        PromptsAction::Generate { dir, lang, force, espeak } => {
            let opts = generate::Options { dir, languages: languages(lang), force, espeak };
            let summaries = generate::generate(&opts, |g| {
                println!("generated {} ({} ms): {}", g.path.display(), g.duration_ms, g.text);
            })
            .map_err(|e| e.to_string())?;
            for s in &summaries {
                println!("{}: {} generated, {} already recorded", s.language, s.generated, s.kept);
            }
        }
        PromptsAction::Missing { dir, lang } => {
            let mut langs = languages(lang);
            if langs.is_empty() {
                langs = manifest::languages(&dir).map_err(|e| e.to_string())?;
            }
            for lang in langs {
                let m = manifest::Manifest::load(&dir, &lang).map_err(|e| e.to_string())?;
                let missing = m.missing_in(&dir).map_err(|e| e.to_string())?;
                for e in &missing {
                    println!("{lang} {} ({}:{}): {}", e.name, m.path.display(), e.line, e.text);
                }
                println!("{lang}: {} of {} prompts missing", missing.len(), m.entries.len());
            }
        }
    }
    Ok(())
}

pub(super) async fn serve(config: Option<PathBuf>, listen: Option<SocketAddr>) -> Result<(), String> {
    let mut cfg = load_config(config)?;
    if let Some(l) = listen {
        cfg.sip.listen = l;
    }
    let server = Server::start(cfg).await.map_err(|e| e.to_string())?;
    #[cfg(unix)]
    {
        let ctx = server.ctx().clone();
        if let Ok(mut hup) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
            tokio::spawn(async move {
                while hup.recv().await.is_some() {
                    // Errors are logged by reload_dialplans; the flows in force keep serving.
                    let _ = ctx.reload_dialplans();
                }
            });
        }
    }
    wait_for_signal().await;
    server.shutdown(Duration::from_secs(5)).await;
    Ok(())
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}
