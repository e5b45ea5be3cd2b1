//! The extranet as people use it, in headless Chromium driven through chromedriver:
//! a merchant signs in, creates an invoice (after fixing the fields the form points
//! at), imports a CSV with one bad row, sees a payment appear with its masked card and
//! refunds it; an operator listens to a prompt, replaces it, and a caller hears the new
//! recording. Every page is checked at phone and desktop widths and photographed into
//! `target/screenshots/`.

mod common;
mod pages_support;

use common::fixtures;
use ivrpay::caller::{self, CallOptions};
use ivrpay::media::g711;
use pages_support::{browser, site, tempdir};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merchant_creates_imports_sees_a_payment_and_refunds_it() {
    let s = site(true).await; // the default: Secure cookies, which browsers accept from loopback
    let store = &s.server.ctx().store;
    let b = browser(&s.url("")).await;

    // Sign in (French from the browser's Accept-Language).
    b.goto("/login").await;
    b.check_layout("login").await;
    b.sign_in("merchant@a.test").await;
    assert_eq!(b.path().await, "/dashboard");
    assert_eq!(b.text("h1").await, "Tableau de bord");
    b.check_layout("dashboard-empty").await;

    // The invoice form shows each problem beside its field, and keeps what was typed.
    b.goto("/invoices/new").await;
    b.fill("#f-reference", "FAC 2026/42").await;
    b.fill("#f-amount", "12x").await;
    b.fill("#f-customer_name", "Jeanne Martin").await;
    b.click("form button[type=submit]").await;
    assert_eq!(b.text("#e-reference").await, "jusqu'à 35 lettres, chiffres, « - » ou « _ »");
    assert_eq!(b.text("#e-amount").await, "saisissez un montant comme 123,45");
    assert_eq!(b.text("#e-due_date").await, "est obligatoire");
    assert!(!b.exists("#e-customer_name").await);
    assert_eq!(b.js("return document.querySelector('#f-customer_name').value").await, "Jeanne Martin");
    b.check_layout("invoice-form-errors").await;
    b.fill("#f-reference", "FAC-2026-0042").await;
    b.fill("#f-amount", "123,45").await;
    // The date picker's typing order follows the browser's locale; set its value instead.
    b.js("document.querySelector('#f-due_date').value = '2030-12-31'; return null").await;
    b.click("form button[type=submit]").await;
    assert!(b.path().await.ends_with("/created"), "{}", b.path().await);
    let code = b.text("#payment-code").await.replace(' ', "");
    assert_eq!(b.text("#phone-number").await, "+33970000000");
    let inv = store.invoice_by_reference(&s.merchant.id, "FAC-2026-0042").await.unwrap().expect("created");
    assert_eq!(
        (inv.amount, inv.payment_code.as_str(), inv.due_date.to_string().as_str()),
        (12345, code.as_str(), "2030-12-31")
    );
    let message = b.js("return document.querySelector('#message').value").await;
    assert!(message.as_str().unwrap().contains(&b.text("#payment-code").await), "{message}");
    b.check_layout("invoice-created").await;

    // CSV import with one bad row: nothing imported, the row named; then the valid rows.
    let dir = tempdir("csv");
    let file = dir.join("factures.csv");
    std::fs::write(
        &file,
        "reference,amount,due_date,customer_name\nC-1,120.50,2030-01-31,Paul Durand\nC-2,abc,2030-01-31,Luc Petit\nC-3,99,2030-01-31,Marie Curie\n",
    )
    .unwrap();
    b.goto("/import").await;
    b.check_layout("import").await;
    b.c.find(fantoccini::Locator::Css("#f-file")).await.unwrap().send_keys(file.to_str().unwrap()).await.unwrap();
    b.click("form button[type=submit]").await;
    assert!(
        b.text("#import-summary").await.contains("Rien n'a été importé : 1 erreur"),
        "{}",
        b.text("#import-summary").await
    );
    let row = b.text("#rejected tbody tr").await;
    assert!(row.starts_with("3 amount") && row.contains("« abc » n'est pas un montant en EUR"), "{row}");
    assert!(store.invoice_by_reference(&s.merchant.id, "C-1").await.unwrap().is_none(), "nothing half-imported");
    b.check_layout("import-rejected").await;
    b.click("form[action='/import/valid-rows'] button[type=submit]").await;
    assert!(
        b.text("#import-summary").await.starts_with("2 facture(s) importée(s)"),
        "{}",
        b.text("#import-summary").await
    );
    assert_eq!(b.c.find_all(fantoccini::Locator::Css("#imported tbody tr")).await.unwrap().len(), 2);
    assert!(store.invoice_by_reference(&s.merchant.id, "C-3").await.unwrap().is_some());
    b.check_layout("import-done").await;

    // The list filters by status and reference.
    b.goto("/invoices?reference=C-3").await;
    assert_eq!(b.c.find_all(fantoccini::Locator::Css("#invoices tbody tr")).await.unwrap().len(), 1);
    b.goto("/invoices").await;
    assert_eq!(b.c.find_all(fantoccini::Locator::Css("#invoices tbody tr")).await.unwrap().len(), 3);
    b.check_layout("invoices").await;

    // A card payment is taken (through the payments core until the phone flow lands).
    // TODO(call-flow): pay with `ivrpay call` typing the code and card once the payment
    // dialplan answers calls.
    let gw = s.server.ctx().gateway.clone();
    let tx = match fixtures::pay(store, &gw, &s.merchant, &inv, fixtures::ACCEPTED_CARD, "browser-1").await.unwrap() {
        ivrpay::payments::authorize::PaymentOutcome::Accepted(t) => t,
        other => panic!("{other:?}"),
    };
    b.goto("/dashboard").await;
    assert_eq!(b.text("#payments-today").await, "1");
    assert_eq!(b.text("#invoices-waiting").await, "2");
    b.check_layout("dashboard").await;
    b.goto(&format!("/invoices/{}", inv.id)).await;
    let card = b.text(&format!("#tx-{} .pan", tx.reference)).await;
    assert_eq!(card, "410000######0100");
    assert!(!b.c.source().await.unwrap().contains(fixtures::ACCEPTED_CARD), "never the full number");
    assert_eq!(b.text(".mark-unguaranteed").await, "Non garanti");
    assert_eq!(b.text("#invoice-status").await, "Payée");
    // TO_CAPTURE: cancel is offered, refund is not.
    let ops = b
        .js("return [...document.querySelectorAll('.tx .actions a')].map(a => a.getAttribute('href').split('/').pop())")
        .await;
    assert_eq!(ops, serde_json::json!(["cancel"]));
    b.check_layout("invoice-paid").await;

    // Captured, it can be refunded: partly, then the rest, each after a confirmation.
    if let ivrpay::payments::gateway::Gateway::Simulator(sim) = &s.server.ctx().gateway {
        sim.advance(std::time::Duration::from_secs(2 * 86_400)); // the platform captures too
    }
    assert_eq!(store.run_capture(ivrpay::store::now_ms() + 2 * 86_400_000).await.unwrap(), (1, 0));
    b.goto(&format!("/invoices/{}", inv.id)).await;
    b.click(".tx .actions a[href$='/refund']").await;
    assert_eq!(b.js("return document.querySelector('#f-amount').value").await, "123.45");
    b.check_layout("refund-confirm").await;
    b.fill("#f-amount", "200").await;
    b.click("button[name=confirm]").await;
    assert_eq!(b.text("#e-amount").await, "le montant doit être compris entre 0,01 EUR et 123,45 EUR");
    b.fill("#f-amount", "23,45").await;
    b.click("button[name=confirm]").await;
    assert_eq!(b.text(".notice").await, "Remboursement enregistré.");
    assert_eq!(store.transaction(&tx.reference).await.unwrap().unwrap().refunded_amount, 2345);
    b.click(".tx .actions a[href$='/refund']").await;
    b.click("button[name=confirm]").await;
    let t = store.transaction(&tx.reference).await.unwrap().unwrap();
    assert_eq!((t.status.as_str(), t.refunded_amount), ("CREDITED", 12345));
    let history =
        b.js("return [...document.querySelectorAll('.history tbody tr')].map(r => r.cells[3].textContent)").await;
    assert_eq!(
        history,
        serde_json::json!(["ivr", "ivr", "capture-run", "extranet:merchant@a.test", "extranet:merchant@a.test"])
    );
    assert!(b.exists(".tx .status.s-credited").await);
    assert!(!b.exists(".tx .actions").await, "nothing more to do on a refunded transaction");
    b.check_layout("invoice-refunded").await;

    // The journal lists it; the download link carries the range.
    let today = chrono::Utc::now().date_naive().to_string();
    b.goto(&format!("/journal?from={today}&to={today}")).await;
    assert!(b.text("#journal tbody").await.contains("410000######0100"));
    assert_eq!(
        b.js("return document.querySelector('#download').getAttribute('href')").await,
        format!("/journal.csv?from={today}&to={today}")
    );
    b.check_layout("journal").await;

    // English, and the same layout.
    b.click("button[name=lang][value=en]").await;
    assert_eq!(b.text("h1").await, "Transaction journal");
    assert_eq!(b.js("return document.documentElement.lang").await, "en");
    b.goto(&format!("/invoices/{}", inv.id)).await;
    assert_eq!(b.text(".mark-unguaranteed").await, "Not guaranteed");
    b.check_layout("invoice-refunded-en").await;
    b.goto("/invoices/new").await;
    b.click("form button[type=submit]").await;
    assert_eq!(b.text("#e-reference").await, "is required");
    b.check_layout("invoice-form-errors-en").await;
    b.c.clone().close().await.unwrap();
}

/// A recognisable recording: two tones, 16 kHz stereo, as an operator's tool would save.
fn tone_wav(path: &std::path::Path) {
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for i in 0..24_000 {
        let t = i as f32 / 16_000.0;
        let v = ((t * 440.0 * std::f32::consts::TAU).sin() * 9000.0
            + (t * 660.0 * std::f32::consts::TAU).sin() * 6000.0) as i16;
        w.write_sample(v).unwrap();
        w.write_sample(v).unwrap();
    }
    w.finalize().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_replaces_a_prompt_and_a_caller_hears_it() {
    let s = site(false).await;
    let b = browser(&s.url("")).await;
    b.sign_in("operator@x.test").await;
    assert_eq!(b.path().await, "/operator/prompts");
    // The browser plays what callers hear: 8 kHz WAV decoded by Chromium itself.
    let duration = b
        .c
        .execute_async(
            "const done = arguments[arguments.length - 1]; const a = document.querySelector('#prompt-echo_welcome audio');
             a.addEventListener('loadedmetadata', () => done(a.duration)); a.addEventListener('error', () => done(-1));
             a.preload = 'auto'; a.load();",
            vec![],
        )
        .await
        .unwrap();
    assert!(duration.as_f64().unwrap() > 0.5, "audio element plays the prompt: {duration}");
    b.check_layout("prompts").await;

    // Something that is not a WAV is refused beside its prompt, and nothing changes.
    let dir = tempdir("upload");
    let before = std::fs::read(s.prompts.join("fr/echo_welcome.wav")).unwrap();
    std::fs::write(dir.join("notes.wav"), "this is not audio").unwrap();
    let input = "#prompt-echo_welcome input[type=file]";
    b.c.find(fantoccini::Locator::Css(input))
        .await
        .unwrap()
        .send_keys(dir.join("notes.wav").to_str().unwrap())
        .await
        .unwrap();
    b.click("#prompt-echo_welcome button[type=submit]").await;
    let err = b.text("#error-echo_welcome").await;
    assert!(err.starts_with("Refusé : ce n'est pas un fichier WAV lisible"), "{err}");
    assert_eq!(std::fs::read(s.prompts.join("fr/echo_welcome.wav")).unwrap(), before);
    b.check_layout("prompts-refused").await;

    // A 16 kHz stereo recording is converted to 8 kHz mono 16-bit and replaces it.
    tone_wav(&dir.join("welcome16k.wav"));
    b.c.find(fantoccini::Locator::Css(input))
        .await
        .unwrap()
        .send_keys(dir.join("welcome16k.wav").to_str().unwrap())
        .await
        .unwrap();
    b.click("#prompt-echo_welcome button[type=submit]").await;
    let notice = b.text("#prompt-notice").await;
    assert!(notice.contains("1,5 s, converti de 16000 Hz stereo 16 bits en 8000 Hz mono 16 bits"), "{notice}");
    let r = hound::WavReader::open(s.prompts.join("fr/echo_welcome.wav")).unwrap();
    assert_eq!(
        (r.spec().sample_rate, r.spec().channels, r.spec().bits_per_sample, r.duration()),
        (8000, 1, 16, 12_000)
    );
    let expected = ivrpay::ivr::prompts::read_wav_8k_mono(&dir.join("welcome16k.wav")).unwrap();
    let stored: Vec<i16> = r.into_samples::<i16>().map(Result::unwrap).collect();
    assert_eq!(stored, expected, "converted by the phone line's own reader");
    b.check_layout("prompts-replaced").await;
    b.c.clone().close().await.unwrap();

    // A caller hears the new recording.
    // TODO(call-flow): with a swappable prompt library in the server context, this call
    // goes to the running server instead of one started on the same prompts.
    let mut c = common::config();
    c.prompts.dir = s.prompts.clone();
    let line = common::start(c).await;
    let wav = dir.join("heard.wav");
    let opts = CallOptions {
        target: format!("sip:echo@{}", line.sip_addr()),
        record: Some(wav.clone()),
        wait: Duration::from_millis(2000),
        hangup_after: Duration::from_millis(0),
        ..CallOptions::default()
    };
    let summary = caller::run(&opts).await.expect("call completes");
    assert_eq!(summary.status, 200, "{summary}");
    let codec = summary.codec.expect("negotiated");
    // What the phone line plays: the stored file as its prompt loader reads it.
    let played = ivrpay::ivr::prompts::read_wav_8k_mono(&s.prompts.join("fr/echo_welcome.wav")).unwrap();
    let mut enc = vec![0u8; played.len()];
    g711::encode_frame(codec, &played, &mut enc);
    let mut heard_pcm = vec![0i16; enc.len()];
    g711::decode_frame(codec, &enc, &mut heard_pcm);
    let recorded: Vec<i16> = hound::WavReader::open(&wav).unwrap().into_samples::<i16>().map(Result::unwrap).collect();
    assert!(common::find(&recorded, &heard_pcm[..4000], 0).is_some(), "the caller hears the uploaded recording");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_creates_a_merchant_and_its_first_user() {
    let s = site(false).await;
    let store = &s.server.ctx().store;
    let b = browser(&s.url("")).await;
    b.sign_in("admin@x.test").await;
    assert_eq!(b.path().await, "/admin/users");
    b.check_layout("admin-users").await;

    b.goto("/admin/merchants").await;
    b.fill("#f-name", "Menuiserie Leroy").await;
    b.fill("#f-capture_day", "9").await;
    b.click("form[action='/admin/merchants'] button[type=submit]").await;
    assert_eq!(b.text("#e-phone").await, "est obligatoire");
    assert_eq!(b.text("#e-capture_day").await, "un nombre de 0 à 6");
    b.fill("#f-phone", "+33 9 70 11 22 33").await;
    b.fill("#f-capture_day", "2").await;
    b.click("form[action='/admin/merchants'] button[type=submit]").await;
    let id = b.text("#new-merchant-id").await;
    let key = b.text("#api-key").await;
    assert_eq!(store.merchant_by_api_key(&key).await.unwrap().map(|m| m.id), Some(id.clone()), "the key shown works");
    b.check_layout("admin-merchants").await;

    b.goto("/admin/users").await;
    b.fill("#f-email", "compta@leroy.fr").await;
    b.fill("#f-password", "short").await;
    b.click("form[action='/admin/users'] button[type=submit]").await;
    assert_eq!(b.text("#e-password").await, "12 à 128 caractères");
    assert_eq!(b.text("#e-merchant").await, "choisissez un commerçant pour le rôle commerçant, aucun sinon");
    b.find("#f-merchant").await.select_by_value(&id).await.unwrap();
    b.fill("#f-password", "a long enough password").await;
    b.click("form[action='/admin/users'] button[type=submit]").await;
    assert_eq!(b.text(".notice").await, "Utilisateur compta@leroy.fr créé.");
    assert!(b.text("#users").await.contains("Menuiserie Leroy"));
    b.check_layout("admin-users-created").await;
    b.click(".account button.link").await;
    assert_eq!(b.path().await, "/login");

    // The new user signs in and sees its merchant's (empty) dashboard.
    b.fill("#f-email", "compta@leroy.fr").await;
    b.fill("#f-password", "a long enough password").await;
    b.click("form button[type=submit]").await;
    assert_eq!(b.path().await, "/dashboard");
    assert_eq!(b.text("#invoices-waiting").await, "0");
    b.c.clone().close().await.unwrap();
}
