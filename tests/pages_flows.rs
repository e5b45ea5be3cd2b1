//! Page flows that need no browser, over real HTTP: the invoice list a page at a time,
//! cancelling an invoice and a transaction after their confirmation step, validating in
//! validation mode, operations the status does not allow, and the language switch.

mod common;
mod pages_support;

use common::fixtures;
use ivrpay::payments::authorize::PaymentOutcome;
use ivrpay::store::merchants::CaptureMode;
use pages_support::{site, Web, PASSWORD};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoices_a_page_at_a_time_and_cancelled_after_confirmation() {
    let s = site(false).await;
    let store = &s.server.ctx().store;
    for i in 0..25 {
        fixtures::stored_invoice(store, &s.merchant, &format!("P-{i:02}"), 1000 + i).await;
    }
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
    // Refund is not allowed in TO_CAPTURE: the step says so and the POST is refused.
    let r = w.get(&format!("/transactions/{tx}/refund")).await;
    assert_eq!(r.status, 409);
    assert!(r.body.contains("pas possible sur une transaction « À remettre »"), "{}", r.body);
    let r = w.post(&format!("/transactions/{tx}/refund"), &[("csrf", &r.csrf()), ("amount", "10")]).await;
    assert_eq!(r.status, 409);
    // Cancel part of it.
    let c = w.get(&format!("/transactions/{tx}/cancel")).await;
    assert!(c.body.contains("value=\"100.00\""), "the whole amount by default");
    let r = w.post(&format!("/transactions/{tx}/cancel"), &[("csrf", &c.csrf()), ("amount", "25")]).await;
    assert_eq!(r.status, 303);
    let t = store.transaction(&tx).await.unwrap().unwrap();
    assert_eq!((t.status.as_str(), t.current_amount), ("TO_CAPTURE", 7500));
    assert_eq!(store.history(&tx).await.unwrap().last().unwrap().actor, "extranet:merchant@a.test");
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
    let r = v.post(&format!("/transactions/{vtx}/validate"), &[("csrf", &c.csrf()), ("amount", "80,00")]).await;
    assert_eq!(r.status, 303);
    let t = store.transaction(&vtx).await.unwrap().unwrap();
    assert_eq!((t.status.as_str(), t.current_amount), ("TO_CAPTURE", 8000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_language_follows_the_browser_then_the_user_choice() {
    let s = site(false).await;
    let mut w = Web::new(s.addr());
    let fr = w.get("/login").await;
    assert!(fr.body.contains("<html lang=\"fr\">") && fr.body.contains("Se connecter"));
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
    // Never a redirect to another site.
    let r = w.post("/account/language", &[("csrf", &token), ("lang", "en"), ("next", "//evil.example/")]).await;
    assert_eq!(r.header("location"), Some("/"));
}
