//! The maintainers' commands (as rustlings' `dev/`): `check` proves every topic (stub fails,
//! solution passes, each wrong answer is caught, each alternative passes) with the runner that
//! grades; `bench` prints the speed figures; `mutants` runs mutation testing; `workflows`
//! lints the GitHub workflows for `check`.

pub mod bench;
pub mod check;
pub mod mutants;
pub mod workflows;
pub mod wrong_answers;
