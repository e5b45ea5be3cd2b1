//! Invoice queries: create with a unique payment code, read and list within one
//! merchant, cancel, look up by payment code for the phone line, and expire.

use super::notifications::InvoiceEvent;
use super::{get_i64, get_opt_str, get_str, new_id, Store, StoreError};
use crate::payments::invoice::{expiry_instant, same_content, Invoice, InvoiceStatus, NewInvoice};
use crate::payments::money::Currency;
use chrono::NaiveDate;
use serde::Serialize;
use sqlx::any::AnyRow;

/// Filters for listing, all optional.
#[derive(Clone, Debug, Default)]
pub struct InvoiceFilter {
    /// Only invoices in this state (PAYABLE and EXPIRED are judged against `expires_at`,
    /// not just the stored status).
    pub status: Option<InvoiceStatus>,
    /// Only the invoice with exactly this merchant reference.
    pub reference: Option<String>,
    /// Created at or after (UTC ms).
    pub created_from: Option<i64>,
    /// Created before (UTC ms).
    pub created_to: Option<i64>,
    /// Smallest amount, minor units, inclusive.
    pub min_amount: Option<i64>,
    /// Largest amount, minor units, inclusive.
    pub max_amount: Option<i64>,
}

/// The parts of a listing cursor (`<created_at>.<id>`), None when malformed: the API
/// refuses such a cursor rather than silently starting again from the first page.
pub fn parse_cursor(cursor: &str) -> Option<(i64, &str)> {
    let (at, id) = cursor.split_once('.')?;
    let ok_id = !id.is_empty() && id.len() <= 64 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
    Some((at.parse::<i64>().ok()?, id)).filter(|_| ok_id)
}

/// One page of a listing; `next` is the cursor for the following page.
#[derive(Clone, Debug, Serialize)]
pub struct Page<T> {
    /// The rows, newest first.
    pub items: Vec<T>,
    /// Cursor (`<created_at>.<id>`) for the next page; `None` on the last one.
    pub next: Option<String>,
}

/// What creating an invoice did, for idempotent imports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Created {
    /// A new invoice.
    New(Invoice),
    /// The same reference already existed with the same content.
    Existing(Invoice),
}

const COLUMNS: &str = "id, merchant_id, reference, amount, currency, due_date, expires_at, customer_name, customer_contact, description, payment_code, status, created_at, updated_at";

/// Reads a row as the invoice is now: a PAYABLE invoice past its expiry reads as
/// EXPIRED, so the API, the pages and the phone line agree before the periodic job
/// (`expire_due`) writes it down.
fn from_row(r: &AnyRow, now: i64) -> Result<Invoice, StoreError> {
    let mut inv = stored_row(r)?;
    if inv.status == InvoiceStatus::Payable && inv.expires_at <= now {
        inv.status = InvoiceStatus::Expired;
    }
    Ok(inv)
}

/// Reads a row as stored.
fn stored_row(r: &AnyRow) -> Result<Invoice, StoreError> {
    let currency = get_str(r, "currency")?;
    let status = get_str(r, "status")?;
    let due = get_str(r, "due_date")?;
    Ok(Invoice {
        id: get_str(r, "id")?,
        merchant_id: get_str(r, "merchant_id")?,
        reference: get_str(r, "reference")?,
        amount: get_i64(r, "amount")?,
        currency: Currency::parse(&currency)
            .ok_or(StoreError::Corrupt { column: "invoices.currency", value: currency })?,
        due_date: NaiveDate::parse_from_str(&due, "%Y-%m-%d")
            .map_err(|_| StoreError::Corrupt { column: "invoices.due_date", value: due })?,
        expires_at: get_i64(r, "expires_at")?,
        customer_name: get_str(r, "customer_name")?,
        customer_contact: get_opt_str(r, "customer_contact")?,
        description: get_opt_str(r, "description")?,
        payment_code: get_str(r, "payment_code")?,
        status: InvoiceStatus::parse(&status)
            .ok_or(StoreError::Corrupt { column: "invoices.status", value: status })?,
        created_at: get_i64(r, "created_at")?,
        updated_at: get_i64(r, "updated_at")?,
    })
}

/// A reference already in use: the same invoice again, or a conflict.
fn reuse(existing: Invoice, inv: &NewInvoice) -> Result<Created, StoreError> {
    if same_content(&existing, inv) {
        Ok(Created::Existing(existing))
    } else {
        Err(StoreError::Conflict(format!("reference {} already used for a different invoice", inv.reference)))
    }
}

/// What one row of a batch came to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RowOutcome {
    /// A new invoice (stored only if the batch was committed).
    New(Invoice),
    /// The reference already existed with the same content.
    Existing(Invoice),
    /// The reference is used for a different invoice (or no payment code could be
    /// drawn): the reason, for the merchant's report.
    Conflict(String),
}

/// What a batch of invoices did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Batch {
    /// Whether the batch was written: false when a conflicting row rolled the whole
    /// batch back (nothing of it is stored).
    pub committed: bool,
    /// One outcome per row, in the order given.
    pub rows: Vec<RowOutcome>,
}

async fn select_by_reference(
    conn: &mut sqlx::AnyConnection,
    merchant_id: &str,
    reference: &str,
    now: i64,
) -> Result<Option<Invoice>, StoreError> {
    let row = sqlx::query(&format!("SELECT {COLUMNS} FROM invoices WHERE merchant_id = $1 AND reference = $2"))
        .bind(merchant_id)
        .bind(reference)
        .fetch_optional(&mut *conn)
        .await?;
    row.as_ref().map(|r| from_row(r, now)).transpose()
}

/// One row of a batch inside its transaction: each insert attempt in a savepoint, so a
/// unique violation (a payment code drawn twice, a reference already there) undoes
/// only that attempt, on PostgreSQL as on SQLite. The insert comes before any read, so
/// on SQLite the transaction holds the write lock from its first row.
async fn insert_in_batch(
    conn: &mut sqlx::AnyConnection,
    merchant_id: &str,
    inv: &NewInvoice,
    now: i64,
) -> Result<RowOutcome, StoreError> {
    use sqlx::Connection;
    for _ in 0..8 {
        let id = new_id("inv");
        let mut attempt = conn.begin().await?;
        match insert_invoice(&mut attempt, merchant_id, inv, &id, &super::fresh_payment_code(), now).await {
            Ok(()) => {
                attempt.commit().await?;
                let row = sqlx::query(&format!("SELECT {COLUMNS} FROM invoices WHERE id = $1"))
                    .bind(&id)
                    .fetch_one(&mut *conn)
                    .await?;
                return Ok(RowOutcome::New(from_row(&row, now)?));
            }
            Err(StoreError::Conflict(_)) => {
                attempt.rollback().await?;
                if let Some(existing) = select_by_reference(conn, merchant_id, &inv.reference, now).await? {
                    return Ok(match reuse(existing, inv) {
                        Ok(Created::Existing(i) | Created::New(i)) => RowOutcome::Existing(i),
                        Err(e) => RowOutcome::Conflict(conflict_reason(e)),
                    });
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(RowOutcome::Conflict("could not draw a unique payment code".into()))
}

fn conflict_reason(e: StoreError) -> String {
    match e {
        StoreError::Conflict(m) => m,
        other => other.to_string(),
    }
}

/// Inserts a PAYABLE invoice with the given id and payment code on a connection (a
/// unique violation, code or reference, comes back as `StoreError::Conflict`).
pub(crate) async fn insert_invoice(
    conn: &mut sqlx::AnyConnection,
    merchant_id: &str,
    inv: &NewInvoice,
    id: &str,
    code: &str,
    now: i64,
) -> Result<(), StoreError> {
    sqlx::query(&format!(
        "INSERT INTO invoices ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
    ))
    .bind(id)
    .bind(merchant_id)
    .bind(&inv.reference)
    .bind(inv.amount)
    .bind(inv.currency.code())
    .bind(inv.due_date.format("%Y-%m-%d").to_string())
    .bind(expiry_instant(inv.expiry_date))
    .bind(&inv.customer_name)
    .bind(&inv.customer_contact)
    .bind(&inv.description)
    .bind(code)
    .bind(InvoiceStatus::Payable.as_str())
    .bind(now)
    .bind(now)
    .execute(conn)
    .await
    .map(|_| ())
    .map_err(StoreError::from_write)
}

impl Store {
    /// Stores an invoice with a fresh payment code. A reference the merchant already
    /// used returns the existing invoice if the content is the same (so a retried
    /// request or a re-imported file creates nothing twice) and a conflict otherwise.
    pub async fn create_invoice(&self, merchant_id: &str, inv: &NewInvoice) -> Result<Created, StoreError> {
        let now = self.now_ms();
        if let Some(existing) = self.invoice_by_reference(merchant_id, &inv.reference).await? {
            return reuse(existing, inv);
        }
        for _ in 0..8 {
            let id = new_id("inv");
            // One connection per attempt, given back before the reads below.
            let mut conn = self.pool().acquire().await?;
            let r = insert_invoice(&mut conn, merchant_id, inv, &id, &super::fresh_payment_code(), now).await;
            drop(conn);
            match r {
                Ok(()) => return Ok(Created::New(self.invoice(merchant_id, &id).await?.expect("just inserted"))),
                Err(StoreError::Conflict(_)) => {
                    // Either the payment code collided (retry with another) or the same
                    // reference was inserted concurrently (then it exists now).
                    if let Some(existing) = self.invoice_by_reference(merchant_id, &inv.reference).await? {
                        return reuse(existing, inv);
                    }
                }
                Err(e) => return Err(e),
            }
        }
        Err(StoreError::Conflict("could not draw a unique payment code".into()))
    }

    /// Stores a batch of invoices (a CSV import) in one database transaction. A row
    /// whose reference exists with the same content is `Existing`; one whose reference
    /// is used for a different invoice is a `Conflict`. With `skip_conflicts` false, any
    /// conflict rolls the whole batch back (`committed` false, every row still checked
    /// so all of them can be reported); with it true the other rows are stored. A
    /// database error rolls everything back and is returned.
    pub async fn create_invoices(
        &self,
        merchant_id: &str,
        rows: &[NewInvoice],
        skip_conflicts: bool,
    ) -> Result<Batch, StoreError> {
        let now = self.now_ms();
        let mut tx = self.pool().begin().await?;
        let mut out = Vec::with_capacity(rows.len());
        for inv in rows {
            out.push(insert_in_batch(&mut tx, merchant_id, inv, now).await?);
        }
        let conflicts = out.iter().any(|r| matches!(r, RowOutcome::Conflict(_)));
        if conflicts && !skip_conflicts {
            tx.rollback().await?;
            return Ok(Batch { committed: false, rows: out });
        }
        tx.commit().await?;
        Ok(Batch { committed: true, rows: out })
    }

    /// An invoice of this merchant (None for another merchant's: not found, not forbidden).
    pub async fn invoice(&self, merchant_id: &str, id: &str) -> Result<Option<Invoice>, StoreError> {
        let now = self.now_ms();
        let row = sqlx::query(&format!("SELECT {COLUMNS} FROM invoices WHERE id = $1 AND merchant_id = $2"))
            .bind(id)
            .bind(merchant_id)
            .fetch_optional(self.pool())
            .await?;
        row.as_ref().map(|r| from_row(r, now)).transpose()
    }

    /// An invoice by the merchant's own reference.
    pub async fn invoice_by_reference(
        &self,
        merchant_id: &str,
        reference: &str,
    ) -> Result<Option<Invoice>, StoreError> {
        let mut conn = self.pool().acquire().await?;
        select_by_reference(&mut conn, merchant_id, reference, self.now_ms()).await
    }

    /// The references of the invoices a merchant's transactions created in `[from, to)`
    /// (UTC ms) were paying, by invoice id: the journal's INVOICE_ID column in one
    /// query, however many rows the journal has.
    pub async fn invoice_references_paid_between(
        &self,
        merchant_id: &str,
        from: i64,
        to: i64,
    ) -> Result<std::collections::HashMap<String, String>, StoreError> {
        let rows = sqlx::query(
            "SELECT DISTINCT i.id AS id, i.reference AS reference FROM invoices i JOIN transactions t ON t.invoice_id = i.id \
             WHERE t.merchant_id = $1 AND i.merchant_id = $2 AND t.created_at >= $3 AND t.created_at < $4",
        )
        .bind(merchant_id)
        .bind(merchant_id)
        .bind(from)
        .bind(to)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| Ok((get_str(r, "id")?, get_str(r, "reference")?))).collect()
    }

    /// What a caller's payment code designates: the payable invoice with that code, or
    /// else the most recent one that had it (so the line can say "already paid",
    /// "cancelled" or "expired" rather than "unknown"). Expiry is applied as it is read,
    /// as for every read here, so the phone line never waits on a write.
    pub async fn invoice_by_payment_code(&self, code: &str) -> Result<Option<Invoice>, StoreError> {
        let now = self.now_ms();
        let row = sqlx::query(&format!(
            "SELECT {COLUMNS} FROM invoices WHERE payment_code = $1 ORDER BY CASE WHEN status = 'PAYABLE' THEN 0 ELSE 1 END, created_at DESC LIMIT 1"
        ))
        .bind(code)
        .fetch_optional(self.pool())
        .await?;
        row.as_ref().map(|r| from_row(r, now)).transpose()
    }

    /// Lists a merchant's invoices, newest first, `limit` per page.
    pub async fn list_invoices(
        &self,
        merchant_id: &str,
        f: &InvoiceFilter,
        limit: u32,
        cursor: Option<&str>,
    ) -> Result<Page<Invoice>, StoreError> {
        let now = self.now_ms();
        let mut sql = format!("SELECT {COLUMNS} FROM invoices WHERE merchant_id = $1");
        let mut n = 1;
        let mut next_param = |sql: &mut String, clause: &str| {
            n += 1;
            sql.push_str(&clause.replace('?', &format!("${n}")));
        };
        // A malformed cursor (checked by the API with `parse_cursor` before it gets
        // here) starts from the first page.
        let (cur_at, cur_id) = match cursor.and_then(parse_cursor) {
            Some((at, id)) => (Some(at), Some(id.to_string())),
            None => (None, None),
        };
        // Statuses as they read now: a PAYABLE row past its expiry is EXPIRED.
        match f.status {
            None => {}
            Some(InvoiceStatus::Payable) => next_param(&mut sql, " AND status = 'PAYABLE' AND expires_at > ?"),
            Some(InvoiceStatus::Expired) => {
                next_param(&mut sql, " AND (status = 'EXPIRED' OR (status = 'PAYABLE' AND expires_at <= ?))")
            }
            Some(_) => next_param(&mut sql, " AND status = ?"),
        }
        if f.reference.is_some() {
            next_param(&mut sql, " AND reference = ?");
        }
        if f.created_from.is_some() {
            next_param(&mut sql, " AND created_at >= ?");
        }
        if f.created_to.is_some() {
            next_param(&mut sql, " AND created_at < ?");
        }
        if f.min_amount.is_some() {
            next_param(&mut sql, " AND amount >= ?");
        }
        if f.max_amount.is_some() {
            next_param(&mut sql, " AND amount <= ?");
        }
        if cur_at.is_some() {
            n += 1;
            let (a, b, c) = (n, n + 1, n + 2);
            n += 2;
            sql.push_str(&format!(" AND (created_at < ${a} OR (created_at = ${b} AND id < ${c}))"));
        }
        let _ = n;
        sql.push_str(&format!(" ORDER BY created_at DESC, id DESC LIMIT {}", limit + 1));
        let mut q = sqlx::query(&sql).bind(merchant_id);
        match f.status {
            None => {}
            Some(InvoiceStatus::Payable | InvoiceStatus::Expired) => q = q.bind(self.now_ms()),
            Some(s) => q = q.bind(s.as_str()),
        }
        if let Some(r) = &f.reference {
            q = q.bind(r.clone());
        }
        for v in [f.created_from, f.created_to, f.min_amount, f.max_amount].into_iter().flatten() {
            q = q.bind(v);
        }
        if let (Some(at), Some(id)) = (cur_at, cur_id) {
            q = q.bind(at).bind(at).bind(id);
        }
        let rows = q.fetch_all(self.pool()).await?;
        let mut items = rows.iter().map(|r| from_row(r, now)).collect::<Result<Vec<_>, _>>()?;
        let next = if items.len() > limit as usize {
            items.truncate(limit as usize);
            items.last().map(|i| format!("{}.{}", i.created_at, i.id))
        } else {
            None
        };
        Ok(Page { items, next })
    }

    /// Cancels a payable invoice (not one past its expiry, which reads as EXPIRED), and
    /// queues its merchant's notice in the same database transaction. Returns the
    /// invoice as it now is, or None if unknown.
    pub async fn cancel_invoice(&self, merchant_id: &str, id: &str) -> Result<Option<Invoice>, StoreError> {
        let now = self.now_ms();
        let mut tx = self.pool().begin().await?;
        let r = sqlx::query("UPDATE invoices SET status = 'CANCELLED', updated_at = $1 WHERE id = $2 AND merchant_id = $3 AND status = 'PAYABLE' AND expires_at > $4")
            .bind(now)
            .bind(id)
            .bind(merchant_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        if r.rows_affected() == 1 {
            super::notifications::enqueue_invoice(&mut tx, now, id, InvoiceEvent::Cancelled, None).await?;
        }
        tx.commit().await?;
        self.invoice(merchant_id, id).await
    }

    /// Marks every payable invoice past its expiry as EXPIRED; returns how many.
    pub async fn expire_due(&self) -> Result<u64, StoreError> {
        self.expire_due_at(self.now_ms()).await
    }

    /// [`Store::expire_due`] as of `now` (UTC ms), for a periodic run that uses one
    /// instant throughout. Invoices are expired a batch at a time, each batch with its
    /// merchants' notices in one database transaction, so a backlog never makes one
    /// huge transaction.
    pub async fn expire_due_at(&self, now: i64) -> Result<u64, StoreError> {
        const BATCH: i64 = 500;
        let mut total = 0;
        loop {
            let mut tx = self.pool().begin().await?;
            let rows = sqlx::query(
                "UPDATE invoices SET status = 'EXPIRED', updated_at = $1 WHERE id IN (SELECT id FROM invoices WHERE status = 'PAYABLE' AND expires_at <= $2 LIMIT $3) RETURNING id",
            )
            .bind(now)
            .bind(now)
            .bind(BATCH)
            .fetch_all(&mut *tx)
            .await?;
            for r in &rows {
                let id = get_str(r, "id")?;
                super::notifications::enqueue_invoice(&mut tx, now, &id, InvoiceEvent::Expired, None).await?;
            }
            tx.commit().await?;
            total += rows.len() as u64;
            if (rows.len() as i64) < BATCH {
                return Ok(total);
            }
        }
    }
}
