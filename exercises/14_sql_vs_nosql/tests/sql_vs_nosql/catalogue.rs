//! The product catalogue as JSONB documents and as normalized rows: same answers, and the
//! document query is served by the GIN index.

use std::collections::BTreeMap;

use kata_testkit::TestDb;
use serde_json::{Value, json};
use sql_vs_nosql::{
    FIND_BY_ATTRIBUTE_JSON, Product, find_by_attribute_json, find_by_attribute_normalized,
    insert_product,
};
use sqlx::{AssertSqlSafe, PgPool};

use super::SCHEMA;

/// Products seeded in SQL for the volume tests.
const PRODUCTS: i64 = 50_000;

fn product(id: i64, attributes: &[(&str, &str)]) -> Product {
    Product {
        id,
        name: format!("product {id}"),
        attributes: attributes
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect::<BTreeMap<_, _>>(),
    }
}

/// 50 000 products in both forms, the same every run (attributes derive from a hash of the
/// id): 2% have a color (red is 0.4%), a third a size, a seventh a material, all a brand.
/// They are inserted in the order of that hash, not of their ids, so a query that returns
/// rows in the table's physical order (no `ORDER BY`) does not return ascending ids.
async fn seeded_catalogue() -> TestDb {
    // The rows are part of the template: each test's copy starts full, not seeded again.
    let seed = format!(
        "INSERT INTO products (id, name, attributes)
         SELECT i, 'product ' || i, jsonb_strip_nulls(jsonb_build_object(
             'color', CASE WHEN h % 50 = 0 THEN (ARRAY['red','green','blue','black','white'])[1 + (h / 50) % 5] END,
             'size', CASE WHEN h % 3 = 0 THEN (ARRAY['S','M','L','XL'])[1 + (h / 3) % 4] END,
             'material', CASE WHEN h % 7 = 1 THEN (ARRAY['cotton','wool','steel'])[1 + (h / 7) % 3] END,
             'brand', 'brand ' || (h % 40)))
         FROM (SELECT i, abs(hashint4(i)::int8) AS h FROM generate_series(1, {PRODUCTS}) i) s
         ORDER BY h, i;
         INSERT INTO product_attributes (product_id, name, value)
         SELECT p.id, a.key, a.value FROM products p, jsonb_each_text(p.attributes) a;
         ANALYZE products;
         ANALYZE product_attributes;"
    );
    TestDb::new(&format!("{SCHEMA}\n{seed}")).await
}

async fn both_queries(pool: &PgPool, name: &str, value: &str) -> (Vec<i64>, Vec<i64>) {
    let json = find_by_attribute_json(pool, name, value).await;
    let json =
        json.unwrap_or_else(|e| panic!("find_by_attribute_json({name:?}, {value:?}) failed: {e}"));
    let rows = find_by_attribute_normalized(pool, name, value).await;
    let rows = rows.unwrap_or_else(|e| {
        panic!("find_by_attribute_normalized({name:?}, {value:?}) failed: {e}")
    });
    (json, rows)
}

#[tokio::test]
async fn a_product_is_stored_as_a_document_and_as_rows() {
    let db = TestDb::new(SCHEMA).await;
    let pool = db.pool().await;
    let quoted = r#"matte "soft touch", 100% {cotton}"#;
    for p in [
        product(1, &[("color", "red"), ("size", "M")]),
        product(2, &[("finish", quoted)]),
        product(3, &[]),
    ] {
        let stored = insert_product(&pool, &p).await;
        stored.unwrap_or_else(|e| panic!("insert_product({p:?}) failed: {e}"));
    }
    let documents: Vec<(i64, String, Value)> =
        sqlx::query_as("SELECT id, name, attributes FROM products ORDER BY id")
            .fetch_all(&mut db.admin().await)
            .await
            .expect("reading products");
    let want = vec![
        (
            1,
            "product 1".to_string(),
            json!({"color": "red", "size": "M"}),
        ),
        (2, "product 2".to_string(), json!({ "finish": quoted })),
        (3, "product 3".to_string(), json!({})),
    ];
    assert_eq!(
        documents, want,
        "the products rows (id, name, attributes as a JSON object)"
    );
    let rows: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT product_id, name, value FROM product_attributes ORDER BY 1, 2")
            .fetch_all(&mut db.admin().await)
            .await
            .expect("reading product_attributes");
    let want = vec![
        (1, "color".to_string(), "red".to_string()),
        (1, "size".to_string(), "M".to_string()),
        (2, "finish".to_string(), quoted.to_string()),
    ];
    assert_eq!(rows, want, "one product_attributes row per attribute");
    let (json, rows) = both_queries(&pool, "finish", quoted).await;
    assert_eq!(
        (json, rows),
        (vec![2], vec![2]),
        "a value with quotes and braces is data, not JSON syntax (document query, rows query)"
    );
}

#[tokio::test]
async fn a_product_that_fails_part_way_is_not_stored() {
    let db = TestDb::new(SCHEMA).await;
    sqlx::raw_sql(
        "CREATE FUNCTION fail() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$;
         CREATE TRIGGER no_poison BEFORE INSERT ON product_attributes FOR EACH ROW WHEN (NEW.name = 'poison') EXECUTE FUNCTION fail();",
    )
    .execute(&mut db.admin().await)
    .await
    .expect("installing a failing trigger");
    let result = insert_product(
        &db.pool().await,
        &product(1, &[("color", "red"), ("poison", "x")]),
    )
    .await;
    assert!(
        result.is_err(),
        "an attribute row failed: expected an error, got {result:?}"
    );
    let stored: (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM products), (SELECT count(*) FROM product_attributes)",
    )
    .fetch_one(&mut db.admin().await)
    .await
    .expect("counting rows");
    assert_eq!(
        stored,
        (0, 0),
        "an attribute row failed, so no product and no attribute row may remain (products, product_attributes)"
    );
}

#[tokio::test]
async fn document_and_normalized_queries_find_the_same_products() {
    let db = seeded_catalogue().await;
    let pool = db.pool().await;
    let filters = [
        ("color", "red"),
        ("size", "XL"),
        ("material", "wool"),
        ("brand", "brand 7"),
        ("color", "purple"),
        ("weight", "1 kg"),
    ];
    for (name, value) in filters {
        let expected: Vec<i64> =
            sqlx::query_scalar("SELECT id FROM products WHERE attributes ->> $1 = $2 ORDER BY id")
                .bind(name)
                .bind(value)
                .fetch_all(&mut db.admin().await)
                .await
                .expect("computing the expected ids");
        let (json, rows) = both_queries(&pool, name, value).await;
        for (query, got) in [("document", &json), ("normalized", &rows)] {
            let mut sorted = got.clone();
            sorted.sort_unstable();
            assert!(
                sorted == expected,
                "{name} = {value:?}: the {query} query found {} products, expected the {} ids \
                 {:?}...",
                got.len(),
                expected.len(),
                &expected[..expected.len().min(5)]
            );
            assert!(
                *got == expected,
                "{name} = {value:?}: the {query} query found the right products but not in \
                 ascending id order: {:?}... (the rows are not stored in id order: ORDER BY id)",
                &got[..got.len().min(5)]
            );
        }
    }
}

/// Every plan node as "Node Type on relation using index".
fn plan_nodes(node: &Value, out: &mut Vec<String>) {
    if let Some(kind) = node.get("Node Type").and_then(Value::as_str) {
        let field = |key| {
            node.get(key)
                .and_then(Value::as_str)
                .unwrap_or("-")
                .to_string()
        };
        out.push(format!(
            "{kind} on {} using {}",
            field("Relation Name"),
            field("Index Name")
        ));
    }
    for child in node
        .get("Plans")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        plan_nodes(child, out);
    }
    if let Some(plan) = node.get("Plan") {
        plan_nodes(plan, out);
    }
}

#[tokio::test]
async fn the_document_query_uses_the_gin_index() {
    let db = seeded_catalogue().await;
    let sql = FIND_BY_ATTRIBUTE_JSON
        .replace("$1", "'color'")
        .replace("$2", "'red'");
    let explain = format!("EXPLAIN (FORMAT JSON) {sql}");
    // Whether the index CAN serve the query: with sequential scans priced out, a query the
    // index cannot answer still plans a Seq Scan, one it can answer uses the index.
    let mut admin = db.admin().await;
    sqlx::raw_sql("SET enable_seqscan = off")
        .execute(&mut admin)
        .await
        .expect("the test can disable sequential scans");
    let plan: Value = sqlx::query_scalar(AssertSqlSafe(explain))
        .fetch_one(&mut admin)
        .await
        .unwrap_or_else(|e| {
            panic!(
                "EXPLAIN of FIND_BY_ATTRIBUTE_JSON with $1 = 'color', $2 = 'red' failed: {e}\n{sql}"
            )
        });
    let mut nodes = Vec::new();
    for root in plan.as_array().into_iter().flatten() {
        plan_nodes(root, &mut nodes);
    }
    assert!(
        nodes
            .iter()
            .any(|n| n.ends_with("using products_attributes")),
        "with {PRODUCTS} products, of which 0.4% are red, and sequential scans disabled, the query must use the GIN index products_attributes; the plan is {nodes:?} for:\n{sql}"
    );
    assert!(
        !nodes.iter().any(|n| n.starts_with("Seq Scan on products ")),
        "the query reads the whole products table (Seq Scan): {nodes:?} for:\n{sql}"
    );
}
