//! What answers a call, decided at admission from the Request-URI user: the line test
//! or a dialplan, and the application each one runs. The routing of numbers to services
//! is the server's (`server::routing`); this file only turns the choice into an app.

use crate::ivr::app::CallApp;
use crate::ivr::dialplan::Dialplan;
use crate::ivr::echo::EchoApp;
use crate::ivr::engine::Engine;
use crate::ivr::prompts::PromptLibrary;
use std::sync::Arc;

/// What answers a call.
#[derive(Clone, Debug)]
pub enum Service {
    /// The line test: greeting, then digits read back.
    Echo,
    /// The line test with the greeting repeated while idle.
    EchoLoop,
    /// A dialplan (the version in force when the call arrived, kept to its end).
    Flow(Arc<Dialplan>),
}

impl Service {
    /// The application for one call, on the prompts in force when it arrived; `today`
    /// is the caller's date for due dates and card expiries.
    pub fn app(self, prompts: Arc<PromptLibrary>, today: chrono::NaiveDate) -> Box<dyn CallApp> {
        let lang = prompts.default_language().to_string();
        match self {
            Service::EchoLoop => Box::new(EchoApp::looping(prompts, &lang)),
            Service::Echo => Box::new(EchoApp::new(prompts, &lang)),
            Service::Flow(plan) => Box::new(Engine::new(plan, prompts, today)),
        }
    }
}
