//! `#[suite_test]`: registers an async test function with the end-to-end suite it is compiled into,
//! the way `#[test]` does for libtest, so a suite keeps no list of its tests by hand.
//!
//! The attribute leaves the function as it is and adds `crate::register_test!(name, args)` after it,
//! where `args` are the attribute's own tokens (`()` when it has none). Each suite's `main.rs`
//! defines `register_test!` to record the function (with `inventory`) in whatever shape it runs
//! tests. Test functions are private, so one that lost its attribute is dead code and fails
//! `clippy -D warnings` instead of silently never running.

use proc_macro::{TokenStream, TokenTree};

/// Registers the `async fn` it is put on with the suite (see the crate's documentation).
#[proc_macro_attribute]
pub fn suite_test(args: TokenStream, item: TokenStream) -> TokenStream {
    let Some(name) = function_name(item.clone()) else {
        return error("#[suite_test] goes on a function: `async fn name(app: TestApp)`");
    };
    let args = if args.is_empty() { "()".to_owned() } else { format!("({args})") };
    let registration = format!("crate::register_test!({name}, {args});");
    match registration.parse::<TokenStream>() {
        Ok(tokens) => item.into_iter().chain(tokens).collect(),
        Err(_) => error("#[suite_test]: the arguments are not valid tokens"),
    }
}

/// The identifier after `fn`.
fn function_name(item: TokenStream) -> Option<String> {
    let mut tokens = item.into_iter();
    while let Some(token) = tokens.next() {
        if matches!(&token, TokenTree::Ident(i) if i.to_string() == "fn") {
            return match tokens.next() {
                Some(TokenTree::Ident(name)) => Some(name.to_string()),
                _ => None,
            };
        }
    }
    None
}

fn error(message: &str) -> TokenStream {
    format!("compile_error!({message:?});").parse().unwrap_or_default()
}
