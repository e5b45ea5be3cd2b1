//! Number routing: which service answers a Request-URI user. The line-test numbers of
//! the configuration come first (they are reserved: no dialplan may take them), then the
//! dialplans in force, which a reload may replace while serving.

use crate::call::answering::Service;
use crate::config::ServicesConfig;
use crate::ivr::dialplan::registry::DialplanRegistry;
use std::sync::Arc;

/// Numbers to services.
pub struct Router {
    echo: Vec<String>,
    echo_loop: Vec<String>,
    dialplans: Arc<DialplanRegistry>,
}

impl Router {
    /// Routes the configured line-test numbers, then the numbers of `dialplans`.
    pub fn new(services: &ServicesConfig, dialplans: Arc<DialplanRegistry>) -> Router {
        Router { echo: services.echo.clone(), echo_loop: services.echo_loop.clone(), dialplans }
    }

    /// What answers `user`, if anything.
    pub fn route(&self, user: &str) -> Option<Service> {
        if self.echo_loop.iter().any(|x| x == user) {
            Some(Service::EchoLoop)
        } else if self.echo.iter().any(|x| x == user) {
            Some(Service::Echo)
        } else {
            self.dialplans.current().for_number(user).map(Service::Flow)
        }
    }
}
