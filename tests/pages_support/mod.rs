//! Helpers for the extranet page tests: a server with private copies of the prompts and
//! the dialplans (tests edit them), accounts of every role, a cookie-keeping HTTP client
//! for the checks that need no browser, and headless Chromium driven through
//! chromedriver (fantoccini) for the ones that do, taking screenshots into
//! `target/screenshots/`.
#![allow(dead_code)]

use crate::common;
use fantoccini::{Client, ClientBuilder, Locator};
use ivrpay::payments::merchant::{CaptureMode, Merchant};
use ivrpay::server::Server;
use ivrpay::store::users::{NewUser, Role};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// The password every test account gets.
pub const PASSWORD: &str = "correct horse battery";

/// A running server and its accounts.
pub struct Site {
    pub server: Server,
    /// The simulated platform's clock: advancing it lets the platform's capture day come.
    pub platform_clock: std::sync::Arc<ivrpay::payments::clock::ShiftedClock>,
    pub prompts: PathBuf,
    pub dialplans: PathBuf,
    pub merchant: Merchant,
    pub other_merchant: Merchant,
}

impl Site {
    /// The extranet's base URL.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.server.http_addr())
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.http_addr()
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        if e.path().is_dir() {
            copy_dir(&e.path(), &to.join(e.file_name()));
        } else {
            std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
        }
    }
}

/// A fresh directory under the system's temporary one.
pub fn tempdir(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ivrpay-{tag}-{}-{:08x}", std::process::id(), rand::random::<u32>()));
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Starts a server (plain-HTTP cookies unless `secure_cookies`) with two merchants and
/// users `merchant@a.test` (first merchant), `merchant@b.test` (second), `operator@x.test`
/// and `admin@x.test`.
pub async fn site(secure_cookies: bool) -> Site {
    let mut c = common::config();
    c.http.secure_cookies = secure_cookies;
    let prompts = tempdir("prompts");
    copy_dir(&common::root().join("prompts"), &prompts);
    c.prompts.dir = prompts.clone();
    let dialplans = tempdir("dialplans");
    copy_dir(&common::root().join("dialplans"), &dialplans);
    c.dialplans.dir = dialplans.clone();
    let platform_clock = std::sync::Arc::new(ivrpay::payments::clock::ShiftedClock::new());
    let with = ivrpay::server::StartWith { platform_clock: Some(platform_clock.clone()), ..Default::default() };
    let server = Server::start_with(c, with).await.expect("server starts");
    let store = &server.ctx().store;
    let (merchant, _) =
        store.create_merchant(&common::fixtures::merchant(CaptureMode::AuthorCapture, 0, None)).await.unwrap();
    let mut other = common::fixtures::merchant(CaptureMode::AuthorCapture, 0, None);
    other.name = "Électricité Martin".into();
    let (other_merchant, _) = store.create_merchant(&other).await.unwrap();
    let users = [
        ("merchant@a.test", Role::Merchant, Some(merchant.id.clone())),
        ("merchant@b.test", Role::Merchant, Some(other_merchant.id.clone())),
        ("operator@x.test", Role::Operator, None),
        ("admin@x.test", Role::Admin, None),
    ];
    for (email, role, merchant_id) in users {
        store
            .create_user(&NewUser { email: email.into(), role, merchant_id, password: PASSWORD.into() })
            .await
            .unwrap();
    }
    Site { server, platform_clock, prompts, dialplans, merchant, other_merchant }
}

/// An answer: status, headers (lower-case names) and body.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// The value of the first field named `name` on the page (attributes in the order
    /// the templates write them: `name` then `value`).
    pub fn input(&self, name: &str) -> Option<String> {
        let key = format!("name=\"{name}\" value=\"");
        let at = self.body.find(&key)? + key.len();
        Some(self.body[at..].split('"').next()?.replace("&#47;", "/").replace("&#x2f;", "/"))
    }

    /// The CSRF token of the first form on the page.
    pub fn csrf(&self) -> String {
        let at = self.body.find("name=\"csrf\" value=\"").expect("a form with a CSRF token") + 19;
        self.body[at..].split('"').next().unwrap().to_string()
    }
}

/// A browser-like HTTP client: keeps cookies, one connection per request.
pub struct Web {
    pub addr: SocketAddr,
    pub cookies: HashMap<String, String>,
}

impl Web {
    pub fn new(addr: SocketAddr) -> Web {
        Web { addr, cookies: HashMap::new() }
    }

    pub async fn get(&mut self, path: &str) -> Answer {
        self.send("GET", path, None, "").await
    }

    /// POSTs an urlencoded form.
    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Answer {
        let body: Vec<String> = form.iter().map(|(k, v)| format!("{k}={}", enc(v))).collect();
        self.send("POST", path, Some("application/x-www-form-urlencoded"), &body.join("&")).await
    }

    /// Signs in (fetching the form first for its token).
    pub async fn sign_in(&mut self, email: &str, password: &str) -> Answer {
        let token = self.get("/login").await.csrf();
        self.post("/login", &[("csrf", &token), ("email", email), ("password", password)]).await
    }

    pub async fn send(&mut self, method: &str, path: &str, content_type: Option<&str>, body: &str) -> Answer {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let cookies: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n", self.addr);
        if !cookies.is_empty() {
            req.push_str(&format!("Cookie: {}\r\n", cookies.join("; ")));
        }
        if let Some(ct) = content_type {
            req.push_str(&format!("Content-Type: {ct}\r\n"));
        }
        req.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.unwrap();
        let text = String::from_utf8_lossy(&out).to_string();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        let mut lines = head.lines();
        let status = lines.next().and_then(|l| l.get(9..12)).and_then(|c| c.parse().ok()).unwrap_or(0);
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        for (_, c) in headers.iter().filter(|(k, _)| k == "set-cookie") {
            let (kv, attrs) = c.split_once(';').unwrap_or((c, ""));
            if let Some((k, v)) = kv.split_once('=') {
                if v.is_empty() || attrs.contains("Max-Age=0") {
                    self.cookies.remove(k);
                } else {
                    self.cookies.insert(k.to_string(), v.to_string());
                }
            }
        }
        Answer { status, headers, body: body.to_string() }
    }
}

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// chromedriver as a child process, killed when dropped.
pub struct Driver {
    child: Child,
    pub url: String,
    profile: PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

/// The chromedriver and Chromium of Debian (`.ci/run` installs them).
pub const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
pub const CHROMIUM: &str = "/usr/bin/chromium";

/// Widths every page is checked and photographed at: a phone and a desktop.
pub const WIDTHS: [(u32, u32); 2] = [(375, 812), (1280, 900)];

/// A headless Chromium session, French first in its Accept-Language.
pub struct Browser {
    pub c: Client,
    pub base: String,
    _driver: Driver,
}

pub async fn browser(base: &str) -> Browser {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("{CHROMEDRIVER} is needed for the browser tests ({e}); .ci/run installs chromium-driver")
        });
    let profile = tempdir("chromium-profile");
    let driver = Driver { child, url: format!("http://127.0.0.1:{port}"), profile: profile.clone() };
    let mut caps = serde_json::Map::new();
    caps.insert("browserName".into(), "chrome".into());
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": CHROMIUM,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage", "--hide-scrollbars", "--lang=fr-FR",
                     format!("--user-data-dir={}", profile.display()), "--window-size=1280,900"],
            "prefs": {"intl.accept_languages": "fr-FR,fr"}
        }),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    let mut last = None;
    for _ in 0..50 {
        match ClientBuilder::new(connector.clone()).capabilities(caps.clone()).connect(&driver.url).await {
            Ok(c) => {
                return Browser { c, base: base.to_string(), _driver: driver };
            }
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("no WebDriver session from {CHROMEDRIVER}: {last:?}");
}

impl Browser {
    pub async fn goto(&self, path: &str) {
        self.c.goto(&format!("{}{path}", self.base)).await.unwrap();
    }

    pub async fn path(&self) -> String {
        self.c.current_url().await.unwrap().path().to_string()
    }

    /// The element, waiting (up to 10 s) for it to appear: a submitted form's answer
    /// may still be loading.
    pub async fn find(&self, css: &str) -> fantoccini::elements::Element {
        self.c
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
    }

    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap()
    }

    pub async fn exists(&self, css: &str) -> bool {
        !self.c.find_all(Locator::Css(css)).await.unwrap().is_empty()
    }

    pub async fn fill(&self, css: &str, value: &str) {
        let e = self.find(css).await;
        e.clear().await.unwrap();
        e.send_keys(value).await.unwrap();
    }

    /// Clicks a link or a submit button and waits for the next page to be loaded (a
    /// click returns before the navigation it starts has finished).
    pub async fn click(&self, css: &str) {
        self.js("window.__ivrpayOldPage = true; return null").await;
        self.find(css).await.click().await.unwrap();
        for _ in 0..200 {
            let loaded =
                self.c.execute("return !window.__ivrpayOldPage && document.readyState === 'complete'", vec![]).await;
            if matches!(loaded, Ok(serde_json::Value::Bool(true))) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("clicking {css} led to no new page");
    }

    pub async fn js(&self, script: &str) -> serde_json::Value {
        self.c.execute(script, vec![]).await.unwrap()
    }

    pub async fn sign_in(&self, email: &str) {
        self.goto("/login").await;
        self.fill("#f-email", email).await;
        self.fill("#f-password", PASSWORD).await;
        self.click("form button[type=submit]").await;
    }

    /// At a phone's and a desktop's width: the page is in `lang`, its title is its
    /// heading, every visible field has a label, nothing is wider than the window; a
    /// screenshot of each is kept in `target/screenshots/<name>-<width>.png`.
    pub async fn check_layout(&self, name: &str, lang: &str) {
        let dir = common::root().join("target/screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        for (w, h) in WIDTHS {
            self.c.set_window_size(w, h).await.unwrap();
            tokio::time::sleep(Duration::from_millis(150)).await;
            let v = self
                .js(r#"
                const unlabelled = [...document.querySelectorAll('input,select,textarea')]
                  .filter(e => e.type !== 'hidden' && !e.hidden && e.offsetParent !== null)
                  .filter(e => !(e.labels && e.labels.length) && !e.getAttribute('aria-label'))
                  .map(e => e.name || e.id);
                return { title: document.title, lang: document.documentElement.lang,
                         inner: window.innerWidth, scroll: document.documentElement.scrollWidth,
                         h1: (document.querySelector('h1') || {}).textContent || '', unlabelled,
                         wide: [...document.querySelectorAll('body *')]
                           .filter(e => !e.closest('.table-wrap') && e.getBoundingClientRect().right > window.innerWidth + 1)
                           .map(e => e.tagName + '#' + e.id + '.' + e.className).slice(0, 6) };"#)
                .await;
            let shot = self.c.screenshot().await.unwrap();
            std::fs::write(dir.join(format!("{name}-{w}.png")), shot).unwrap();
            assert_eq!(v["inner"].as_i64(), Some(i64::from(w)), "{name}: the window is {w}px wide: {v}");
            assert_eq!(v["lang"].as_str(), Some(lang), "{name} at {w}px: <html lang>: {v}");
            let h1 = v["h1"].as_str().unwrap_or("").trim();
            assert!(!h1.is_empty(), "{name} at {w}px: no heading: {v}");
            assert_eq!(v["title"].as_str(), Some(format!("{h1} · ivrpay").as_str()), "{name} at {w}px: title: {v}");
            assert_eq!(v["unlabelled"], serde_json::json!([]), "{name} at {w}px: fields without a label");
            assert_eq!(v["wide"], serde_json::json!([]), "{name} at {w}px: wider than the window: {v}");
            assert!(
                v["scroll"].as_i64().unwrap() <= v["inner"].as_i64().unwrap(),
                "{name} at {w}px: the page scrolls sideways: {v}"
            );
        }
        self.c.set_window_size(1280, 900).await.unwrap();
    }
}
