//! The payment platform the configuration names: the Sips connector (with its merchant
//! id, key and timeout) or the built-in simulator. Built once at start and shared by
//! calls, the extranet and the background jobs.

use super::ServerError;
use crate::config::PaymentsConfig;
use crate::payments::clock::Clock;
use crate::payments::gateway::{Gateway, Simulator};
use crate::payments::sips::{SipsConfig, SipsConnector};
use std::sync::Arc;
use std::time::Duration;

/// The gateway `[payments]` asks for; its CA file, if any, trusted first. A simulator
/// keeps time by `platform_clock` when given (tests), else by the system's.
pub fn from_config(p: &PaymentsConfig, platform_clock: Option<Arc<dyn Clock>>) -> Result<Gateway, ServerError> {
    if let Some(ca) = &p.tls_ca_file {
        crate::payments::tls::trust_ca_file(ca)?;
    }
    Ok(if p.gateway == "sips" {
        let mut c = SipsConfig::new(&p.sips_base_url, &p.sips_merchant_id, &p.sips_secret_key);
        c.key_version = p.sips_key_version.clone();
        c.timeout = Duration::from_millis(p.timeout_ms);
        Gateway::Sips(SipsConnector::new(c))
    } else {
        let sim = Simulator::new(Duration::from_millis(p.simulator_latency_ms), Duration::from_millis(p.timeout_ms));
        Gateway::Simulator(match platform_clock {
            Some(clock) => sim.with_clock(clock),
            None => sim,
        })
    })
}
