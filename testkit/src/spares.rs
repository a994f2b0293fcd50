//! Spare test databases, made ahead of time on the servers the learner's loop keeps warm.
//!
//! `CREATE DATABASE` copies the template's files and checkpoints: tens of milliseconds on a
//! quiet machine, hundreds on a busy one, for every test. Between two runs the warm servers'
//! holder clones the recently used templates into spares (`<template>_s_<random>`), and a test
//! takes one by renaming it, which is instant. At its end a test only closes its database to
//! new connections (`ALLOW_CONNECTIONS false`, which no database in use ever has), and the
//! holder drops it, and its role, once the run is over: `DROP DATABASE` checkpoints too.
//! Only on servers the holder started itself: it goes away with them, spares and all, so
//! nothing is left on anyone's server.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use anyhow::Result;
use sqlx::postgres::PgListener;
use sqlx::{AssertSqlSafe, PgConnection};

/// Spares kept per template: one per test of most topics (more fall back to `CREATE DATABASE`).
const SPARES: usize = 24;
/// Templates kept in spares: the learner works on one topic at a time (~7.5 MB a spare).
const TEMPLATES: usize = 2;

/// The channel a test notifies when it found no spare of a template: the holder learns that the
/// template is in use again (its spares may be gone since another topic took their place).
const WANTED: &str = "kata_spares_wanted";

/// The pattern of `template`'s spares, for `LIKE`.
fn spares_of(template: &str) -> String {
    format!("{}\\_s\\_%", template.replace('_', "\\_"))
}

/// Takes a spare of `template` for a test, renamed to `name`; `false` when there is none
/// (or parallel tests took each one this call tried).
pub(crate) async fn claim(admin: &mut PgConnection, template: &str, name: &str) -> Result<bool> {
    for _ in 0..3 {
        let spare: Option<String> = sqlx::query_scalar(
            "SELECT datname FROM pg_database WHERE datname LIKE $1 ORDER BY random() LIMIT 1",
        )
        .bind(spares_of(template))
        .fetch_optional(&mut *admin)
        .await?;
        let Some(spare) = spare else {
            break;
        };
        let renamed = sqlx::raw_sql(AssertSqlSafe(format!(
            "ALTER DATABASE {spare} RENAME TO {name}"
        )))
        .execute(&mut *admin)
        .await;
        match renamed {
            Ok(_) => return Ok(true),
            // A parallel test renamed it first.
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("3D000") => continue,
            Err(e) => return Err(e.into()),
        }
    }
    sqlx::query("SELECT pg_notify($1, $2)")
        .bind(WANTED)
        .bind(template)
        .execute(&mut *admin)
        .await?;
    Ok(false)
}

/// Marks the test database `name` done, for the holder to drop, on the process's admin
/// connections (best effort: a failure is reported, and the database goes with the warm
/// servers).
pub(crate) fn hand_over(server_url: String, name: String) {
    let what = name.clone();
    let closed = crate::admin::for_server(&server_url).and_then(|admin| {
        admin.run_blocking(move |pool| async move {
            sqlx::raw_sql(AssertSqlSafe(format!(
                "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false"
            )))
            .execute(&pool)
            .await?;
            Ok(())
        })
    });
    if let Err(e) = closed {
        eprintln!("kata: could not hand the test database {what} over for dropping: {e:#}");
    }
}

/// The holder's side: keeps spares of the most recently used templates on the server at
/// `url`, on a thread of its own, for as long as the process lives.
pub fn keep(url: String) {
    std::thread::spawn(move || {
        let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        else {
            return;
        };
        runtime.block_on(async {
            let mut recent = Recent::default();
            let mut admin: Option<PgListener> = None;
            loop {
                if admin.is_none() {
                    admin = listen(&url).await.ok();
                }
                // A failure (the server stopping with the holder, say) drops the connection and
                // waits for the next turn.
                let made = match admin.as_mut() {
                    Some(conn) => match top_up(conn, &mut recent).await {
                        Ok(made) => made,
                        Err(_) => {
                            admin = None;
                            false
                        }
                    },
                    None => false,
                };
                if !made {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        });
    });
}

/// The holder's connection: an admin connection that also hears the tests' [`WANTED`].
async fn listen(url: &str) -> sqlx::Result<PgListener> {
    let mut listener = PgListener::connect(url).await?;
    listener.listen(WANTED).await?;
    Ok(listener)
}

/// Which templates were used last, from how their spares went and which ones tests wanted.
#[derive(Default)]
struct Recent {
    /// Templates, most recently used first.
    order: Vec<String>,
    /// Spares each had at the last look.
    seen: BTreeMap<String, usize>,
    /// Templates tests found without a spare since the last look.
    wanted: BTreeSet<String>,
}

impl Recent {
    /// Notes what the server holds now: a new template, one whose spares went, or one a test
    /// wanted, was just used.
    fn update(&mut self, spares: &BTreeMap<String, usize>) {
        for (template, &count) in spares {
            let used = self.wanted.remove(template)
                || self.seen.get(template).is_none_or(|&before| count < before);
            if used {
                self.order.retain(|t| t != template);
                self.order.insert(0, template.clone());
            }
        }
        self.order.retain(|t| spares.contains_key(t));
        self.seen = spares.clone();
        self.wanted.clear();
    }
}

/// Makes or drops one spare, if one is due and no run is using the server (its tests get the
/// CPU first). Returns whether it changed anything (then the next turn comes at once).
async fn top_up(admin: &mut PgListener, recent: &mut Recent) -> Result<bool> {
    let busy: bool = sqlx::query_scalar(
        "SELECT exists(SELECT FROM pg_stat_activity \
         WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() \
         AND NOT (application_name = $1 AND state = 'idle'))",
    )
    .bind(crate::admin::APPLICATION_NAME)
    .fetch_one(&mut *admin)
    .await?;
    // Heard while that query ran, kept until the next look at the templates.
    while let Some(wanted) = admin.next_buffered() {
        recent.wanted.insert(wanted.payload().to_owned());
    }
    if busy {
        return Ok(false);
    }
    // Tests' databases they are done with go first (their role owns nothing else).
    let done: Option<String> = sqlx::query_scalar(
        "SELECT datname FROM pg_database WHERE datname LIKE 'kata\\_t\\_%' AND NOT datallowconn \
         LIMIT 1",
    )
    .fetch_optional(&mut *admin)
    .await?;
    if let Some(done) = done {
        for sql in [
            format!("DROP DATABASE IF EXISTS {done} WITH (FORCE)"),
            format!("DROP ROLE IF EXISTS {done}"),
        ] {
            sqlx::raw_sql(AssertSqlSafe(sql))
                .execute(&mut *admin)
                .await?;
        }
        return Ok(true);
    }
    let templates: Vec<String> = sqlx::query_scalar(
        "SELECT datname FROM pg_database WHERE datistemplate AND datname LIKE 'kata\\_tpl\\_%'",
    )
    .fetch_all(&mut *admin)
    .await?;
    let spares: Vec<String> = sqlx::query_scalar(
        "SELECT datname FROM pg_database WHERE datname LIKE 'kata\\_tpl\\_%\\_s\\_%'",
    )
    .fetch_all(&mut *admin)
    .await?;
    let mut count: BTreeMap<String, usize> = templates.iter().map(|t| (t.clone(), 0)).collect();
    for spare in &spares {
        if let Some(n) = spare.rsplit_once("_s_").and_then(|(t, _)| count.get_mut(t)) {
            *n += 1;
        }
    }
    recent.update(&count);
    let keep = &recent.order[..recent.order.len().min(TEMPLATES)];
    // Spares of a template no longer kept (or gone) free their disk first.
    if let Some(stale) = spares.iter().find(|s| {
        s.rsplit_once("_s_")
            .is_none_or(|(t, _)| !keep.iter().any(|k| k == t))
    }) {
        sqlx::raw_sql(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {stale}")))
            .execute(&mut *admin)
            .await?;
        // Gone by the holder's hand, not a test's: the template was not used.
        if let Some((template, _)) = stale.rsplit_once("_s_")
            && let Some(seen) = recent.seen.get_mut(template)
        {
            *seen = seen.saturating_sub(1);
        }
        return Ok(true);
    }
    let Some(template) = keep.iter().find(|t| count[*t] < SPARES) else {
        return Ok(false);
    };
    let spare = format!(
        "{template}_s_{:012x}",
        rand::random::<u64>() & 0xffff_ffff_ffff
    );
    // Nobody but a test that renames it may connect to a spare.
    for sql in [
        format!("CREATE DATABASE {spare} TEMPLATE {template} STRATEGY FILE_COPY"),
        format!("REVOKE ALL ON DATABASE {spare} FROM PUBLIC"),
    ] {
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut *admin)
            .await?;
    }
    recent.seen.insert(template.clone(), count[template] + 1);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_template_whose_spares_went_is_the_most_recent() {
        let mut recent = Recent::default();
        let counts = |a: usize, b: usize| {
            BTreeMap::from([("kata_tpl_a".to_string(), a), ("kata_tpl_b".to_string(), b)])
        };
        recent.update(&counts(5, 5));
        recent.update(&counts(5, 2));
        assert_eq!(recent.order[0], "kata_tpl_b");
        recent.update(&counts(1, 2));
        assert_eq!(recent.order, ["kata_tpl_a", "kata_tpl_b"]);
        recent.update(&BTreeMap::from([("kata_tpl_b".to_string(), 2)]));
        assert_eq!(
            recent.order,
            ["kata_tpl_b"],
            "a dropped template is forgotten"
        );
    }

    #[test]
    fn a_template_a_test_wanted_is_the_most_recent_even_with_no_spare_left() {
        let mut recent = Recent::default();
        let counts = |a: usize, b: usize, c: usize| {
            BTreeMap::from([
                ("kata_tpl_a".to_string(), a),
                ("kata_tpl_b".to_string(), b),
                ("kata_tpl_c".to_string(), c),
            ])
        };
        recent.update(&counts(0, 5, 5));
        recent.update(&counts(0, 5, 4));
        recent.update(&counts(0, 4, 4));
        assert_eq!(recent.order[..2], ["kata_tpl_b", "kata_tpl_c"]);

        // a's spares were dropped for b and c: its count cannot fall, only a test can say.
        recent.wanted.insert("kata_tpl_a".into());
        recent.update(&counts(0, 4, 4));

        assert_eq!(recent.order[..2], ["kata_tpl_a", "kata_tpl_b"]);
    }

    #[test]
    fn the_spare_pattern_matches_only_that_templates_spares() {
        assert_eq!(spares_of("kata_tpl_ab"), "kata\\_tpl\\_ab\\_s\\_%");
    }
}
