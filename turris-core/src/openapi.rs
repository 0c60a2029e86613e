//! OpenAPI schemas (feature `openapi`): the string newtypes (ids, [`crate::Npn`],
//! [`crate::StateCode`], [`crate::record::Email`]) serialize as plain strings, so their schema
//! is written here once; every other type derives `utoipa::ToSchema` beside its definition.

/// Implements `utoipa::ToSchema` for a newtype that serializes as a string.
macro_rules! string_schema {
    ($name:ty, $description:expr, $pattern:expr, $example:expr) => {
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::RefOr::T(utoipa::openapi::schema::Schema::Object(
                    utoipa::openapi::schema::ObjectBuilder::new()
                        .schema_type(utoipa::openapi::schema::Type::String)
                        .description(Some($description))
                        .pattern(Some($pattern))
                        .examples([$example])
                        .build(),
                ))
            }
        }

        impl utoipa::ToSchema for $name {}
    };
}

pub(crate) use string_schema;
