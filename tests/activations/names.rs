//! Runtime names: 37 variants, parsing, typed errors.

use arelu::{ActivationError, ActivationName, BaseActivation};
use strum::IntoEnumIterator;

use crate::all_variants;

const BASES: [&str; 19] = [
    "relu",
    "relu6",
    "leaky_relu",
    "rrelu",
    "celu",
    "elu",
    "gelu",
    "maxout",
    "selu",
    "sigmoid",
    "softplus",
    "swish",
    "tanh",
    "apl",
    "mixture",
    "pau",
    "prelu",
    "slaf",
    "arelu",
];

#[test]
fn there_are_37_names_that_round_trip() {
    let names: Vec<String> = ActivationName::all().map(|n| n.to_string()).collect();
    let mut expected: Vec<String> = BASES.iter().map(|s| s.to_string()).collect();
    expected.extend(BASES[..18].iter().map(|s| format!("elsa-{s}")));
    assert_eq!(names, expected);
    for name in &names {
        let parsed: ActivationName = name.parse().unwrap();
        assert_eq!(&parsed.to_string(), name);
    }
}

#[test]
fn each_name_maps_to_the_type_of_the_same_name() {
    let names: Vec<String> = ActivationName::all().map(|n| n.to_string()).collect();
    let types: Vec<String> = all_variants().iter().map(|a| a.name()).collect();
    assert_eq!(names, types);
}

#[test]
fn unknown_names_list_the_valid_ones() {
    let err = "softmax".parse::<ActivationName>().unwrap_err();
    match &err {
        ActivationError::UnknownName { name, valid } => {
            assert_eq!(name, "softmax");
            assert!(valid.contains("leaky_relu") && valid.contains("elsa-slaf"));
        }
        other => panic!("wrong error {other:?}"),
    }
    assert!(err.to_string().contains("valid names"));
    assert!("elsa-".parse::<ActivationName>().is_err());
    assert!("elsa-elsa-relu".parse::<ActivationName>().is_err());
}

#[test]
fn elsa_arelu_is_refused_clearly() {
    assert_eq!(
        "elsa-arelu".parse::<ActivationName>().unwrap_err(),
        ActivationError::ElsaOfArelu
    );
    assert_eq!(
        ActivationName::new(BaseActivation::Arelu, true).unwrap_err(),
        ActivationError::ElsaOfArelu
    );
}

#[test]
fn learnable_bases_are_the_last_six() {
    let learnable: Vec<&str> = BASES
        .iter()
        .filter(|s| s.parse::<BaseActivation>().unwrap().is_learnable())
        .copied()
        .collect();
    assert_eq!(
        learnable,
        ["apl", "mixture", "pau", "prelu", "slaf", "arelu"]
    );
}

#[test]
fn names_parse_case_insensitively_with_dash_and_underscore_alike() {
    let leaky: ActivationName = "elsa-leaky_relu".parse().unwrap();
    for spelling in [
        "ELSA-LEAKY_RELU",
        "elsa_leaky-relu",
        "Elsa-Leaky-ReLU",
        "elsa_leaky_relu",
    ] {
        assert_eq!(
            spelling.parse::<ActivationName>().unwrap(),
            leaky,
            "{spelling}"
        );
    }
    assert_eq!(
        "ReLU6".parse::<BaseActivation>().unwrap(),
        BaseActivation::Relu6
    );
    assert_eq!(leaky.to_string(), "elsa-leaky_relu");
    assert!("elsaleaky_relu".parse::<ActivationName>().is_err());
    assert!("ELSA-ARELU".parse::<ActivationName>().is_err());
}

#[test]
fn learnable_flags_come_from_the_table() {
    let learnable: Vec<&str> = BaseActivation::iter()
        .filter(|b| b.is_learnable())
        .map(|b| b.as_str())
        .collect();
    assert_eq!(
        learnable,
        ["apl", "mixture", "pau", "prelu", "slaf", "arelu"]
    );
}

#[cfg(feature = "experiment")]
#[test]
fn names_serialise_as_their_string_form() {
    let name: ActivationName = "elsa-swish".parse().unwrap();
    let json = serde_json::to_string(&name).unwrap();
    assert_eq!(json, "\"elsa-swish\"");
    let back: ActivationName = serde_json::from_str("\"ELSA_Swish\"").unwrap();
    assert_eq!(back, name);
    assert!(serde_json::from_str::<ActivationName>("\"softmax\"").is_err());
    assert!(serde_json::from_str::<ActivationName>("\"elsa-arelu\"").is_err());
}
