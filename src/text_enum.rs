//! One way to give a fieldless enum its text form, instead of a hand-written copy per type.

/// For `$type`, listing its variants in the order people see them with their wire names:
/// `ALL` (in that order), `as_str`, `Display`, `FromStr` (an error naming what was expected, e.g.
/// "unknown scope `x`: expected one of api, pipeline"), `TryFrom<String>` and `Into<&str>` (for
/// serde's `try_from`/`into`) and, on the server, sqlx's `Type`/`Encode`/`Decode` as TEXT.
/// `lenient` parsing also accepts another case, surrounding spaces and `-` for `_`, as people
/// type on a command line.
macro_rules! text_enum {
    ($type:ident, $what:literal $(, $lenient:ident)? { $($variant:ident = $text:literal),* $(,)? }) => {
        impl $type {
            pub const ALL: [$type; [$($text),*].len()] = [$($type::$variant),*];

            pub fn as_str(self) -> &'static str {
                match self {
                    $($type::$variant => $text),*
                }
            }
        }

        impl ::std::fmt::Display for $type {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl ::std::str::FromStr for $type {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                let wanted = text_enum!(@normalize s $(, $lenient)?);
                $type::ALL.into_iter().find(|value| value.as_str() == wanted).ok_or_else(|| {
                    let known: Vec<&str> = $type::ALL.iter().map(|value| value.as_str()).collect();
                    format!("unknown {} `{s}`: expected one of {}", $what, known.join(", "))
                })
            }
        }

        impl TryFrom<String> for $type {
            type Error = String;
            fn try_from(value: String) -> Result<Self, String> {
                value.parse()
            }
        }

        impl From<$type> for &'static str {
            fn from(value: $type) -> &'static str {
                value.as_str()
            }
        }

        /// Stored as its text in a TEXT column, on either backend.
        #[cfg(feature = "server")]
        impl<DB: ::sqlx::Database> ::sqlx::Type<DB> for $type
        where
            str: ::sqlx::Type<DB>,
        {
            fn type_info() -> DB::TypeInfo {
                <str as ::sqlx::Type<DB>>::type_info()
            }

            fn compatible(ty: &DB::TypeInfo) -> bool {
                <str as ::sqlx::Type<DB>>::compatible(ty)
            }
        }

        #[cfg(feature = "server")]
        impl<'r, DB: ::sqlx::Database> ::sqlx::Decode<'r, DB> for $type
        where
            &'r str: ::sqlx::Decode<'r, DB>,
        {
            fn decode(value: DB::ValueRef<'r>) -> Result<Self, ::sqlx::error::BoxDynError> {
                Ok(<&'r str as ::sqlx::Decode<'r, DB>>::decode(value)?.parse::<$type>()?)
            }
        }

        #[cfg(feature = "server")]
        impl<'q, DB: ::sqlx::Database> ::sqlx::Encode<'q, DB> for $type
        where
            &'q str: ::sqlx::Encode<'q, DB>,
        {
            fn encode_by_ref(
                &self,
                buf: &mut <DB as ::sqlx::Database>::ArgumentBuffer<'q>,
            ) -> Result<::sqlx::encode::IsNull, ::sqlx::error::BoxDynError> {
                <&'q str as ::sqlx::Encode<'q, DB>>::encode(self.as_str(), buf)
            }
        }
    };
    (@normalize $s:ident) => { $s.to_string() };
    (@normalize $s:ident, lenient) => { $s.trim().to_ascii_lowercase().replace('-', "_") };
}

#[cfg(test)]
mod tests {
    use crate::operations::RunStatus;
    use crate::pipelines::PipelineState;
    use crate::tokens::AccountRole;
    use crate::Role;

    #[test]
    fn strict_and_lenient_parsing_name_what_they_expect() {
        assert_eq!("queued".parse::<RunStatus>(), Ok(RunStatus::Queued));
        assert!("Queued".parse::<RunStatus>().is_err(), "wire names are exact");
        assert_eq!(" Site-Admin ".parse::<AccountRole>(), Ok(AccountRole::SiteAdmin));
        assert_eq!(
            "boss".parse::<Role>(),
            Err("unknown role `boss`: expected one of owner, manager, operator, readonly".to_string())
        );
        assert_eq!(
            PipelineState::try_from("asleep".to_string()),
            Err("unknown pipeline state `asleep`: expected one of idle, running, paused, stopped".to_string())
        );
        assert_eq!(AccountRole::ALL, [AccountRole::SiteAdmin, AccountRole::PowerUser, AccountRole::User]);
    }
}
