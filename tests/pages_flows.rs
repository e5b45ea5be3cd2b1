//! Page flows that need no browser, over real HTTP: the invoice list a page at a time,
//! cancelling an invoice and a transaction after their confirmation step, validating in
//! validation mode, operations the status does not allow, and the language switch.

mod common;
mod pages_support;

use common::fixtures;
use ivrpay::payments::authorize::PaymentOutcome;
use ivrpay::payments::merchant::CaptureMode;
use ivrpay::store::notification_log::Subject;
use pages_support::{site, Web, PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoices_a_page_at_a_time_and_cancelled_after_confirmation() {
    let s = site(false).await;
    let store = &s.server.ctx().store;
    for i in 0..25 {
        fixtures::stored_invoice(store, &s.merchant, &format!("P-{i:02}"), 1000 + i).await;
    }
    // One that is no longer payable, for the status filter to leave out.
    let gone = fixtures::stored_invoice(store, &s.merchant, "X-1", 1010).await;
    store.cancel_invoice(&s.merchant.id, &gone.id).await.unwrap();
    let mut w = Web::new(s.addr());
    w.sign_in("merchant@a.test", PASSWORD).await;
    let first = w.get("/invoices?status=PAYABLE").await;
    assert_eq!(first.body.matches("<tr><td><a href=\"/invoices/").count(), 20);
    let next = first
        .body
        .split("rel=\"next\"")
        .next()
        .unwrap()
        .rsplit("href=\"")
        .next()
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .replace("&#38;", "&");
    assert!(next.starts_with("/invoices?status=PAYABLE&cursor="), "{next}");
    let second = w.get(&next).await;
    assert_eq!(second.body.matches("<tr><td><a href=\"/invoices/").count(), 5);
    assert!(!second.body.contains("rel=\"next\"") && second.body.contains("Première page"));
    assert!(!first.body.contains(">X-1<") && !second.body.contains(">X-1<"), "not payable");
    let cancelled = w.get("/invoices?status=CANCELLED").await.body;
    assert_eq!(cancelled.matches("<tr><td><a href=\"/invoices/").count(), 1);
    assert!(cancelled.contains(">X-1<"), "{cancelled}");
    let any_status = w.get("/invoices?reference=X-1").await.body;
    assert_eq!(any_status.matches("<tr><td><a href=\"/invoices/").count(), 1, "without a status filter");
    let amounts = w.get("/invoices?min_amount=10,20&max_amount=10.22").await;
    assert_eq!(amounts.body.matches("<tr><td><a href=\"/invoices/").count(), 3, "10,20 to 10.22 EUR");
    let bad = w.get("/invoices?created_from=31/12/2030&min_amount=abc").await;
    assert!(
        bad.body.contains("id=\"e-created_from\">utilisez le format AAAA-MM-JJ")
            && bad.body.contains("id=\"e-min_amount\""),
        "{}",
        bad.body
    );

    // Cancelling an invoice asks first, then does it.
    let inv = store.invoice_by_reference(&s.merchant.id, "P-00").await.unwrap().unwrap();
    let confirm = w.get(&format!("/invoices/{}/cancel", inv.id)).await;
    assert_eq!(confirm.status, 200);
    assert!(confirm.body.contains("Annuler cette facture ?"));
    assert_eq!(
        store.invoice(&s.merchant.id, &inv.id).await.unwrap().unwrap().status.as_str(),
        "PAYABLE",
        "not before confirming"
    );
    let r = w.post(&format!("/invoices/{}/cancel", inv.id), &[("csrf", &confirm.csrf()), ("confirm", "yes")]).await;
    assert_eq!(r.header("location"), Some(format!("/invoices/{}?done=cancel-invoice", inv.id).as_str()));
    assert_eq!(store.invoice(&s.merchant.id, &inv.id).await.unwrap().unwrap().status.as_str(), "CANCELLED");
    let page = w.get(&format!("/invoices/{}?done=cancel-invoice", inv.id)).await.body;
    assert!(page.contains("Facture annulée.") && !page.contains("/cancel\""), "no second cancel offered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cash_operations_only_where_the_status_allows_them() {
    let s = site(false).await;
    let store = &s.server.ctx().store;
    let gw = s.server.ctx().gateway.clone();
    let pay = |m, reference: &'static str| {
        let gw = gw.clone();
        async move {
            let inv = fixtures::stored_invoice(store, m, reference, 10_000).await;
            match fixtures::pay(store, &gw, m, &inv, fixtures::ACCEPTED_CARD, reference).await.unwrap() {
                PaymentOutcome::Accepted(t) => (inv, t.reference),
                other => panic!("{other:?}"),
            }
        }
    };
    let (inv, tx) = pay(&s.merchant, "T-1").await;
    let mut w = Web::new(s.addr());
    w.sign_in("merchant@a.test", PASSWORD).await;
    let page = w.get(&format!("/invoices/{}", inv.id)).await.body;
    assert!(
        page.contains(&format!("/transactions/{tx}/cancel")) && !page.contains(&format!("/transactions/{tx}/refund"))
    );
    assert!(page.contains("<span class=\"mark-unguaranteed\">Non garanti</span> (N)"), "{page}");
    // The mark follows the platform's indicator: only Y is guaranteed.
    sqlx::query("UPDATE transactions SET guarantee_indicator = 'Y' WHERE reference = $1")
        .bind(&tx)
        .execute(store.pool())
        .await
        .unwrap();
    let page = w.get(&format!("/invoices/{}", inv.id)).await.body;
    assert!(page.contains("<span class=\"mark-guaranteed\">Garanti</span> (Y)") && !page.contains("Non garanti"));
    // Refund is not allowed in TO_CAPTURE: the step says so and the POST is refused.
    let r = w.get(&format!("/transactions/{tx}/refund")).await;
    assert_eq!(r.status, 409);
    assert!(r.body.contains("pas possible sur une transaction « À remettre »"), "{}", r.body);
    assert!(!r.body.contains("name=\"confirm\"") && !r.body.contains("name=\"amount\""), "nothing to confirm");
    let r = w.post(&format!("/transactions/{tx}/refund"), &[("csrf", &r.csrf()), ("amount", "10")]).await;
    assert_eq!(r.status, 409);
    // Cancel part of it.
    let c = w.get(&format!("/transactions/{tx}/cancel")).await;
    assert!(c.body.contains("value=\"100.00\""), "the whole amount by default");
    let expected = c.input("expected").expect("the state shown");
    let r = w
        .post(&format!("/transactions/{tx}/cancel"), &[("csrf", &c.csrf()), ("expected", &expected), ("amount", "25")])
        .await;
    assert_eq!(r.status, 303);
    let t = store.transaction(&tx).await.unwrap().unwrap();
    assert_eq!((t.status.as_str(), t.current_amount), ("TO_CAPTURE", 7500));
    assert_eq!(store.history(&tx).await.unwrap().last().unwrap().actor, "extranet:merchant@a.test");
    // The operations journal names who did it and what the platform answered.
    let journal = w.get("/journal").await.body;
    assert!(journal.contains("href=\"/operations.csv\""), "{journal}");
    let ops = w.get("/operations.csv?format=csv-semicolon").await;
    assert_eq!(ops.status, 200);
    let line = ops.body.lines().nth(1).unwrap_or_default().to_string();
    assert!(line.contains(&format!(";{tx};cancel;2500;EUR;extranet:merchant@a.test;applied;00;")), "{}", ops.body);
    assert_eq!(w.get(&format!("/transactions/{tx}/duplicate")).await.status, 404);

    // Validation mode: validate, nothing else.
    let mut vm = fixtures::merchant(CaptureMode::Validation, 1, None);
    vm.name = "Validation SARL".into();
    let (vmerchant, _) = store.create_merchant(&vm).await.unwrap();
    store
        .create_user(&ivrpay::store::users::NewUser {
            email: "v@v.test".into(),
            role: ivrpay::store::users::Role::Merchant,
            merchant_id: Some(vmerchant.id.clone()),
            password: PASSWORD.into(),
        })
        .await
        .unwrap();
    let (vinv, vtx) = pay(&vmerchant, "V-1").await;
    let mut v = Web::new(s.addr());
    v.sign_in("v@v.test", PASSWORD).await;
    let page = v.get(&format!("/invoices/{}", vinv.id)).await.body;
    assert!(
        page.contains(&format!("/transactions/{vtx}/validate"))
            && !page.contains(&format!("/transactions/{vtx}/cancel"))
    );
    let c = v.get(&format!("/transactions/{vtx}/validate")).await;
    let form = [("csrf", c.csrf()), ("expected", c.input("expected").unwrap()), ("amount", "80,00".into())];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = v.post(&format!("/transactions/{vtx}/validate"), &form).await;
    assert_eq!(r.status, 303);
    let t = store.transaction(&vtx).await.unwrap().unwrap();
    assert_eq!((t.status.as_str(), t.current_amount), ("TO_CAPTURE", 8000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirmation_sent_twice_is_applied_once() {
    let s = site(false).await;
    let ctx = s.server.ctx();
    let store = &ctx.store;
    let inv = fixtures::stored_invoice(store, &s.merchant, "R-1", 10_000).await;
    let tx = match fixtures::pay(store, &ctx.gateway, &s.merchant, &inv, fixtures::ACCEPTED_CARD, "R-1").await.unwrap()
    {
        PaymentOutcome::Accepted(t) => t.reference,
        other => panic!("{other:?}"),
    };
    s.platform_clock.advance(std::time::Duration::from_secs(2 * 86_400));
    assert_eq!(store.run_capture(store.now_ms() + 2 * 86_400_000).await.unwrap(), (1, 0));
    let mut w = Web::new(s.addr());
    w.sign_in("merchant@a.test", PASSWORD).await;
    let refunded = || async { store.transaction(&tx).await.unwrap().unwrap().refunded_amount };

    // The same refund form, sent again (a double click, or the browser's "resend").
    let c = w.get(&format!("/transactions/{tx}/refund")).await;
    let (csrf, expected) = (c.csrf(), c.input("expected").unwrap());
    assert_eq!(expected, "CAPTURED/10000/0");
    let form = [("csrf", csrf.as_str()), ("expected", expected.as_str()), ("amount", "30")];
    let first = w.post(&format!("/transactions/{tx}/refund"), &form).await;
    assert_eq!(first.status, 303, "{}", first.body);
    let again = w.post(&format!("/transactions/{tx}/refund"), &form).await;
    assert_eq!(again.status, 409);
    assert!(again.body.contains("a changé depuis l&#39;affichage de cette page"), "{}", again.body);
    assert_eq!(refunded().await, 3000, "refunded once");
    // The answer shows the state as it is now; confirming from it is deliberate.
    assert_eq!(again.input("expected").as_deref(), Some("CAPTURED/10000/3000"));
    assert_eq!(again.input("next"), Some(format!("/transactions/{tx}/refund")), "the language switch stays here");
    // Without the state it was shown for, nothing is done either.
    let bare = w.post(&format!("/transactions/{tx}/refund"), &[("csrf", &csrf), ("amount", "30")]).await;
    assert_eq!((bare.status, refunded().await), (409, 3000));

    // Sent twice at once: one of them refunds.
    let c = w.get(&format!("/transactions/{tx}/refund")).await;
    let form = [("csrf", c.csrf()), ("expected", c.input("expected").unwrap()), ("amount", "10".into())];
    let mut both = tokio::task::JoinSet::new();
    for _ in 0..2 {
        let (mut w, form, path) =
            (Web { addr: w.addr, cookies: w.cookies.clone() }, form.clone(), format!("/transactions/{tx}/refund"));
        both.spawn(async move {
            let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
            w.post(&path, &form).await.status
        });
    }
    let mut statuses = both.join_all().await;
    statuses.sort();
    assert_eq!(statuses, [303, 409]);
    assert_eq!(refunded().await, 4000, "refunded once more");
    assert_eq!(
        store
            .history(&tx)
            .await
            .unwrap()
            .iter()
            .filter(|h| h.to_status == "CAPTURED" && h.amount == Some(1000))
            .count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn french_pages_say_the_core_errors_in_french_without_internals() {
    let s = site(false).await;
    let ctx = s.server.ctx();
    let store = &ctx.store;
    let mut w = Web::new(s.addr());
    w.sign_in("merchant@a.test", PASSWORD).await;
    // A short row in an import.
    let token = w.get("/import").await.csrf();
    let csv = "reference,amount,due_date,customer_name\r\nC-1,10\r\nC-2,12.50,2030-01-31,Luc Petit\r\n";
    let r = w.post("/import/valid-rows", &[("csrf", &token), ("content", csv)]).await;
    assert!(r.body.contains("<td>ligne</td><td>2 champ(s), l&#39;en-tête en a 4</td>"), "{}", r.body);
    // The platform down during a cash operation: said plainly, nothing changed.
    let inv = fixtures::stored_invoice(store, &s.merchant, "D-1", 5000).await;
    let tx = match fixtures::pay(store, &ctx.gateway, &s.merchant, &inv, fixtures::ACCEPTED_CARD, "D-1").await.unwrap()
    {
        PaymentOutcome::Accepted(t) => t.reference,
        other => panic!("{other:?}"),
    };
    let ivrpay::payments::gateway::Gateway::Simulator(sim) = &ctx.gateway else { panic!("the simulator") };
    let c = w.get(&format!("/transactions/{tx}/cancel")).await;
    sim.set_down(true);
    let form = [("csrf", c.csrf()), ("expected", c.input("expected").unwrap()), ("amount", "10".into())];
    let form: Vec<(&str, &str)> = form.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let r = w.post(&format!("/transactions/{tx}/cancel"), &form).await;
    sim.set_down(false);
    assert_eq!(r.status, 502);
    assert!(
        r.body.contains("La plateforme de paiement n&#39;a pas pu être jointe ; rien n&#39;a été modifié."),
        "{}",
        r.body
    );
    assert!(!r.body.contains("reached") && !r.body.contains("unavailable"), "no English, no internals: {}", r.body);
    assert_eq!(store.transaction(&tx).await.unwrap().unwrap().current_amount, 5000);
}

/// A call to pay `invoice` that ended with its card refused, as the phone line records it.
async fn refused_call(store: &ivrpay::store::Store, invoice_id: &str, transaction: Option<&str>) {
    let id = ivrpay::store::Store::new_call_id();
    let now = store.now_ms();
    store.call_started(&id, &format!("{id}@test"), "+33612345678", "pay", now).await.unwrap();
    let end = ivrpay::store::calls::CallEnd {
        answered_at: Some(now),
        ended_at: now + 1,
        end_reason: "bye".into(),
        outcome: "refused".into(),
        invoice_id: Some(invoice_id.into()),
        transaction_reference: transaction.map(str::to_string),
        ..Default::default()
    };
    store.call_ended(&id, &end).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_attempts_count_cards_our_checks_refused() {
    let s = site(false).await;
    let ctx = s.server.ctx();
    let store = &ctx.store;
    let inv = fixtures::stored_invoice(store, &s.merchant, "F-1", 4200).await;
    let theirs = fixtures::stored_invoice(store, &s.other_merchant, "F-2", 4200).await;
    // Refused by the bank: a REFUSED transaction, and its call names it.
    let refused = match fixtures::pay(store, &ctx.gateway, &s.merchant, &inv, "4100000000000605", "F-1").await.unwrap()
    {
        PaymentOutcome::Refused(t) => t.reference,
        other => panic!("{other:?}"),
    };
    refused_call(store, &inv.id, Some(&refused)).await;
    // Refused by our checks (a wrong expiry, say): only the call says so.
    refused_call(store, &inv.id, None).await;
    refused_call(store, &theirs.id, None).await;
    let mut w = Web::new(s.addr());
    w.sign_in("merchant@a.test", PASSWORD).await;
    let dash = w.get("/dashboard").await.body;
    assert!(dash.contains("id=\"refused-today\">2<"), "one by the bank, one by our checks: {dash}");
    assert_eq!(dash.matches("Refusée avant la banque").count(), 1, "{dash}");
    let page = w.get(&format!("/invoices/{}", inv.id)).await.body;
    let calls =
        page.split("id=\"refused-calls\"").nth(1).expect("the refused call listed").split("</section>").next().unwrap();
    assert_eq!(calls.matches("<li>").count(), 1, "{calls}");
    assert!(page.contains(&format!("id=\"tx-{refused}\"")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_language_follows_the_browser_then_the_user_choice() {
    let s = site(false).await;
    let mut w = Web::new(s.addr());
    let fr = w.get("/login").await;
    assert!(fr.body.contains("<html lang=\"fr\">") && fr.body.contains("Se connecter"));
    assert!(
        fr.body.contains("autocomplete=\"username\"") && fr.body.contains("autocomplete=\"current-password\""),
        "password managers fill the sign-in form"
    );
    let r = w.send("GET", "/login?lang=en", None, "").await;
    assert!(r.body.contains("<html lang=\"en\">") && r.body.contains("Sign in"));
    assert!(w.get("/login").await.body.contains("<html lang=\"en\">"), "kept in a cookie");
    w.sign_in("merchant@a.test", PASSWORD).await;
    assert!(w.get("/dashboard").await.body.contains("<h1>Dashboard</h1>"));
    let token = w.get("/dashboard").await.csrf();
    let r = w.post("/account/language", &[("csrf", &token), ("lang", "fr"), ("next", "/invoices")]).await;
    assert_eq!(r.header("location"), Some("/invoices"));
    // The choice is the user's, whatever the browser says next time.
    let mut again = Web::new(s.addr());
    again.sign_in("merchant@a.test", PASSWORD).await;
    again.cookies.insert("ivrpay_lang".into(), "en".into());
    assert!(again.get("/dashboard").await.body.contains("<h1>Tableau de bord</h1>"));
    // The switch comes back to the page as it was asked for, filters included.
    let list = w.get("/invoices?status=PAID&reference=A-1").await;
    let here = list.input("next").unwrap().replace("&#38;", "&").replace("&amp;", "&");
    assert_eq!(here, "/invoices?status=PAID&reference=A-1");
    let r = w.post("/account/language", &[("csrf", &token), ("lang", "en"), ("next", &here)]).await;
    assert_eq!(r.header("location"), Some(here.as_str()));
    // Never a redirect to another site.
    for evil in
        ["//evil.example/", "/\\evil.example", "/\t/evil.example", "/\r\n/evil.example", "https://evil.example/"]
    {
        let r = w.post("/account/language", &[("csrf", &token), ("lang", "en"), ("next", evil)]).await;
        assert_eq!(r.header("location"), Some("/"), "{evil:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_invoice_page_shows_each_notice_delivery_and_sends_one_again() {
    let s = site(false).await;
    let store = &s.server.ctx().store;
    // The merchant's endpoint is down: the running server tries and records the error.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", closed.local_addr().unwrap());
    drop(closed);
    sqlx::query("UPDATE merchants SET notification_url = $1 WHERE id = $2")
        .bind(&url)
        .bind(&s.merchant.id)
        .execute(store.pool())
        .await
        .unwrap();
    let inv = fixtures::stored_invoice(store, &s.merchant, "N-1", 10_000).await;
    let gw = s.server.ctx().gateway.clone();
    let tx = match fixtures::pay(store, &gw, &s.merchant, &inv, fixtures::ACCEPTED_CARD, "N-1").await.unwrap() {
        PaymentOutcome::Accepted(t) => t.reference,
        other => panic!("{other:?}"),
    };
    let mut tried = false;
    for _ in 0..100 {
        let log = store.notification_log(&s.merchant.id, Subject::Transaction(&tx)).await.unwrap();
        if log.first().is_some_and(|n| n.attempts >= 1) {
            tried = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(tried, "the delivery loop tried the dead endpoint");
    let id = store.notification_log(&s.merchant.id, Subject::Transaction(&tx)).await.unwrap()[0].id.clone();
    let mut w = Web::new(s.addr());
    w.sign_in("merchant@a.test", PASSWORD).await;
    let page = w.get(&format!("/invoices/{}", inv.id)).await;
    let body = &page.body;
    assert!(body.contains("Notifications envoyées au commerçant"), "{body}");
    assert!(body.contains(&format!("<tr id=\"ntf-{id}\">")) && body.contains("transaction.created"), "{body}");
    assert!(body.contains("<span class=\"status s-retrying\">nouvel essai prévu</span>"), "{body}");
    assert!(body.contains("prochain essai") && body.contains("connect"), "the error is shown: {body}");
    let action = format!("/transactions/{tx}/notifications/{id}/send-again");
    assert!(body.contains(&format!("action=\"{action}\"")), "{body}");
    // Without the form's token nothing happens; with it the notice is due now.
    let r = w.post(&action, &[("csrf", "forged")]).await;
    assert_eq!(r.status, 403);
    let r = w.post(&action, &[("csrf", &page.csrf())]).await;
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some(format!("/invoices/{}?done=send-again#tx-{tx}", inv.id).as_str()));
    let due = store.notification_log(&s.merchant.id, Subject::Transaction(&tx)).await.unwrap()[0].next_attempt_at;
    assert!(due <= store.now_ms(), "due now");
    let page = w.get(&format!("/invoices/{}?done=send-again", inv.id)).await;
    assert!(page.body.contains("La notification sera renvoyée dans quelques secondes."), "{}", page.body);
    // An unknown notice is not found.
    let unknown = format!("/transactions/{tx}/notifications/ntf-unknown/send-again");
    assert_eq!(w.post(&unknown, &[("csrf", &page.csrf())]).await.status, 404);

    // A cancelled invoice's own notice is on its page, and can be sent again too.
    let other = fixtures::stored_invoice(store, &s.merchant, "N-2", 10_000).await;
    store.cancel_invoice(&s.merchant.id, &other.id).await.unwrap();
    let log = store.notification_log(&s.merchant.id, Subject::Invoice(&other.id)).await.unwrap();
    assert_eq!(log.len(), 1, "{log:?}");
    assert_eq!(log[0].event, "invoice.cancelled");
    let page = w.get(&format!("/invoices/{}", other.id)).await;
    assert!(page.body.contains("id=\"invoice-notifications\"><h2>Notifications de la facture</h2>"), "{}", page.body);
    let action = format!("/invoices/{}/notifications/{}/send-again", other.id, log[0].id);
    assert!(page.body.contains(&format!("action=\"{action}\"")), "{}", page.body);
    let r = w.post(&action, &[("csrf", &page.csrf())]).await;
    assert_eq!(r.status, 303);
    assert_eq!(
        r.header("location"),
        Some(format!("/invoices/{}?done=send-again#invoice-notifications", other.id).as_str())
    );
}
