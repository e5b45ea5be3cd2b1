//! Number routing: which service answers a Request-URI user. The line-test numbers of
//! the configuration come first (they are reserved: no dialplan may take them), then the
//! dialplans in force, which a reload may replace while serving.

use crate::call::answering::Service;
use crate::config::ServicesConfig;
use crate::ivr::dialplan::registry::DialplanRegistry;
use crate::sip::network::{Network, NetworkError};
use std::net::IpAddr;
use std::sync::Arc;

/// Numbers to services.
pub struct Router {
    echo: Vec<String>,
    echo_loop: Vec<String>,
    /// Who may reach the line-test numbers (the others find nothing there).
    diagnostic_sources: Vec<Network>,
    dialplans: Arc<DialplanRegistry>,
}

impl Router {
    /// Routes the configured line-test numbers, then the numbers of `dialplans`.
    pub fn new(services: &ServicesConfig, dialplans: Arc<DialplanRegistry>) -> Result<Router, NetworkError> {
        Ok(Router {
            echo: services.echo.clone(),
            echo_loop: services.echo_loop.clone(),
            diagnostic_sources: services.diagnostic_networks()?,
            dialplans,
        })
    }

    /// What answers `user` for a caller at `source`, if anything. A line-test number
    /// called from outside the diagnostic networks answers nothing, as an unknown
    /// number would (the echo services send audio wherever the SDP says).
    pub fn route(&self, user: &str, source: IpAddr) -> Option<Service> {
        let diagnostic = || self.diagnostic_sources.iter().any(|n| n.contains(source));
        if self.echo_loop.iter().any(|x| x == user) {
            diagnostic().then_some(Service::EchoLoop)
        } else if self.echo.iter().any(|x| x == user) {
            diagnostic().then_some(Service::Echo)
        } else {
            self.dialplans.current().for_number(user).map(Service::Flow)
        }
    }
}
