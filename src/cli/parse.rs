//! The command line as clap parses it, with two house rules added in one place: a value may start with
//! `-` (`--seed -1`, `--spectrum -1,2`), so that a negative number reaches its flag and is refused there
//! with the allowed range instead of being taken for an unknown flag; and a value that does not parse is
//! reported as `invalid FLAG = VALUE: allowed RANGE`, exit code 2.

use clap::builder::ValueParser;
use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{value_parser, Arg, Command, CommandFactory, FromArgMatches};

/// Parse the process's arguments into `T`, or exit: 0 after `--help`/`--version`, 2 on bad input.
pub fn parse<T: CommandFactory + FromArgMatches>() -> T {
    let mut command = accept_negative_values(T::command());
    let parsed = command.try_get_matches_from_mut(std::env::args_os()).and_then(|m| T::from_arg_matches(&m));
    match parsed {
        Ok(cli) => cli,
        Err(e) => match bad_value(&command, &e) {
            Some(message) => {
                eprintln!("error: {message}");
                std::process::exit(2)
            }
            None => e.exit(),
        },
    }
}

/// `command` with every value-taking flag, in every subcommand, accepting values that start with `-`.
/// Lists (`--spectrum -1,2`) take any such value; single values take negative numbers only, so that a
/// forgotten value (`--seed --out DIR`) is still an error about the missing value.
pub fn accept_negative_values(command: Command) -> Command {
    command.mut_subcommands(accept_negative_values).mut_args(|arg| {
        if !arg.get_action().takes_values() || arg.is_positional() {
            arg
        } else if arg.get_value_delimiter().is_some() {
            arg.allow_hyphen_values(true)
        } else {
            arg.allow_negative_numbers(true)
        }
    })
}

/// The house message for a value that failed to parse, or `None` for clap's own errors.
fn bad_value(root: &Command, e: &clap::Error) -> Option<String> {
    if !matches!(e.kind(), ErrorKind::ValueValidation | ErrorKind::InvalidValue) {
        return None;
    }
    let text = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => Some(s.clone()),
        _ => None,
    };
    let flag = text(ContextKind::InvalidArg)?;
    let value = text(ContextKind::InvalidValue).filter(|v| !v.is_empty())?;
    let long = flag.split_whitespace().next()?.trim_start_matches('-').to_string();
    let allowed = match e.get(ContextKind::ValidValue) {
        Some(ContextValue::Strings(names)) => names.join(", "),
        _ => allowed_for(find_arg(root, &long)?)?,
    };
    Some(format!("invalid {long} = {value}: allowed {allowed}"))
}

/// The flag `--long` in `command` or any of its subcommands (names are used consistently across them).
fn find_arg<'a>(command: &'a Command, long: &str) -> Option<&'a Arg> {
    command
        .get_arguments()
        .find(|a| a.get_long() == Some(long))
        .or_else(|| command.get_subcommands().find_map(|sub| find_arg(sub, long)))
}

/// The range a value of `arg`'s type can take, in words.
fn allowed_for(arg: &Arg) -> Option<String> {
    let id = arg.get_value_parser().type_id();
    let is = |parser: ValueParser| parser.type_id() == id;
    let (one, many, list) = match arg.get_value_delimiter() {
        Some(_) => ("", "s", ", comma-separated"),
        None => ("a ", "", ""),
    };
    if is(value_parser!(u64).into()) || is(value_parser!(usize).into()) || is(value_parser!(u32).into()) {
        Some(format!("{one}whole number{many} ≥ 0 (digits only){list}"))
    } else if is(value_parser!(f64).into()) || is(value_parser!(f32).into()) {
        Some(format!("{one}number{many} (such as 0.5, -2 or 1e-3){list}"))
    } else {
        None
    }
}
