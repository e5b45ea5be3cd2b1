//! Extranet accounts in storage, on SQLite and PostgreSQL: users and their rules,
//! sessions stored as hashes that end on expiry, sign-out, password change and
//! disabling, sign-in throttling counters, and the read-only summaries of the pages.

mod common;

use common::{fixtures, TestDb};
use ivrpay::payments::merchant::CaptureMode;
use ivrpay::store::login_throttle::{Attempt, ThrottleKey};
use ivrpay::store::users::{NewUser, Role, UserError};
use ivrpay::store::Store;

async fn accounts(store: &Store, db: &str) {
    let (m, _) = store.create_merchant(&fixtures::merchant(CaptureMode::AuthorCapture, 0, None)).await.unwrap();
    let new = |email: &str, role, merchant_id: Option<&str>| NewUser {
        email: email.into(),
        role,
        merchant_id: merchant_id.map(str::to_string),
        password: "correct horse battery".into(),
    };
    let u = store.create_user(&new(" Compta@Dupont.FR ", Role::Merchant, Some(&m.id))).await.unwrap();
    assert_eq!(
        (u.email.as_str(), u.role, u.merchant_id.as_deref()),
        ("compta@dupont.fr", Role::Merchant, Some(m.id.as_str()))
    );
    assert!(
        matches!(
            store.create_user(&new("compta@dupont.fr", Role::Merchant, Some(&m.id))).await,
            Err(UserError::EmailTaken(_))
        ),
        "{db}"
    );
    assert!(matches!(
        store.create_user(&new("a@x.test", Role::Merchant, None)).await,
        Err(UserError::MerchantMismatch)
    ));
    assert!(matches!(
        store.create_user(&new("a@x.test", Role::Operator, Some(&m.id))).await,
        Err(UserError::MerchantMismatch)
    ));
    assert!(matches!(
        store.create_user(&new("a@x.test", Role::Merchant, Some("mer_nope"))).await,
        Err(UserError::UnknownMerchant(_))
    ));
    let weak = NewUser { password: "short".into(), ..new("a@x.test", Role::Admin, None) };
    assert!(matches!(store.create_user(&weak).await, Err(UserError::WeakPassword)));
    // The password is stored hashed, and checked.
    let (hash,): (String,) = sqlx::query_as("SELECT password_hash FROM users WHERE id = $1")
        .bind(&u.id)
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2id$") && !hash.contains("horse"), "{db}: {hash}");
    assert_eq!(
        store.check_credentials("COMPTA@dupont.fr", "correct horse battery").await.unwrap().map(|u| u.id),
        Some(u.id.clone())
    );
    assert!(store.check_credentials("compta@dupont.fr", "correct horse batterie").await.unwrap().is_none());
    assert!(store.check_credentials("nobody@dupont.fr", "correct horse battery").await.unwrap().is_none());

    // Sessions: the token opens it, only its hash is stored, sign-out ends it.
    let s = store.create_session(&u.id).await.unwrap();
    let live = store.session(&s.token).await.unwrap().expect("live session");
    assert_eq!((live.user.id.as_str(), live.csrf.as_str()), (u.id.as_str(), s.csrf.as_str()));
    let (stored,): (String,) = sqlx::query_as("SELECT token_hash FROM sessions").fetch_one(store.pool()).await.unwrap();
    assert_ne!(stored, s.token);
    store.delete_session(&s.token).await.unwrap();
    assert!(store.session(&s.token).await.unwrap().is_none());
    // Expired sessions do not open.
    let s = store.create_session(&u.id).await.unwrap();
    sqlx::query("UPDATE sessions SET expires_at = 1").execute(store.pool()).await.unwrap();
    assert!(store.session(&s.token).await.unwrap().is_none(), "{db}: expired");
    // A password change and disabling end the sessions.
    let s = store.create_session(&u.id).await.unwrap();
    assert!(store.set_user_password(&u.id, "another long password").await.unwrap());
    assert!(store.session(&s.token).await.unwrap().is_none());
    assert!(store.check_credentials("compta@dupont.fr", "another long password").await.unwrap().is_some());
    let s = store.create_session(&u.id).await.unwrap();
    store.set_user_disabled(&u.id, true).await.unwrap();
    assert!(store.session(&s.token).await.unwrap().is_none());
    assert!(store.check_credentials("compta@dupont.fr", "another long password").await.unwrap().is_none(), "disabled");
    store.set_user_disabled(&u.id, false).await.unwrap();
    store.set_user_language(&u.id, "en").await.unwrap();
    assert_eq!(store.user(&u.id).await.unwrap().unwrap().language.as_deref(), Some("en"));
    assert_eq!(store.list_users().await.unwrap().len(), 1);

    // Throttling counters: an attempt is counted before its password is checked.
    let keys = [ThrottleKey::Account("compta@dupont.fr".into()), ThrottleKey::Address("192.0.2.1".into())];
    // Keys are stored as the SHA-256 of their plain form.
    let failures = |key: &'static str| async move {
        let key = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(key.as_bytes()));
        sqlx::query_as::<_, (i64,)>("SELECT failures FROM login_failures WHERE throttle_key = $1")
            .bind(key)
            .fetch_optional(store.pool())
            .await
            .unwrap()
            .map(|r| r.0)
            .unwrap_or(0)
    };
    for i in 0..4 {
        assert!(matches!(store.begin_login_attempt(&keys).await.unwrap(), Attempt::Counted(_)), "{db}");
        if i == 0 {
            // A key's first failure does not lock it at all (0), not "until now": an
            // attempt that read the clock a moment earlier must not find it locked.
            let locks: Vec<(i64,)> = sqlx::query_as("SELECT locked_until FROM login_failures ORDER BY throttle_key")
                .fetch_all(store.pool())
                .await
                .unwrap();
            assert_eq!(locks, [(0,), (0,)], "{db}");
        }
    }
    assert_eq!(store.login_locked(&keys).await.unwrap(), None, "{db}: four failures are free");
    assert!(matches!(store.begin_login_attempt(&keys).await.unwrap(), Attempt::Counted(_)), "{db}: the fifth");
    let wait = store.login_locked(&keys).await.unwrap().expect("locked after five");
    assert!((29_000..=30_000).contains(&wait), "{db}: {wait}");
    let Attempt::Locked(wait) = store.begin_login_attempt(&keys).await.unwrap() else { panic!("{db}: locked") };
    assert!((29_000..=30_000).contains(&wait), "{db}: {wait}");
    assert_eq!((failures("account:compta@dupont.fr").await, failures("ip:192.0.2.1").await), (5, 5), "{db}");
    // Once the wait is over, one more attempt, and the next wait doubles.
    sqlx::query("UPDATE login_failures SET locked_until = 0").execute(store.pool()).await.unwrap();
    let Attempt::Counted(sixth) = store.begin_login_attempt(&keys).await.unwrap() else { panic!("{db}: unlocked") };
    assert!(store.login_locked(&keys[..1]).await.unwrap().unwrap() > 59_000, "doubled");
    assert_eq!(store.login_locked(&keys[1..]).await.unwrap(), None, "the address has 20 free failures");
    // That one succeeded: the account is free again, the address's count taken back.
    store.login_succeeded(&sixth).await.unwrap();
    assert_eq!(store.login_locked(&keys).await.unwrap(), None, "{db}");
    assert_eq!((failures("account:compta@dupont.fr").await, failures("ip:192.0.2.1").await), (0, 5), "{db}");
    // Refused because of a locked address: nothing stays counted on the account.
    let from_locked = [ThrottleKey::Account("a@x.test".into()), ThrottleKey::Address("192.0.2.9".into())];
    for _ in 0..20 {
        store.begin_login_attempt(&from_locked[1..]).await.unwrap();
    }
    assert!(matches!(store.begin_login_attempt(&from_locked).await.unwrap(), Attempt::Locked(_)), "{db}");
    assert_eq!(failures("account:a@x.test").await, 0, "{db}");
    // Twenty guesses at once: exactly the five free ones may go on to the password check.
    let guesses = [ThrottleKey::Account("guessed@dupont.fr".into()), ThrottleKey::Address("192.0.2.7".into())];
    let mut all = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let (store, guesses) = (store.clone(), guesses.clone());
        all.spawn(async move { store.begin_login_attempt(&guesses).await.unwrap() });
    }
    let attempts = all.join_all().await;
    let counted = attempts.iter().filter(|a| matches!(a, Attempt::Counted(_))).count();
    assert_eq!(counted, 5, "{db}: {attempts:?}");
    assert_eq!(failures("account:guessed@dupont.fr").await, 5, "{db}");

    // The pages' summaries.
    let inv = fixtures::stored_invoice(store, &m, "S-1", 1000).await;
    fixtures::stored_invoice(store, &m, "S-2", 2000).await;
    let counts = store.invoice_counts(&m.id, chrono::NaiveDate::from_ymd_opt(2030, 1, 2).unwrap()).await.unwrap();
    assert_eq!((counts.payable, counts.overdue), (2, 2), "{db}");
    let (gw, _) = fixtures::simulator();
    fixtures::pay(store, &gw, &m, &inv, "4100000000000605", "k-refused").await.unwrap();
    fixtures::pay(store, &gw, &m, &inv, fixtures::ACCEPTED_CARD, "k-ok").await.unwrap();
    let attempts: Vec<String> =
        store.invoice_transactions(&m.id, &inv.id).await.unwrap().into_iter().map(|t| t.status.to_string()).collect();
    assert_eq!(attempts, ["REFUSED", "TO_CAPTURE"], "{db}");
    assert!(store.invoice_transactions("mer_other", &inv.id).await.unwrap().is_empty());
    // Refused calls: the one whose card our checks refused, not the one the bank refused.
    let refused = store.invoice_transactions(&m.id, &inv.id).await.unwrap()[0].reference.clone();
    for (id, tx) in [("call_bank", Some(refused)), ("call_checks", None)] {
        store.call_started(id, id, "+33612345678", "pay", 1_000).await.unwrap();
        let end = ivrpay::store::calls::CallEnd {
            ended_at: 2_000,
            outcome: "refused".into(),
            invoice_id: Some(inv.id.clone()),
            transaction_reference: tx,
            ..Default::default()
        };
        store.call_ended(id, &end).await.unwrap();
    }
    let calls = store.refused_calls(&m.id, 0, 1_001).await.unwrap();
    assert_eq!(calls.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(), ["call_checks"], "{db}");
    assert!(store.refused_calls(&m.id, 1_001, 5_000).await.unwrap().is_empty(), "{db}: by start time");
    assert_eq!(store.invoice_refused_calls(&m.id, &inv.id).await.unwrap(), calls, "{db}");
    assert!(store.invoice_refused_calls("mer_other", &inv.id).await.unwrap().is_empty(), "{db}");
    assert_eq!(store.list_merchants().await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_sessions_and_throttling_on_both_databases() {
    for db in TestDb::all().await {
        let store = Store::open(&db.url).await.unwrap_or_else(|e| panic!("{}: {e}", db.name));
        accounts(&store, db.name).await;
        store.close().await;
        db.drop_pg().await;
    }
}
