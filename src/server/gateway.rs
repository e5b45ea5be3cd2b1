//! The payment platform the configuration names: the Sips connector (with its merchant
//! id, key and timeout) or the built-in simulator. Built once at start and shared by
//! calls, the extranet and the background jobs.

use super::ServerError;
use crate::config::PaymentsConfig;
use crate::payments::gateway::{Gateway, Simulator};
use crate::payments::sips::{SipsConfig, SipsConnector};
use std::time::Duration;

/// The gateway `[payments]` asks for; its CA file, if any, trusted first.
pub fn from_config(p: &PaymentsConfig) -> Result<Gateway, ServerError> {
    if let Some(ca) = &p.tls_ca_file {
        crate::payments::tls::trust_ca_file(ca)?;
    }
    Ok(if p.gateway == "sips" {
        let mut c = SipsConfig::new(&p.sips_base_url, &p.sips_merchant_id, &p.sips_secret_key);
        c.key_version = p.sips_key_version.clone();
        c.timeout = Duration::from_millis(p.timeout_ms);
        Gateway::Sips(SipsConnector::new(c))
    } else {
        Gateway::Simulator(Simulator::new(
            Duration::from_millis(p.simulator_latency_ms),
            Duration::from_millis(p.timeout_ms),
        ))
    })
}
