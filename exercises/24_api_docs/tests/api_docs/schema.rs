//! Reading the document's schemas beyond validation: which members a schema declares.

use serde_json::Value;
/// Resolves a `#/components/...` reference (and chains of them) to the schema it names.
fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    let mut schema = schema;
    for _ in 0..16 {
        let Some(reference) = schema["$ref"].as_str() else {
            break;
        };
        let Some(pointer) = reference.strip_prefix('#') else {
            break;
        };
        match doc.pointer(pointer) {
            Some(target) => schema = target,
            None => break,
        }
    }
    schema
}

/// The members of `body` (at `at`, and inside it) that `schema` does not declare as
/// properties: a schema that only tolerates a member does not tell a client it is there.
pub fn undeclared(doc: &Value, schema: &Value, body: &Value, at: &str) -> Vec<String> {
    let schema = resolve(doc, schema);
    let branches: Vec<&Value> = std::iter::once(schema)
        .chain(
            ["allOf", "oneOf", "anyOf"]
                .iter()
                .filter_map(|k| schema[*k].as_array())
                .flatten()
                .map(|branch| resolve(doc, branch)),
        )
        .collect();
    match body {
        Value::Object(members) => members
            .iter()
            .flat_map(|(name, value)| {
                let declared = branches
                    .iter()
                    .find_map(|branch| branch["properties"].get(name));
                let path = format!("{at}.{name}");
                match declared {
                    Some(property) => undeclared(doc, property, value, &path),
                    None => vec![path],
                }
            })
            .collect(),
        Value::Array(items) => match branches.iter().find_map(|b| b.get("items")) {
            Some(item) => items
                .iter()
                .enumerate()
                .flat_map(|(i, value)| undeclared(doc, item, value, &format!("{at}[{i}]")))
                .collect(),
            None => Vec::new(),
        },
        _ => Vec::new(),
    }
}
