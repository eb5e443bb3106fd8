//! What the property tests of the adapters feed their parsers: any JSON where a backend's answer
//! has a value.

/// Any JSON value, a few levels deep.
pub fn any_json() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
    use proptest::prelude::*;
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(serde_json::Value::from),
        ".{0,12}".prop_map(serde_json::Value::from),
        Just(serde_json::Value::from("NaN")),
        Just(serde_json::Value::from("-Infinity")),
        Just(serde_json::Value::from("99999999999999999999999")),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            proptest::collection::btree_map(".{0,6}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// `sample` with each of up to three of its `leaves` replaced by any JSON.
pub fn edited(
    sample: &'static str,
    leaves: &'static [&'static str],
) -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
    use proptest::prelude::*;
    proptest::collection::vec((proptest::sample::select(leaves), any_json()), 1..4).prop_map(
        move |edits| {
            let mut value: serde_json::Value = serde_json::from_str(sample).unwrap_or_default();
            for (path, v) in edits {
                if let Some(slot) = value.pointer_mut(path) {
                    *slot = v;
                }
            }
            value
        },
    )
}
