//! Filter invariants, for any property map and any condition.

use proptest::prelude::*;
use turris_core::filter::{Operator, is_decimal_number};
use turris_core::{Condition, IdentifierFilter, PropertyMap};

/// Values that stress the semantics: empty, whitespace, case variants, numbers, unicode.
fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just(" ".to_owned()),
        Just("Agency".to_owned()),
        Just("agency".to_owned()),
        Just(" Agency".to_owned()),
        Just("NaN".to_owned()),
        Just("inf".to_owned()),
        "-?[0-9]{1,4}(\\.[0-9]{0,3})?([eE][+-]?[0-9]{1,3})?",
        any::<String>(),
    ]
}

fn property() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("type".to_owned()),
        Just("name".to_owned()),
        "[a-z_]{1,8}"
    ]
}

fn property_map() -> impl Strategy<Value = PropertyMap> {
    prop::collection::vec((property(), prop::option::of(value())), 0..8)
        .prop_map(|pairs| pairs.into_iter().collect())
}

fn operator() -> impl Strategy<Value = Operator> {
    prop::sample::select(Operator::ALL.to_vec())
}

fn condition() -> impl Strategy<Value = Condition> {
    (
        prop::option::of(property()),
        prop::option::of(operator()),
        prop::option::of(value()),
        prop::option::of(prop::collection::vec(value(), 0..4)),
    )
        .prop_map(|(property, operator, value, values)| Condition {
            property,
            operator,
            value,
            values,
        })
}

proptest! {
    #[test]
    fn is_populated_is_the_negation_of_is_not_populated(map in property_map(), name in property()) {
        prop_assert_eq!(
            Condition::is_populated(&name).evaluate(&map),
            !Condition::is_not_populated(&name).evaluate(&map)
        );
    }

    #[test]
    fn is_one_of_a_single_value_is_equals_that_value(map in property_map(), name in property(), v in value()) {
        prop_assert_eq!(
            Condition::is_one_of(&name, [v.as_str()]).evaluate(&map),
            Condition::equals(&name, &v).evaluate(&map)
        );
    }

    #[test]
    fn evaluation_never_panics_and_sync_all_matches_everything(map in property_map(), c in condition()) {
        let _ = c.evaluate(&map);
        let _ = c.structural_errors();
        prop_assert!(IdentifierFilter::SyncAll.evaluate(&map));
    }

    #[test]
    fn a_condition_missing_a_required_part_never_matches(map in property_map(), c in condition()) {
        let needs_value = matches!(c.operator, Some(Operator::Equals | Operator::Contains));
        let missing_part = c.property.is_none()
            || c.operator.is_none()
            || (needs_value && c.value.is_none())
            || (c.operator == Some(Operator::IsOneOf) && c.values.is_none());
        if missing_part {
            prop_assert!(!c.evaluate(&map));
            prop_assert!(!c.is_complete());
        }
    }

    #[test]
    fn a_value_contains_any_of_its_substrings(prefix in value(), needle in value(), suffix in value()) {
        let map = PropertyMap::from_pairs([("p", Some(format!("{prefix}{needle}{suffix}").as_str()))]);
        prop_assert!(Condition::contains("p", &needle).evaluate(&map));
    }

    #[test]
    fn every_finite_float_rendering_is_a_number_and_padding_breaks_it(x in any::<f64>().prop_filter("finite", |x| x.is_finite())) {
        for text in [format!("{x}"), format!("{x:e}"), format!("{x:.3}")] {
            prop_assert!(is_decimal_number(&text), "{}", text);
            let (leading, trailing) = (format!(" {text}"), format!("{text} "));
            prop_assert!(!is_decimal_number(&leading));
            prop_assert!(!is_decimal_number(&trailing));
        }
    }

    #[test]
    fn is_a_number_implies_rust_can_parse_it(text in value()) {
        if is_decimal_number(&text) {
            prop_assert!(text.parse::<f64>().is_ok(), "{}", text);
        }
    }

    #[test]
    fn filters_survive_a_json_round_trip(c in condition()) {
        let filter = IdentifierFilter::ApplyFilter(c);
        let json = serde_json::to_string(&filter).unwrap();
        prop_assert_eq!(serde_json::from_str::<IdentifierFilter>(&json).unwrap(), filter);
    }
}
