//! The extranet as people use it, in headless Chromium driven through chromedriver:
//! a merchant signs in, creates an invoice (after fixing the fields the form points
//! at), imports a CSV with one bad row, and once the customer has paid it by phone (a
//! real call to the server's payment line, placed by the `ivrpay call` binary) sees the
//! payment with its masked card and refunds it; an operator sees what is left to
//! record, listens to a prompt, replaces it, and the next caller of the same server
//! hears the new recording; an operator validates a broken dialplan (its line shown),
//! has its reload refused while the old version serves, reloads the fixed one, and
//! follows a call in progress and its record.
//! Every page is checked at phone and desktop widths, in French and English, and
//! photographed into `target/screenshots/`.

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
    b.check_layout("login", "fr").await;
    b.sign_in("merchant@a.test").await;
    assert_eq!(b.path().await, "/dashboard");
    assert_eq!(b.text("h1").await, "Tableau de bord");
    b.check_layout("dashboard-empty", "fr").await;

    // The invoice form shows each problem beside its field, and keeps what was typed.
    b.goto("/invoices/new").await;
    b.check_layout("invoice-form", "fr").await;
    b.fill("#f-reference", "FAC 2026/42").await;
    b.fill("#f-amount", "12x").await;
    b.fill("#f-customer_name", "Jeanne Martin").await;
    b.click("form button[type=submit]").await;
    assert_eq!(b.text("#e-reference").await, "jusqu'à 35 lettres, chiffres, « - » ou « _ »");
    assert_eq!(b.text("#e-amount").await, "saisissez un montant comme 123,45");
    assert_eq!(b.text("#e-due_date").await, "est obligatoire");
    assert!(!b.exists("#e-customer_name").await);
    assert_eq!(b.js("return document.querySelector('#f-customer_name').value").await, "Jeanne Martin");
    b.check_layout("invoice-form-errors", "fr").await;
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
    b.check_layout("invoice-created", "fr").await;

    // CSV import with one bad row: nothing imported, the row named; then the valid rows.
    let dir = tempdir("csv");
    let file = dir.join("factures.csv");
    std::fs::write(
        &file,
        "reference,amount,due_date,customer_name\nC-1,120.50,2030-01-31,Paul Durand\nC-2,abc,2030-01-31,Luc Petit\nC-3,99,2030-01-31,Marie Curie\n",
    )
    .unwrap();
    b.goto("/import").await;
    b.check_layout("import", "fr").await;
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
    b.check_layout("import-rejected", "fr").await;
    b.click("form[action='/import/valid-rows'] button[type=submit]").await;
    assert!(
        b.text("#import-summary").await.starts_with("2 facture(s) importée(s)"),
        "{}",
        b.text("#import-summary").await
    );
    assert_eq!(b.c.find_all(fantoccini::Locator::Css("#imported tbody tr")).await.unwrap().len(), 2);
    assert!(store.invoice_by_reference(&s.merchant.id, "C-3").await.unwrap().is_some());
    b.check_layout("import-done", "fr").await;

    // The list filters by status and reference.
    b.goto("/invoices?reference=C-3").await;
    assert_eq!(b.c.find_all(fantoccini::Locator::Css("#invoices tbody tr")).await.unwrap().len(), 1);
    b.goto("/invoices").await;
    assert_eq!(b.c.find_all(fantoccini::Locator::Css("#invoices tbody tr")).await.unwrap().len(), 3);
    b.check_layout("invoices", "fr").await;

    // The customer calls the payment line of this server and types French (1), the code
    // read from the slip, 1 to pay this invoice, the card, #, its expiry and security
    // code, then 1 once the summary has been heard (`;` waits for the end of a prompt:
    // the read-back and the summary drop keys typed while they play).
    let expiry = (chrono::Utc::now().date_naive() + chrono::Months::new(36)).format("%m%y");
    let dtmf = format!("1{code};1{}#{expiry}737;1", fixtures::ACCEPTED_CARD);
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_ivrpay"))
        .args(["call", &format!("sip:pay@{}", s.server.sip_addr()), "--dtmf", &dtmf, "--wait-for-bye"])
        .args(["--wait-ms", "800", "--digit-ms", "100", "--gap-ms", "120", "--hangup-after-ms", "1000"])
        .args(["--max-seconds", "150"])
        .output()
        .await
        .expect("ivrpay call runs");
    let summary = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(out.status.success(), "ivrpay call: {summary} {}", String::from_utf8_lossy(&out.stderr));
    assert!(!summary.contains(fixtures::ACCEPTED_CARD), "the card typed is never printed: {summary}");
    let field = |name: &str| {
        summary.split_whitespace().find_map(|kv| kv.strip_prefix(name)?.strip_prefix('=')).unwrap_or("").to_string()
    };
    assert_eq!(
        (field("status"), field("ended_by")),
        ("200".into(), "Server".into()),
        "the flow says goodbye: {summary}"
    );
    let call_id = field("call-id");
    let rec = common::completed_calls(store, 1).await.into_iter().find(|c| c.call_id == call_id).unwrap();
    assert_eq!(rec.outcome.as_deref(), Some("paid"), "{rec:?}");
    assert_eq!(rec.invoice_id.as_deref(), Some(inv.id.as_str()));
    let tx = store.transaction(rec.transaction_reference.as_deref().expect("a transaction")).await.unwrap().unwrap();
    assert_eq!(
        (tx.invoice_id.as_str(), tx.amount, tx.caller.as_deref()),
        (inv.id.as_str(), 12345, Some("ivrpay-caller"))
    );
    b.goto("/dashboard").await;
    assert_eq!(b.text("#payments-today").await, "1");
    assert_eq!(b.text("#invoices-waiting").await, "2");
    b.check_layout("dashboard", "fr").await;
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
    b.check_layout("invoice-paid", "fr").await;
    b.click(".tx .actions a[href$='/cancel']").await;
    assert!(b.exists("button[name=confirm]").await);
    b.check_layout("cancel-confirm", "fr").await;
    // Refund is not possible yet: its step says why and has nothing to confirm.
    b.goto(&format!("/transactions/{}/refund", tx.reference)).await;
    assert!(b.text(".error.banner").await.contains("pas possible"));
    assert!(!b.exists("button[name=confirm]").await && !b.exists("#f-amount").await);
    b.check_layout("refund-not-allowed", "fr").await;
    let c3 = store.invoice_by_reference(&s.merchant.id, "C-3").await.unwrap().unwrap();
    b.goto(&format!("/invoices/{}/cancel", c3.id)).await;
    b.check_layout("invoice-cancel-confirm", "fr").await;

    // Captured, it can be refunded: partly, then the rest, each after a confirmation.
    s.platform_clock.advance(std::time::Duration::from_secs(2 * 86_400)); // the platform captures too
    assert_eq!(store.run_capture(store.now_ms() + 2 * 86_400_000).await.unwrap(), (1, 0));
    b.goto(&format!("/invoices/{}", inv.id)).await;
    b.click(".tx .actions a[href$='/refund']").await;
    assert_eq!(b.js("return document.querySelector('#f-amount').value").await, "123.45");
    b.check_layout("refund-confirm", "fr").await;
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
    b.check_layout("invoice-refunded", "fr").await;

    // The journal lists it; the download link carries the range.
    let today = chrono::Utc::now().date_naive().to_string();
    b.goto(&format!("/journal?from={today}&to={today}")).await;
    assert!(b.text("#journal tbody").await.contains("410000######0100"));
    assert_eq!(
        b.js("return document.querySelector('#download').getAttribute('href')").await,
        format!("/journal.csv?from={today}&to={today}")
    );
    b.check_layout("journal", "fr").await;

    // English, and the same layout.
    b.click("button[name=lang][value=en]").await;
    assert_eq!(b.text("h1").await, "Transaction journal");
    assert_eq!(b.js("return document.documentElement.lang").await, "en");
    b.goto(&format!("/invoices/{}", inv.id)).await;
    assert_eq!(b.text(".mark-unguaranteed").await, "Not guaranteed");
    b.check_layout("invoice-refunded-en", "en").await;
    b.goto("/invoices/new").await;
    b.click("form button[type=submit]").await;
    assert_eq!(b.text("#e-reference").await, "is required");
    b.check_layout("invoice-form-errors-en", "en").await;
    b.goto(&format!("/journal?from={today}&to={today}")).await;
    b.check_layout("journal-en", "en").await;
    b.goto("/dashboard").await;
    assert_eq!(b.text("h1").await, "Dashboard");
    b.check_layout("dashboard-en", "en").await;
    b.goto("/import").await;
    b.check_layout("import-en", "en").await;
    b.click(".account button.link").await;
    assert_eq!(b.text("h1").await, "Sign in to the extranet");
    b.check_layout("login-en", "en").await;
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

/// Adds a prompt to a language's manifest, as whoever writes the flows does.
fn describe_prompt(prompts: &std::path::Path, lang: &str, name: &str, text: &str) {
    let path = prompts.join(lang).join("manifest.toml");
    let manifest = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{manifest}{name} = \"{text}\"\n")).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_records_what_is_missing_replaces_a_prompt_and_the_next_caller_hears_it() {
    let s = site(false).await;
    let b = browser(&s.url("")).await;
    b.sign_in("operator@x.test").await;
    assert_eq!(b.path().await, "/operator/prompts");
    assert_eq!(
        b.text("#to-record-summary").await,
        "Chaque message du manifeste fr/manifest.toml est enregistré dans cette langue."
    );
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
    b.check_layout("prompts", "fr").await;

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
    b.check_layout("prompts-refused", "fr").await;

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
    b.check_layout("prompts-replaced", "fr").await;

    // A new prompt in both manifests: each language lists it with the text to record and
    // what callers hear meanwhile.
    describe_prompt(&s.prompts, "fr", "closing_notice", "La ligne sera fermée le 25 décembre.");
    describe_prompt(&s.prompts, "en", "closing_notice", "The line will be closed on 25 December.");
    b.goto("/operator/prompts?lang=fr").await;
    assert_eq!(
        b.text("#to-record-summary").await,
        "1 message(s) du manifeste fr/manifest.toml sans enregistrement dans cette langue :"
    );
    let missing = b.text("#missing-closing_notice").await;
    assert!(missing.contains("La ligne sera fermée le 25 décembre."), "{missing}");
    assert!(missing.contains("aucun enregistrement dans aucune langue"), "{missing}");
    b.check_layout("prompts-to-record", "fr").await;
    // Recorded from its row (the list links to it), it is in force for new calls at once.
    assert_eq!(
        b.js("return document.querySelector('#missing-closing_notice a').getAttribute('href')").await,
        "#prompt-closing_notice"
    );
    b.c.find(fantoccini::Locator::Css("#prompt-closing_notice input[type=file]"))
        .await
        .unwrap()
        .send_keys(dir.join("welcome16k.wav").to_str().unwrap())
        .await
        .unwrap();
    b.click("#prompt-closing_notice button[type=submit]").await;
    let notice = b.text("#prompt-notice").await;
    assert!(notice.contains("Les nouveaux appels l'entendent dès maintenant"), "{notice}");
    assert!(!b.exists("#missing-closing_notice").await);
    assert!(s.server.ctx().prompts.current().has("fr", "closing_notice"));
    b.goto("/operator/prompts?lang=en").await;
    let missing = b.text("#missing-closing_notice").await;
    assert!(missing.contains("The line will be closed on 25 December."), "{missing}");
    assert!(missing.contains("en attendant, la version fr est jouée"), "{missing}");
    b.check_layout("prompts-to-record-en", "fr").await;
    b.c.clone().close().await.unwrap();

    // The next caller of the same server hears the new recording, without a restart.
    let wav = dir.join("heard.wav");
    let opts = CallOptions {
        target: format!("sip:echo@{}", s.server.sip_addr()),
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

/// A call to `number` that types nothing and hangs up after `hangup_after_ms`.
fn quiet_call(s: &pages_support::Site, number: &str, hangup_after_ms: u64) -> CallOptions {
    CallOptions {
        target: format!("sip:{number}@{}", s.server.sip_addr()),
        from_user: "+33612345678".into(),
        wait: Duration::from_millis(300),
        hangup_after: Duration::from_millis(hangup_after_ms),
        ..CallOptions::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_validates_and_reloads_a_dialplan_and_follows_the_calls() {
    let s = site(false).await;
    let ctx = s.server.ctx().clone();
    let store = &ctx.store;
    let b = browser(&s.url("")).await;
    b.sign_in("operator@x.test").await;
    let menu = b.js("return [...document.querySelectorAll('.top nav a')].map(a => a.getAttribute('href'))").await;
    assert_eq!(menu, serde_json::json!(["/operator/prompts", "/operator/dialplans", "/operator/calls"]));

    // The flows in force.
    b.click(".top nav a[href='/operator/dialplans']").await;
    let v1 = ctx.dialplans.current().plans()[0].version.clone();
    let steps = ctx.dialplans.current().plans()[0].steps.len();
    assert_eq!(b.text("#flow-invoice-payment .numbers").await, "pay, 3900");
    assert_eq!(b.text("#flow-invoice-payment .file").await, "invoice-payment.toml");
    assert_eq!(b.text("#flow-invoice-payment .version").await, v1);
    assert_eq!(b.text("#flow-invoice-payment .steps").await, steps.to_string());
    b.check_layout("dialplans", "fr").await;
    b.click("#flow-invoice-payment a.file").await;
    let file = s.dialplans.join("invoice-payment.toml");
    let shipped = std::fs::read_to_string(&file).unwrap();
    assert_eq!(b.text("#L1 code").await, shipped.lines().next().unwrap().trim_end());
    assert_eq!(b.js("return document.querySelectorAll('#source tbody tr').length").await, shipped.lines().count());
    assert_eq!((b.text("#version-in-force").await, b.text("#version-on-disk").await), (v1.clone(), v1.clone()));
    assert!(b.exists("#file-clean").await && !b.exists("#edited").await);
    b.check_layout("dialplan-file", "fr").await;

    // A bad edit: "validate" shows its file and line, changing nothing.
    let bad = shipped.replace("next = \"choose_language\"", "next = \"nowhere\"");
    let line = bad.lines().position(|l| l.contains("next = \"nowhere\"")).unwrap() + 1;
    std::fs::write(&file, &bad).unwrap();
    b.goto("/operator/dialplans").await;
    b.click("#validate").await;
    assert_eq!(b.text("#report-summary").await, "1 problème(s) : un rechargement serait refusé.");
    let problem = b.text("#problems li").await;
    assert!(problem.starts_with(&format!("invoice-payment.toml:{line} — ")), "{problem}");
    assert!(problem.contains("nowhere"), "{problem}");
    assert_eq!(ctx.dialplans.current().plans()[0].version, v1, "validating changes nothing");
    b.check_layout("dialplans-invalid", "fr").await;
    // Its link opens the file at that line, the problem under it.
    b.click("#problems li a").await;
    assert_eq!(b.c.current_url().await.unwrap().fragment(), Some(format!("L{line}").as_str()));
    assert!(b.exists(&format!("#L{line}.bad")).await);
    assert!(b.text(&format!("#L{line} .error")).await.contains("nowhere"));
    assert!(b.exists("#edited").await, "the file on disk is not the version in force");
    b.check_layout("dialplan-file-invalid", "fr").await;

    // "Reload" refuses it; the old version keeps answering calls.
    b.goto("/operator/dialplans").await;
    b.click("#reload button").await;
    assert_eq!(
        b.text("#report-summary").await,
        "Rechargement refusé, 1 problème(s) : les versions en service continuent de servir."
    );
    assert!(b.text("#problems li").await.starts_with(&format!("invoice-payment.toml:{line} — ")));
    assert_eq!(b.text("#flow-invoice-payment .version").await, v1);
    b.check_layout("dialplans-refused", "fr").await;
    let served = caller::run(&quiet_call(&s, "pay", 300)).await.unwrap();
    assert_eq!(served.status, 200, "{served}");
    let rec = common::completed_calls(store, 1).await;
    assert_eq!(rec[0].flow_version.as_deref(), Some(v1.as_str()), "served by the version in force");

    // Fixed (and answering one more number): valid, then in force.
    let fixed = shipped.replace("\"3900\"", "\"3900\", \"3901\"");
    std::fs::write(&file, &fixed).unwrap();
    b.click("#validate").await;
    assert_eq!(b.text("#report-summary").await, "Valide : un rechargement mettrait en service les versions suivantes.");
    let validated = b.text("#validated tbody tr").await;
    assert!(validated.contains("(nouvelle version)"), "{validated}");
    b.click("#reload button").await;
    assert_eq!(b.path().await, "/operator/dialplans");
    assert_eq!(
        b.text("#dialplan-notice").await,
        "Scénarios rechargés : les nouveaux appels utilisent les versions ci-dessous."
    );
    let v2 = ctx.dialplans.current().plans()[0].version.clone();
    assert_ne!(v2, v1);
    assert!(validated.contains(&v2), "validation showed the version the reload put in force: {validated}");
    assert_eq!(b.text("#flow-invoice-payment .version").await, v2);
    assert_eq!(b.text("#flow-invoice-payment .numbers").await, "pay, 3900, 3901");
    b.check_layout("dialplans-reloaded", "fr").await;

    // A call in progress on the new number, with the step its caller is in.
    let long = tokio::spawn(caller::run_owned(quiet_call(&s, "3901", 8000)));
    let mut live = Vec::new();
    for _ in 0..100 {
        live = ctx.env.live.snapshot();
        if live.iter().any(|c| !c.step.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(live.iter().any(|c| c.service == "3901" && !c.step.is_empty()), "{live:?}");
    b.click(".top nav a[href='/operator/calls']").await;
    assert_eq!(b.c.find_all(fantoccini::Locator::Css("#live tbody tr")).await.unwrap().len(), 1);
    assert_eq!(b.text("#live .caller").await, "+33612345678");
    assert_eq!(b.text("#live .service").await, "3901");
    let step = b.text("#live .step").await;
    assert!(ctx.dialplans.current().plans()[0].step_id(&step).is_some(), "a step of the flow: {step}");
    b.check_layout("calls-live", "fr").await;

    // Once ended, its record, found with the filters.
    let ended = long.await.unwrap().unwrap();
    assert_eq!(ended.status, 200, "{ended}");
    let records = common::completed_calls(store, 2).await;
    let rec = records.iter().find(|c| c.call_id == ended.call_id).expect("recorded");
    assert_eq!(rec.outcome.as_deref(), Some("abandoned"));
    b.goto("/operator/calls").await;
    assert!(b.exists("#no-live").await, "no call in progress any more");
    b.find("#f-outcome").await.select_by_value("abandoned").await.unwrap();
    b.fill("#f-service", "3901").await;
    b.click("form.filters button[type=submit]").await;
    assert_eq!(b.c.find_all(fantoccini::Locator::Css("#records tbody tr")).await.unwrap().len(), 1);
    let row = format!("#records tr[data-call-id='{}']", ended.call_id);
    assert_eq!(b.text(&format!("{row} .service")).await, "3901");
    assert_eq!(b.text(&format!("{row} .caller")).await, "+33612345678");
    assert_eq!(b.text(&format!("{row} .outcome")).await, "Abandonné");
    assert_eq!(b.text(&format!("{row} .flow")).await, format!("invoice-payment · {v2}"));
    assert_eq!(b.text(&format!("{row} .language")).await, "fr");
    assert_eq!(b.text(&format!("{row} .steps summary")).await, format!("{} étape(s)", rec.steps.len()));
    let duration = b.text(&format!("{row} .duration")).await;
    assert!(duration.ends_with(" s") && duration != "0 s", "{duration}");
    b.check_layout("calls-records", "fr").await;
    // Both calls were abandoned; neither was paid.
    b.goto("/operator/calls?outcome=abandoned").await;
    assert_eq!(b.c.find_all(fantoccini::Locator::Css("#records tbody tr")).await.unwrap().len(), 2);
    b.goto("/operator/calls?outcome=paid").await;
    assert!(b.exists("#no-records").await);
    b.goto("/operator/calls?outcome=abandoned").await;
    b.click("button[name=lang][value=en]").await;
    assert_eq!(b.text("h1").await, "Calls");
    assert_eq!(b.text(&format!("{row} .outcome")).await, "Abandoned");
    b.check_layout("calls-records-en", "en").await;
    b.goto("/operator/prompts").await;
    b.check_layout("prompts-en", "en").await;
    b.goto("/operator/dialplans").await;
    b.check_layout("dialplans-en", "en").await;
    b.c.clone().close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_creates_a_merchant_and_its_first_user() {
    let s = site(false).await;
    let store = &s.server.ctx().store;
    let b = browser(&s.url("")).await;
    b.sign_in("admin@x.test").await;
    assert_eq!(b.path().await, "/admin/users");
    b.check_layout("admin-users", "fr").await;

    b.goto("/admin/merchants").await;
    b.fill("#f-name", "Menuiserie Leroy").await;
    b.fill("#f-capture_day", "9").await;
    b.click("form[action='/admin/merchants'] button[type=submit]").await;
    assert_eq!(b.text("#e-phone").await, "est obligatoire");
    assert_eq!(b.text("#e-capture_day").await, "un nombre de 0 à 6");
    b.fill("#f-phone", "+33 9 70 11 22 33").await;
    b.fill("#f-capture_day", "2").await;
    // The store's own checks land beside their fields too.
    b.fill("#f-brands", "VISA, BOGUS").await;
    b.fill("#f-notification_url", "ftp://leroy.test/hook").await;
    b.click("form[action='/admin/merchants'] button[type=submit]").await;
    assert!(b.text("#e-brands").await.starts_with("marque inconnue"));
    assert_eq!(b.text("#e-notification_url").await, "une adresse complète en http:// ou https://");
    b.fill("#f-brands", "CB, VISA").await;
    b.fill("#f-notification_url", "https://leroy.test/ivrpay").await;
    b.click("form[action='/admin/merchants'] button[type=submit]").await;
    let id = b.text("#new-merchant-id").await;
    let key = b.text("#api-key").await;
    assert_eq!(store.merchant_by_api_key(&key).await.unwrap().map(|m| m.id), Some(id.clone()), "the key shown works");
    let secret = b.text("#notification-secret").await;
    assert_eq!(store.notification_secret(&id).await.unwrap(), Some(secret), "the secret shown is the one that signs");
    b.check_layout("admin-merchants", "fr").await;

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
    b.check_layout("admin-users-created", "fr").await;
    b.click("button[name=lang][value=en]").await;
    assert_eq!(b.text("h1").await, "Users");
    b.check_layout("admin-users-en", "en").await;
    b.goto("/admin/merchants").await;
    b.check_layout("admin-merchants-en", "en").await;
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
