//! Hidden tests for the API docs kata: the served OpenAPI document must describe the router
//! exactly, and the API's real responses must validate against the schemas it documents.
//!
//! Rule (README / stub) -> test:
//! - `GET /openapi.json`: 200, `application/json`, OpenAPI 3.1, `info.title` `Tasks API`,
//!   `info.version` `1.0.0` -> `the_document_is_served_as_openapi_3_1`
//! - exactly the five operations (no other method, not `/openapi.json`)
//!   -> `every_route_is_documented_and_nothing_else`
//! - every real answer's status documented for its operation, its JSON body valid against the
//!   documented schema, which declares each of its members as a property, 204 without body:
//!   201, list (both tasks created, oldest first), show, healthz, 204, 404 on GET and DELETE,
//!   400 for a malformed id (`abc`, `-1`, past `u64`) on GET and DELETE
//!   -> `every_documented_operation_answers_as_documented`
//! - 422 (empty, 101-character, missing or non-string title, unknown priority, not JSON)
//!   documented with its body -> `invalid_input_is_answered_with_a_documented_error`
//! - request body required; its schema accepts exactly what the API accepts: title 1 and 100
//!   characters yes, 0 and 101 no, missing no; each of low/normal/high yes, others no; and agrees
//!   with the API on `null` priority and extra members
//!   -> `the_request_schema_carries_the_rules_the_api_enforces`
//! - `id`: a required integer path parameter on GET and DELETE -> `the_path_parameter_is_documented`
//! - over a real socket -> `the_document_is_served_over_a_real_socket`

#[path = "api_docs/schema.rs"]
mod schema;

use std::collections::BTreeSet;

use api_docs::{AppState, app};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use kata_testkit::http::{self, Reply};
use serde_json::{Value, json};

/// The API of the task statement: what the document must list, no more, no less.
const OPERATIONS: [(&str, &str); 5] = [
    ("get", "/tasks"),
    ("post", "/tasks"),
    ("get", "/tasks/{id}"),
    ("delete", "/tasks/{id}"),
    ("get", "/healthz"),
];

/// The methods an OpenAPI path item can hold.
const HTTP_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

async fn call(state: &AppState, method: Method, uri: &str, body: Option<&str>) -> Reply {
    let mut request = Request::builder().method(method).uri(uri);
    if body.is_some() {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    let request = request
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
        .expect("a valid request");
    http::send(&app(state.clone()), request).await
}

async fn document(state: &AppState) -> Value {
    let reply = call(state, Method::GET, "/openapi.json", None).await;
    assert_eq!(
        reply.status,
        StatusCode::OK,
        "expected the OpenAPI document at GET /openapi.json"
    );
    serde_json::from_slice(&reply.body).expect("GET /openapi.json must return JSON")
}

fn documented_operations(doc: &Value) -> BTreeSet<(String, String)> {
    let paths = doc["paths"].as_object().expect("the document has `paths`");
    paths
        .iter()
        .flat_map(|(path, item)| {
            let methods = item.as_object().expect("a path item is an object");
            methods
                .keys()
                .filter(|m| HTTP_METHODS.contains(&m.as_str()))
                .map(move |m| (m.clone(), path.clone()))
        })
        .collect()
}

/// A schema of the document made self-contained: its `#/components/...` references resolve.
fn standalone(doc: &Value, schema: &Value) -> Value {
    let mut schema = schema.clone();
    schema["components"] = doc["components"].clone();
    schema
}

/// Checks a real response against what the document says `method path` answers.
fn assert_documented(doc: &Value, method: &str, path: &str, reply: &Reply) {
    let operation = &doc["paths"][path][method];
    let status = reply.status.as_u16().to_string();
    let response = &operation["responses"][&status];
    assert!(
        response.is_object(),
        "{} {path} answered {status}, but the document lists only {:?} for it",
        method.to_uppercase(),
        operation["responses"]
            .as_object()
            .map(|r| r.keys().collect::<Vec<_>>())
    );
    let Some(schema) = response["content"]["application/json"]["schema"].as_object() else {
        assert!(
            reply.body.is_empty(),
            "{} {path} {status}: the document says no JSON body, the API sent {:?}",
            method.to_uppercase(),
            reply.text()
        );
        return;
    };
    assert!(
        reply
            .header(header::CONTENT_TYPE)
            .starts_with("application/json"),
        "{} {path} {status}: documented as application/json, sent {:?}",
        method.to_uppercase(),
        reply.header(header::CONTENT_TYPE)
    );
    let body: Value = serde_json::from_slice(&reply.body).expect("a JSON body");
    let validator = jsonschema::validator_for(&standalone(doc, &Value::Object(schema.clone())))
        .unwrap_or_else(|e| {
            panic!("the documented schema of {method} {path} {status} is invalid: {e}")
        });
    let errors: Vec<String> = validator
        .iter_errors(&body)
        .map(|e| e.to_string())
        .collect();
    assert!(
        errors.is_empty(),
        "{} {path} {status}: the real body {body} does not match the documented schema: {errors:?}",
        method.to_uppercase()
    );
    let missing = schema::undeclared(doc, &Value::Object(schema.clone()), &body, "body");
    assert!(
        missing.is_empty(),
        "{} {path} {status}: the real body {body} has members its documented schema does not \
         declare as properties: {missing:?} (a schema that merely tolerates them, such as the \
         request's schema for the created task, does not tell a client they are there: \
         document the type the handler returns)",
        method.to_uppercase()
    );
}

#[tokio::test]
async fn the_document_is_served_as_openapi_3_1() {
    let state = AppState::default();

    let reply = call(&state, Method::GET, "/openapi.json", None).await;

    assert_eq!(reply.status, StatusCode::OK, "GET /openapi.json");
    assert!(
        reply
            .header(header::CONTENT_TYPE)
            .starts_with("application/json"),
        "expected application/json, got {:?}",
        reply.header(header::CONTENT_TYPE)
    );
    let doc: Value = serde_json::from_slice(&reply.body).expect("JSON");
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "expected an OpenAPI 3.1 document, got openapi = {}",
        doc["openapi"]
    );
    assert_eq!(doc["info"]["title"], "Tasks API", "info.title");
    assert_eq!(doc["info"]["version"], "1.0.0", "info.version");
}

#[tokio::test]
async fn every_route_is_documented_and_nothing_else() {
    let doc = document(&AppState::default()).await;

    let documented = documented_operations(&doc);

    let expected: BTreeSet<(String, String)> = OPERATIONS
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(
        documented, expected,
        "the document must list exactly the API's operations (left: documented, right: the API)"
    );
}

#[tokio::test]
async fn every_documented_operation_answers_as_documented() {
    let state = AppState::default();
    let doc = document(&state).await;

    let created = call(
        &state,
        Method::POST,
        "/tasks",
        Some(r#"{"title":"Write docs"}"#),
    )
    .await;
    assert_eq!(
        created.status,
        StatusCode::CREATED,
        "POST /tasks with a valid body"
    );
    let id = serde_json::from_slice::<Value>(&created.body).expect("JSON")["id"].clone();
    let low = r#"{"title":"Review","priority":"low"}"#;
    let second = call(&state, Method::POST, "/tasks", Some(low)).await;
    let list = call(&state, Method::GET, "/tasks", None).await;
    // Only items that are there get checked against the schema: the list holds both tasks.
    let titles: Vec<Value> = serde_json::from_slice::<Vec<Value>>(&list.body)
        .map(|tasks| tasks.iter().map(|t| t["title"].clone()).collect())
        .unwrap_or_default();
    assert_eq!(
        titles,
        [json!("Write docs"), json!("Review")],
        "GET /tasks (the given handler) must list both tasks created, oldest first, got {}",
        list.text()
    );
    let cases = [
        ("post", "/tasks", created),
        ("post", "/tasks", second),
        ("get", "/tasks", list),
        (
            "get",
            "/tasks/{id}",
            call(&state, Method::GET, &format!("/tasks/{id}"), None).await,
        ),
        (
            "get",
            "/tasks/{id}",
            call(&state, Method::GET, "/tasks/999", None).await,
        ),
        (
            "get",
            "/healthz",
            call(&state, Method::GET, "/healthz", None).await,
        ),
        (
            "delete",
            "/tasks/{id}",
            call(&state, Method::DELETE, &format!("/tasks/{id}"), None).await,
        ),
        (
            "delete",
            "/tasks/{id}",
            call(&state, Method::DELETE, "/tasks/999", None).await,
        ),
    ];

    for (method, path, reply) in &cases {
        assert_documented(&doc, method, path, reply);
    }
    // A malformed id is answered too (400): it belongs in the document as well.
    for bad in ["abc", "-1", "18446744073709551616"] {
        for method in [Method::GET, Method::DELETE] {
            let reply = call(&state, method.clone(), &format!("/tasks/{bad}"), None).await;
            let method = method.as_str().to_lowercase();
            assert_documented(&doc, &method, "/tasks/{id}", &reply);
        }
    }
}

#[tokio::test]
async fn invalid_input_is_answered_with_a_documented_error() {
    let state = AppState::default();
    let doc = document(&state).await;

    let long = format!(r#"{{"title":"{}"}}"#, "x".repeat(101));
    for body in [
        r#"{"title":""}"#,
        &long,
        r#"{"title":5}"#,
        r#"{"priority":"high"}"#,
        r#"{"title":"x","priority":"urgent"}"#,
        "not json",
    ] {
        let reply = call(&state, Method::POST, "/tasks", Some(body)).await;

        assert_eq!(
            reply.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "POST /tasks {body}: expected 422, got {}",
            reply.status
        );
        assert_documented(&doc, "post", "/tasks", &reply);
    }
}

#[tokio::test]
async fn the_request_schema_carries_the_rules_the_api_enforces() {
    let doc = document(&AppState::default()).await;
    let request = &doc["paths"]["/tasks"]["post"]["requestBody"];
    assert_eq!(
        request["required"], true,
        "POST /tasks: the body is required: {request}"
    );
    let schema = &request["content"]["application/json"]["schema"];
    let validator = jsonschema::validator_for(&standalone(&doc, schema))
        .unwrap_or_else(|e| panic!("the request schema {schema} is invalid: {e}"));

    // `Some(valid)`: the README fixes the answer; `None`: the schema must agree with the API.
    let bodies = [
        (json!({"title": "ok"}), Some(true)),
        (json!({"title": "x"}), Some(true)),
        (json!({"title": "x".repeat(100)}), Some(true)),
        (json!({"title": "é".repeat(100)}), Some(true)),
        (json!({"title": "ok", "priority": "low"}), Some(true)),
        (json!({"title": "ok", "priority": "normal"}), Some(true)),
        (json!({"title": "ok", "priority": "high"}), Some(true)),
        (json!({"title": ""}), Some(false)),
        (json!({"title": "x".repeat(101)}), Some(false)),
        (json!({"priority": "low"}), Some(false)),
        (json!({"title": null}), Some(false)),
        (json!({"title": 5}), Some(false)),
        (json!({"title": "ok", "priority": "urgent"}), Some(false)),
        (json!({"title": "ok", "priority": "High"}), Some(false)),
        (json!({"title": "ok", "priority": null}), None),
        (json!({"title": "ok", "note": "extra"}), None),
    ];
    for (body, fixed) in bodies {
        let reply = call(
            &AppState::default(),
            Method::POST,
            "/tasks",
            Some(&body.to_string()),
        )
        .await;
        let accepted = reply.status == StatusCode::CREATED;
        let valid = fixed.unwrap_or(accepted);

        assert_eq!(
            validator.is_valid(&body),
            valid,
            "the documented CreateTask schema should {} {body} (the API answers {}): a client \
             generated from the document must know the API's rules (required title, 1-100 \
             characters, priority one of low/normal/high)",
            if valid { "accept" } else { "reject" },
            reply.status
        );
    }
}

#[tokio::test]
async fn the_path_parameter_is_documented() {
    let doc = document(&AppState::default()).await;

    for method in ["get", "delete"] {
        let parameters = doc["paths"]["/tasks/{id}"][method]["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let id = parameters.iter().find(|p| p["name"] == "id");
        assert!(
            id.is_some_and(|p| p["in"] == "path" && p["required"] == true),
            "{method} /tasks/{{id}}: expected a required path parameter `id`, got {parameters:?}"
        );
        let schema = id
            .map(|p| standalone(&doc, &p["schema"]))
            .unwrap_or_default();
        let validator = jsonschema::validator_for(&schema)
            .unwrap_or_else(|e| panic!("the schema of `id`, {schema}, is invalid: {e}"));
        assert!(
            validator.is_valid(&json!(7)) && !validator.is_valid(&json!("abc")),
            "{method} /tasks/{{id}}: expected `id` documented as an integer (7 valid, \"abc\" \
             not), got the schema {schema}"
        );
    }
}

#[tokio::test]
async fn the_document_is_served_over_a_real_socket() {
    let server = http::serve(app(AppState::default())).await;

    let response = http::raw(server.addr, "GET /openapi.json HTTP/1.1", "").await;

    assert!(
        response.starts_with("HTTP/1.1 200 OK\r\n"),
        "expected 200 over the socket, got:\n{response}"
    );
    assert!(
        response.contains(r#""/tasks/{id}""#),
        "expected the document over the socket, got:\n{response}"
    );
}
