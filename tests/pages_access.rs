//! Access rules of the extranet pages over real HTTP: who may open what, forms without
//! their CSRF token, sign-in throttling, session cookies and their end. No browser is
//! needed for these; `pages_browser` covers what a person does.

mod common;
mod pages_support;

use common::fixtures;
use pages_support::{site, Web, PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_sees_only_its_own_invoices_and_transactions() {
    let s = site(false).await;
    let store = &s.server.ctx().store;
    let theirs = fixtures::stored_invoice(store, &s.other_merchant, "B-1", 5000).await;
    let mine = fixtures::stored_invoice(store, &s.merchant, "A-1", 4200).await;
    let (gw, _) = fixtures::simulator();
    let paid =
        match fixtures::pay(store, &gw, &s.other_merchant, &theirs, fixtures::ACCEPTED_CARD, "k-b1").await.unwrap() {
            ivrpay::payments::authorize::PaymentOutcome::Accepted(t) => t.reference,
            other => panic!("{other:?}"),
        };
    let mut a = Web::new(s.addr());
    assert_eq!(a.sign_in("merchant@a.test", PASSWORD).await.status, 303);
    assert_eq!(a.get(&format!("/invoices/{}", mine.id)).await.status, 200);
    for path in [
        format!("/invoices/{}", theirs.id),
        format!("/invoices/{}/created", theirs.id),
        format!("/invoices/{}/cancel", theirs.id),
        format!("/transactions/{paid}/cancel"),
    ] {
        let r = a.get(&path).await;
        assert_eq!(r.status, 404, "{path}");
        assert!(!r.body.contains("B-1") && !r.body.contains("Jeanne"), "{path} leaks: {}", r.body);
    }
    // The error page speaks the user's language first.
    let fr = a.get(&format!("/invoices/{}", theirs.id)).await.body;
    assert!(fr.contains("<html lang=\"fr\">") && fr.contains("<p>Cette page n&#39;existe pas.</p>"), "{fr}");
    let mut en = Web::new(s.addr());
    en.cookies.insert("ivrpay_lang".into(), "en".into());
    en.sign_in("merchant@a.test", PASSWORD).await;
    let body = en.get(&format!("/invoices/{}", theirs.id)).await.body;
    assert!(body.contains("<html lang=\"en\">") && body.contains("<p>This page does not exist.</p>"), "{body}");
    assert!(body.contains("<p lang=\"fr\">Cette page"), "the other language below: {body}");
    let token = a.get("/dashboard").await.csrf();
    let r = a.post(&format!("/transactions/{paid}/cancel"), &[("csrf", &token), ("amount", "10")]).await;
    assert_eq!(r.status, 404);
    let r = a.post(&format!("/invoices/{}/cancel", theirs.id), &[("csrf", &token)]).await;
    assert_eq!(r.status, 404);
    assert_eq!(store.transaction(&paid).await.unwrap().unwrap().status, "TO_CAPTURE", "untouched");
    assert_eq!(store.invoice(&s.other_merchant.id, &theirs.id).await.unwrap().unwrap().status.as_str(), "PAID");
    let list = a.get("/invoices").await.body;
    assert!(list.contains("A-1") && !list.contains("B-1"));
    let csv = a.get("/journal.csv").await;
    assert_eq!(csv.status, 200);
    assert!(csv.body.starts_with("TRANSACTION_ID,") && !csv.body.contains(&paid), "{}", csv.body);
    let page = a.get("/journal").await.body;
    assert!(page.contains("href=\"/journal.csv?format=csv-semicolon\""), "{page}");
    let sheet = a.get("/journal.csv?format=csv-semicolon").await;
    assert_eq!(sheet.status, 200);
    assert!(sheet.body.starts_with("\u{feff}TRANSACTION_ID;") && !sheet.body.contains(&paid), "{}", sheet.body);
    assert_eq!(a.get("/journal.csv?format=xls").await.status, 400);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_without_their_csrf_token_are_refused() {
    let s = site(false).await;
    let store = &s.server.ctx().store;
    let mut w = Web::new(s.addr());
    // The sign-in form: double-submit token, cookie and field must match.
    let token = w.get("/login").await.csrf();
    let r = w.post("/login", &[("email", "merchant@a.test"), ("password", PASSWORD)]).await;
    assert_eq!(r.status, 403, "sign-in without its token");
    let r = w.post("/login", &[("csrf", "0000"), ("email", "merchant@a.test"), ("password", PASSWORD)]).await;
    assert_eq!(r.status, 403, "sign-in with a forged token");
    assert_eq!(
        w.post("/login", &[("csrf", &token), ("email", "merchant@a.test"), ("password", PASSWORD)]).await.status,
        303
    );
    let good = w.get("/invoices/new").await.csrf();
    let form = [
        ("reference", "CSRF-1"),
        ("amount", "10.00"),
        ("currency", "EUR"),
        ("due_date", "2030-01-01"),
        ("customer_name", "Jeanne Martin"),
    ];
    let r = w.post("/invoices/new", &form).await;
    assert_eq!(r.status, 403, "no token");
    assert!(r.body.contains("formulaire a expiré"), "{}", r.body);
    let mut forged = form.to_vec();
    forged.push(("csrf", "f00d"));
    assert_eq!(w.post("/invoices/new", &forged).await.status, 403, "wrong token");
    // Another session's token does not work either.
    let mut other = Web::new(s.addr());
    other.sign_in("merchant@a.test", PASSWORD).await;
    let theirs = other.get("/dashboard").await.csrf();
    assert_ne!(theirs, good);
    let mut with_theirs = form.to_vec();
    with_theirs.push(("csrf", &theirs));
    assert_eq!(w.post("/invoices/new", &with_theirs).await.status, 403, "another session's token");
    assert!(store.invoice_by_reference(&s.merchant.id, "CSRF-1").await.unwrap().is_none(), "nothing created");
    // A multipart form without the token (the import) is refused too.
    let boundary = "XyZ";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\nContent-Type: text/csv\r\n\r\nreference,amount,due_date,customer_name\r\nM-1,1,2030-01-01,J\r\n--{boundary}--\r\n"
    );
    let r = w.send("POST", "/import", Some(&format!("multipart/form-data; boundary={boundary}")), &body).await;
    assert_eq!(r.status, 403);
    let with = format!("--{boundary}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{good}\r\n{body}");
    let r = w.send("POST", "/import", Some(&format!("multipart/form-data; boundary={boundary}")), &with).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(store.invoice_by_reference(&s.merchant.id, "M-1").await.unwrap().is_some());
    // With its token, the form works.
    let mut ok = form.to_vec();
    ok.push(("csrf", &good));
    assert_eq!(w.post("/invoices/new", &ok).await.status, 303);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_in_is_throttled_per_account_and_per_address() {
    let s = site(false).await;
    let mut w = Web::new(s.addr());
    for i in 0..5 {
        let r = w.sign_in("merchant@a.test", "wrong password!").await;
        assert_eq!(r.status, 401, "attempt {i}");
        assert!(r.body.contains("incorrect"), "{}", r.body);
    }
    // Locked: even the right password waits, and says for how long.
    let r = w.sign_in("merchant@a.test", PASSWORD).await;
    assert_eq!(r.status, 429, "{}", r.body);
    let wait: i64 = r.header("retry-after").unwrap().parse().unwrap();
    assert!((25..=30).contains(&wait), "first wait ~30 s, got {wait}");
    assert!(r.body.contains("Trop de tentatives"), "{}", r.body);
    // Another account from the same address is not locked by it.
    assert_eq!(w.sign_in("merchant@b.test", PASSWORD).await.status, 303);
    // Many failures from one address, across accounts, lock the address.
    let mut v = Web::new(s.addr());
    for i in 0..15 {
        let r = v.sign_in(&format!("nobody{i}@x.test"), "wrong password!").await;
        assert_eq!(r.status, 401, "attempt {i}");
    }
    let r = v.sign_in("operator@x.test", PASSWORD).await;
    assert_eq!(r.status, 429, "20 failures from this address: {}", r.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_or_forged_sign_in_is_refused_before_anything_is_stored_or_logged() {
    let s = site(false).await;
    let pool = s.server.ctx().store.pool().clone();
    let rows = || async { sqlx::query("SELECT throttle_key FROM login_failures").fetch_all(&pool).await.unwrap() };
    let huge = format!("{}@x.test", "a".repeat(100_000));
    let forged = "someone@x.test\r\nINFO forged log line";
    let long_password = "p".repeat(5000);
    for (email, password) in [(huge.as_str(), "wrong"), (forged, "wrong"), ("merchant@a.test", long_password.as_str())]
    {
        let r = Web::new(s.addr()).sign_in(email, password).await;
        // Over the sign-in form's 8 KiB the body is not even read (413); within it, the
        // fields are checked (400).
        let expected = if email.len() > 8 * 1024 { 413 } else { 400 };
        assert_eq!(r.status, expected, "{}", &email[..email.len().min(40)]);
        assert!(!r.body.contains("aaaaaaaaaa"), "the address is not echoed back");
    }
    assert!(rows().await.is_empty(), "nothing was counted, so nothing was stored");
    // A plain failure is counted under hashed keys: no address in the table.
    assert_eq!(Web::new(s.addr()).sign_in("nobody@x.test", "wrong password!").await.status, 401);
    let keys: Vec<String> = rows().await.iter().map(|r| sqlx::Row::get(r, 0)).collect();
    assert_eq!(keys.len(), 2, "account and address: {keys:?}");
    assert!(keys.iter().all(|k| k.len() == 64 && k.chars().all(|c| c.is_ascii_hexdigit())), "{keys:?}");
    // Forgotten rows are pruned.
    let later = s.server.ctx().store.now_ms() + 2 * 3_600_000;
    assert_eq!(s.server.ctx().store.prune_login_failures(later).await.unwrap(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guesses_sent_at_once_are_throttled_like_guesses_in_a_row() {
    let s = site(false).await;
    let mut guesses = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let mut w = Web::new(s.addr());
        let token = w.get("/login").await.csrf();
        guesses.spawn(async move {
            let form = [("csrf", token.as_str()), ("email", "merchant@a.test"), ("password", "wrong password!")];
            w.post("/login", &form).await.status
        });
    }
    let mut statuses = guesses.join_all().await;
    statuses.sort();
    // Only the five free failures had their password checked; the rest waited.
    assert_eq!(statuses, [[401; 5].as_slice(), &[429; 15]].concat(), "{statuses:?}");
    let mut w = Web::new(s.addr());
    assert_eq!(w.sign_in("merchant@a.test", PASSWORD).await.status, 429, "the account is locked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_reaches_only_its_pages() {
    let s = site(false).await;
    let merchant = ["/dashboard", "/invoices", "/invoices/new", "/import", "/journal"];
    let operator = [
        "/operator/prompts",
        "/operator/prompts/fr/goodbye.wav",
        "/operator/dialplans",
        "/operator/dialplans/validate",
        "/operator/dialplans/files/invoice-payment.toml",
        "/operator/calls",
    ];
    let admin = ["/admin/users", "/admin/merchants"];
    let mut anon = Web::new(s.addr());
    for p in merchant.iter().chain(&operator).chain(&admin) {
        let r = anon.get(p).await;
        assert_eq!((r.status, r.header("location")), (303, Some("/login")), "{p} without a session");
    }
    for (email, home, allowed) in [
        ("merchant@a.test", "/dashboard", &merchant[..]),
        ("operator@x.test", "/operator/prompts", &operator[..]),
        ("admin@x.test", "/admin/users", &admin[..]),
    ] {
        let mut w = Web::new(s.addr());
        assert_eq!(w.sign_in(email, PASSWORD).await.status, 303);
        assert_eq!(w.get("/").await.header("location"), Some(home), "{email}");
        for p in merchant.iter().chain(&operator).chain(&admin) {
            let want = if allowed.contains(p) { 200 } else { 403 };
            let r = w.get(p).await;
            assert_eq!(r.status, want, "{email} {p}");
        }
        // Admin actions refused to others even with a valid token.
        let token = w.get(home).await.csrf();
        let r = w
            .post(
                "/admin/users",
                &[("csrf", &token), ("email", "new@x.test"), ("role", "admin"), ("password", PASSWORD)],
            )
            .await;
        assert_eq!(r.status, if email.starts_with("admin") { 303 } else { 403 }, "{email} creating an admin");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_are_secure_cookies_that_end_on_sign_out_and_when_disabled() {
    let s = site(true).await;
    let store = &s.server.ctx().store;
    let mut w = Web::new(s.addr());
    let login = w.get("/login").await;
    let pre = login.header("set-cookie").unwrap();
    assert!(pre.contains("HttpOnly") && pre.contains("SameSite=Strict") && pre.contains("Secure"), "{pre}");
    let r = w.sign_in("merchant@a.test", PASSWORD).await;
    let cookie =
        r.headers.iter().find(|(k, v)| k == "set-cookie" && v.starts_with("ivrpay_session=")).unwrap().1.clone();
    for attr in ["HttpOnly", "SameSite=Strict", "Secure", "Path=/", "Max-Age=43200"] {
        assert!(cookie.contains(attr), "{attr} missing: {cookie}");
    }
    // Only a hash of the token is stored.
    let token = w.cookies["ivrpay_session"].clone();
    let rows: Vec<(String,)> = sqlx::query_as("SELECT token_hash FROM sessions").fetch_all(store.pool()).await.unwrap();
    assert!(rows.iter().all(|(h,)| h != &token) && rows.len() == 1);
    assert_eq!(w.get("/dashboard").await.status, 200);
    // Sign-out ends the session on the server: the old cookie no longer works.
    let csrf = w.get("/dashboard").await.csrf();
    assert_eq!(w.post("/logout", &[("csrf", &csrf)]).await.header("location"), Some("/login"));
    let mut replay = Web::new(s.addr());
    replay.cookies.insert("ivrpay_session".into(), token);
    assert_eq!(replay.get("/dashboard").await.status, 303);
    // Disabling a user ends its sessions at once.
    let mut w = Web::new(s.addr());
    w.sign_in("merchant@a.test", PASSWORD).await;
    assert_eq!(w.get("/dashboard").await.status, 200);
    let u = store.user_by_email("merchant@a.test").await.unwrap().unwrap();
    store.set_user_disabled(&u.id, true).await.unwrap();
    assert_eq!(w.get("/dashboard").await.status, 303);
    assert_eq!(w.sign_in("merchant@a.test", PASSWORD).await.status, 401, "disabled users cannot sign in");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dialplan_reload_from_the_pages_needs_an_operator_and_its_csrf_token() {
    let s = site(false).await;
    let ctx = s.server.ctx().clone();
    let answers_3901 = || ctx.dialplans.current().for_number("3901").is_some();
    // The file on disk answers one more number; only a reload puts it in force.
    let file = s.dialplans.join("invoice-payment.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    std::fs::write(&file, text.replace("\"3900\"", "\"3900\", \"3901\"")).unwrap();

    let mut anon = Web::new(s.addr());
    // No session: sent to sign in before the body (and its token) is read.
    assert_eq!(anon.post("/operator/dialplans/reload", &[]).await.status, 303, "anonymous");
    let mut op = Web::new(s.addr());
    op.sign_in("operator@x.test", PASSWORD).await;
    // A link cannot put its own words into the prompts page's notice.
    let spoofed = op.get("/operator/prompts?lang=fr&replaced=echo_welcome&from=Appelez+le+0800+000+000").await.body;
    assert!(!spoofed.contains("Appelez le") && !spoofed.contains("prompt-notice"), "{spoofed}");
    let genuine = op.get("/operator/prompts?lang=fr&replaced=echo_welcome&from=16000+Hz+stereo+16+bits").await.body;
    assert!(genuine.contains("id=\"prompt-notice\"") && genuine.contains("16000 Hz stereo 16 bits"), "{genuine}");
    let token = op.get("/operator/dialplans").await.csrf();
    let r = op.post("/operator/dialplans/reload", &[]).await;
    assert_eq!(r.status, 403, "no token");
    assert!(r.body.contains("formulaire a expiré"), "{}", r.body);
    assert_eq!(op.post("/operator/dialplans/reload", &[("csrf", "f00d")]).await.status, 403, "forged token");
    let mut other = Web::new(s.addr());
    other.sign_in("operator@x.test", PASSWORD).await;
    let theirs = other.get("/operator/calls").await.csrf();
    assert_eq!(op.post("/operator/dialplans/reload", &[("csrf", &theirs)]).await.status, 403, "another session's");
    for email in ["merchant@a.test", "admin@x.test"] {
        let mut w = Web::new(s.addr());
        w.sign_in(email, PASSWORD).await;
        let own = w.get("/").await;
        let own = w.get(own.header("location").unwrap()).await.csrf();
        assert_eq!(w.post("/operator/dialplans/reload", &[("csrf", &own)]).await.status, 403, "{email}");
    }
    assert!(!answers_3901(), "nothing reloaded by a refused form");

    let r = op.post("/operator/dialplans/reload", &[("csrf", &token)]).await;
    assert_eq!((r.status, r.header("location")), (303, Some("/operator/dialplans?reloaded=1")), "{}", r.body);
    assert!(answers_3901(), "reloaded");
    let page = op.get("/operator/dialplans?reloaded=1").await;
    assert!(page.body.contains("Scénarios rechargés") && page.body.contains("pay, 3900, 3901"), "{}", page.body);

    // Only the directory's own .toml files are shown, whatever the path asks for.
    std::fs::write(s.dialplans.join("notes.txt"), "not a flow").unwrap();
    for path in [
        "/operator/dialplans/files/notes.txt",
        "/operator/dialplans/files/..%2F..%2Fetc%2Fpasswd",
        "/operator/dialplans/files/missing.toml",
    ] {
        assert_eq!(op.get(path).await.status, 404, "{path}");
    }
    // The calls page reads its filters as the operator API does, errors beside the field.
    let r = op.get("/operator/calls?to=31-12-2026&outcome=paid").await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("id=\"e-to\">utilisez le format AAAA-MM-JJ"), "{}", r.body);
    let r = op.get("/operator/calls?outcome=lost").await;
    assert_eq!(r.status, 422);
    assert!(r.body.contains("id=\"e-outcome\">choisissez une issue de la liste"), "{}", r.body);
}
