//! Hidden tests for the indexes kata: real Postgres, one database per test.
//!
//! Each test loads the same 10 000 customers and 100 000 orders (arithmetic on the series
//! index: no randomness), runs the learner's migration, `VACUUM ANALYZE`s with a statistics
//! sample larger than the tables (so the statistics, hence the plans, are the same every run),
//! and reads `EXPLAIN (FORMAT JSON)` of each query prepared exactly as the application runs it.
//!
//! sqlx runs the queries as prepared statements, and Postgres plans a prepared statement either
//! for the values bound (a custom plan) or once for any value (a generic plan, which it may
//! switch to after five runs). The index must be chosen either way: every query is explained
//! with `plan_cache_mode = force_custom_plan` and with `force_generic_plan`.
//!
//! Rule (README) -> test:
//! - `RECENT_ORDERS`: an index starting (customer_id, created_at), no Sort, no Seq Scan, in both
//!   plans; the 20 latest of customer 42 -> `recent_orders_of_a_customer_are_read_from_one_composite_index`
//! - `PENDING_ORDERS`: a partial index whose predicate is status = 'pending' (no more), no
//!   Sort, no Seq Scan; the 50 oldest -> `pending_orders_are_read_from_a_partial_index`
//! - `CUSTOMER_BY_EMAIL`: an index on lower(email), no Seq Scan; finds 42, not an unknown email
//!   -> `an_email_lookup_ignores_case_and_uses_an_expression_index`
//! - orders 1 or 2 indexes, customers exactly 1, each read by a plan
//!   -> `every_index_serves_a_query_and_there_are_no_extra_ones`

use indexes::{
    CUSTOMER_BY_EMAIL, Customer, PENDING_ORDERS, RECENT_ORDERS, create_indexes, customer_by_email,
    pending_orders, recent_orders,
};
use kata_testkit::TestDb;
use serde_json::Value;
use sqlx::{AssertSqlSafe, PgPool};

const SCHEMA: &str = include_str!("../schema.sql");

/// 10 000 customers with mixed-case emails; 100 000 orders of the first 2 500 customers (40
/// each), one every 7 minutes, about 1% of them pending.
const SEED: &str = "
INSERT INTO customers (id, email, name)
SELECT i, 'User' || i || '@Example.com', 'Customer ' || i FROM generate_series(1, 10000) i;
INSERT INTO orders (id, customer_id, status, total_cents, created_at)
SELECT i,
       1 + (i * 7919) % 2500,
       CASE WHEN i % 97 = 0 THEN 'pending' WHEN i % 13 = 0 THEN 'cancelled'
            WHEN i % 5 = 0 THEN 'paid' ELSE 'shipped' END,
       100 + (i * 7919) % 100000,
       timestamptz '2024-01-01 00:00:00+00' + i * interval '7 minutes'
FROM generate_series(1, 100000) i;
";

/// A shop full of data, with the learner's indexes created and fresh statistics.
async fn shop() -> (TestDb, PgPool) {
    // The rows are part of the template: each test's copy starts full, not seeded again.
    let db = TestDb::new(&format!("{SCHEMA}\n{SEED}")).await;
    let mut admin = db.admin().await;
    let pool = db.pool().await;
    create_indexes(&pool)
        .await
        .unwrap_or_else(|e| panic!("create_indexes failed on the filled tables: {e}"));
    // A sample of 300 000 rows reads the whole tables: the same statistics on every run.
    for sql in [
        "SET default_statistics_target = 1000",
        "VACUUM (ANALYZE) customers, orders",
    ] {
        sqlx::raw_sql(sql)
            .execute(&mut admin)
            .await
            .expect("analyzing the tables");
    }
    (db, pool)
}

/// One plan of a prepared query: `mode` is the `plan_cache_mode` it was made under.
struct Plan {
    mode: &'static str,
    root: Value,
}

impl Plan {
    fn nodes(&self) -> Vec<&Value> {
        fn walk<'a>(node: &'a Value, out: &mut Vec<&'a Value>) {
            out.push(node);
            for child in node["Plans"].as_array().into_iter().flatten() {
                walk(child, out);
            }
        }
        let mut out = Vec::new();
        walk(&self.root, &mut out);
        out
    }

    fn has(&self, node_type: &str) -> bool {
        self.nodes().iter().any(|n| n["Node Type"] == node_type)
    }

    /// The indexes the plan reads (Index Scan, Index Only Scan, Bitmap Index Scan).
    fn indexes(&self) -> Vec<String> {
        self.nodes()
            .iter()
            .filter_map(|n| n["Index Name"].as_str().map(str::to_owned))
            .collect()
    }

    /// The plan on one line, for messages: `Limit > Sort > Seq Scan on orders`.
    fn outline(&self) -> String {
        let steps: Vec<String> = self
            .nodes()
            .iter()
            .map(|n| {
                let kind = n["Node Type"].as_str().unwrap_or("?");
                match (n["Index Name"].as_str(), n["Relation Name"].as_str()) {
                    (Some(index), _) => format!("{kind} using {index}"),
                    (None, Some(table)) => format!("{kind} on {table}"),
                    (None, None) => kind.to_owned(),
                }
            })
            .collect();
        format!("[{}] {}", self.mode, steps.join(" > "))
    }
}

/// Prepares `query` with parameter `types` (e.g. `(bigint)`) and explains `EXECUTE` with `args`
/// under a custom and under a generic plan.
async fn plans(db: &TestDb, query: &str, types: &str, args: &str) -> Vec<Plan> {
    let mut conn = db.admin().await;
    for sql in [
        "SET max_parallel_workers_per_gather = 0".to_owned(),
        format!("PREPARE app_query{types} AS {query}"),
    ] {
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("preparing {query:?}: {e}"));
    }
    let mut out = Vec::new();
    for mode in ["force_custom_plan", "force_generic_plan"] {
        sqlx::raw_sql(AssertSqlSafe(format!("SET plan_cache_mode = {mode}")))
            .execute(&mut conn)
            .await
            .expect("setting plan_cache_mode");
        let json: Value = sqlx::query_scalar(AssertSqlSafe(format!(
            "EXPLAIN (FORMAT JSON) EXECUTE app_query{args}"
        )))
        .fetch_one(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("explaining {query:?}: {e}"));
        out.push(Plan {
            mode,
            root: json[0]["Plan"].clone(),
        });
    }
    out
}

/// An index on `orders` or `customers`, as the catalog describes it.
#[derive(Debug, sqlx::FromRow)]
struct Index {
    name: String,
    table: String,
    /// The key columns (or expressions) in order, e.g. `["customer_id", "created_at"]`.
    columns: Vec<String>,
    /// The `WHERE` of a partial index.
    predicate: Option<String>,
    primary: bool,
}

async fn indexes_of_the_shop(db: &TestDb) -> Vec<Index> {
    sqlx::query_as(
        "SELECT i.relname::text AS name, t.relname::text AS table,
                ARRAY(SELECT pg_get_indexdef(x.indexrelid, n, true)
                      FROM generate_series(1, x.indnkeyatts) n) AS columns,
                pg_get_expr(x.indpred, x.indrelid) AS predicate, x.indisprimary AS primary
         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid
         WHERE t.relname IN ('orders', 'customers') ORDER BY t.relname, i.relname",
    )
    .fetch_all(&mut db.admin().await)
    .await
    .expect("reading pg_index")
}

fn find<'a>(all: &'a [Index], name: &str) -> Option<&'a Index> {
    all.iter().find(|i| i.name == name)
}

/// What the plan reads, for messages: `orders_x (created_at, customer_id) WHERE ...`.
fn describe(all: &[Index], plan: &Plan) -> String {
    let used: Vec<String> = plan
        .indexes()
        .iter()
        .filter_map(|name| find(all, name))
        .map(|i| {
            let predicate = i.predicate.as_deref().unwrap_or("");
            let predicate = if predicate.is_empty() {
                String::new()
            } else {
                format!(" WHERE {predicate}")
            };
            format!("{} ({}){predicate}", i.name, i.columns.join(", "))
        })
        .collect();
    format!("plan {}; indexes read: {used:?}", plan.outline())
}

#[tokio::test]
async fn recent_orders_of_a_customer_are_read_from_one_composite_index() {
    let (db, pool) = shop().await;

    let orders = recent_orders(&pool, 42)
        .await
        .expect("running RECENT_ORDERS");
    let plans = plans(&db, RECENT_ORDERS, "(bigint)", "(42)").await;

    let expected: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM orders WHERE customer_id = 42 ORDER BY created_at DESC LIMIT 20",
    )
    .fetch_all(&mut db.admin().await)
    .await
    .expect("reading the expected orders");
    let got: Vec<i64> = orders.iter().map(|o| o.id).collect();
    assert_eq!(
        got, expected,
        "RECENT_ORDERS for customer 42 must return its 20 latest order ids, newest first"
    );
    let all = indexes_of_the_shop(&db).await;
    for plan in &plans {
        let composite = plan.indexes().iter().any(|name| {
            find(&all, name).is_some_and(|i| {
                i.columns
                    .starts_with(&["customer_id".into(), "created_at".into()])
            })
        });
        assert!(
            composite && !plan.has("Sort") && !plan.has("Seq Scan"),
            "RECENT_ORDERS must read one index on (customer_id, created_at): the equality column \
             first, then the ORDER BY column, so the rows come out already sorted (no Sort, no Seq \
             Scan). Got the {}",
            describe(&all, plan)
        );
    }
}

/// Whether a partial index's predicate is `status = 'pending'` and nothing more (not, e.g.,
/// `status IN ('pending', 'cancelled')`, an index much bigger than the 1% the worker reads).
fn is_status_pending(predicate: &str) -> bool {
    let bare: String = predicate
        .replace("::text", "")
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '(' && *c != ')')
        .collect();
    bare == "status='pending'" || bare == "'pending'=status"
}

#[tokio::test]
async fn pending_orders_are_read_from_a_partial_index() {
    let (db, pool) = shop().await;

    let orders = pending_orders(&pool).await.expect("running PENDING_ORDERS");
    let plans = plans(&db, PENDING_ORDERS, "", "").await;

    let expected: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM orders WHERE status = 'pending' ORDER BY created_at LIMIT 50",
    )
    .fetch_all(&mut db.admin().await)
    .await
    .expect("reading the expected orders");
    let got: Vec<i64> = orders.iter().map(|o| o.id).collect();
    assert_eq!(
        got, expected,
        "PENDING_ORDERS must return the 50 oldest pending order ids, oldest first"
    );
    let all = indexes_of_the_shop(&db).await;
    for plan in &plans {
        let partial = plan.indexes().iter().any(|name| {
            find(&all, name)
                .and_then(|i| i.predicate.as_deref())
                .is_some_and(is_status_pending)
        });
        assert!(
            partial && !plan.has("Sort") && !plan.has("Seq Scan"),
            "PENDING_ORDERS must read a partial index whose predicate is exactly \
             WHERE status = 'pending' and whose rows are already in created_at order (no Sort, \
             no Seq Scan): the 1% of pending orders only, not all 100 000 (nor the cancelled \
             ones too). Got the {}",
            describe(&all, plan)
        );
    }
}

#[tokio::test]
async fn an_email_lookup_ignores_case_and_uses_an_expression_index() {
    let (db, pool) = shop().await;

    let found = customer_by_email(&pool, "user42@EXAMPLE.com").await;
    let missing = customer_by_email(&pool, "nobody@example.com").await;
    let plans = plans(&db, CUSTOMER_BY_EMAIL, "(text)", "('user42@EXAMPLE.com')").await;

    let found = found.expect("running CUSTOMER_BY_EMAIL");
    assert_eq!(
        found,
        Some(Customer {
            id: 42,
            email: "User42@Example.com".into(),
            name: "Customer 42".into()
        }),
        "looking up user42@EXAMPLE.com must find customer 42, stored as User42@Example.com"
    );
    let missing = missing.expect("running CUSTOMER_BY_EMAIL");
    assert_eq!(missing, None, "an unknown email must find no customer");
    let all = indexes_of_the_shop(&db).await;
    for plan in &plans {
        let on_lower_email = plan.indexes().iter().any(|name| {
            find(&all, name).is_some_and(|i| i.columns.first().is_some_and(|c| c == "lower(email)"))
        });
        assert!(
            on_lower_email && !plan.has("Seq Scan"),
            "CUSTOMER_BY_EMAIL must read an index on the expression lower(email): an index on \
             the email column itself cannot answer `lower(email) = ...`, so Postgres scans all \
             10 000 customers. Got the {}",
            describe(&all, plan)
        );
    }
}

#[tokio::test]
async fn every_index_serves_a_query_and_there_are_no_extra_ones() {
    let (db, _pool) = shop().await;

    let mut used = Vec::new();
    for (query, types, args) in [
        (RECENT_ORDERS, "(bigint)", "(42)"),
        (PENDING_ORDERS, "", ""),
        (CUSTOMER_BY_EMAIL, "(text)", "('user42@EXAMPLE.com')"),
    ] {
        for plan in plans(&db, query, types, args).await {
            used.extend(plan.indexes());
        }
    }
    let all = indexes_of_the_shop(&db).await;

    let secondary = |table: &str| -> Vec<String> {
        all.iter()
            .filter(|i| i.table == table && !i.primary)
            .map(|i| format!("{} ({})", i.name, i.columns.join(", ")))
            .collect()
    };
    let (orders, customers) = (secondary("orders"), secondary("customers"));
    assert!(
        !orders.is_empty() && !customers.is_empty(),
        "the three queries need indexes on both tables, but orders has {orders:?} and \
         customers has {customers:?} besides their primary keys"
    );
    assert!(
        orders.len() <= 2,
        "every index slows down every INSERT and UPDATE: orders may carry at most 2 indexes \
         besides its primary key, it has {}: {orders:?}",
        orders.len()
    );
    assert!(
        customers.len() <= 1,
        "customers may carry at most 1 index besides its primary key, it has {}: {customers:?}",
        customers.len()
    );
    let unused: Vec<&str> = all
        .iter()
        .filter(|i| !i.primary && !used.contains(&i.name))
        .map(|i| i.name.as_str())
        .collect();
    assert!(
        unused.is_empty(),
        "no plan of the three queries reads these indexes, so they only cost writes: {unused:?}"
    );
}
