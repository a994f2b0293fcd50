//! What users read on a terminal: short, coloured only on a terminal, `NO_COLOR` respected.

use std::io::IsTerminal;

fn colour(code: &str, text: &str) -> String {
    if std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
    {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_string()
    }
}

pub fn green(text: &str) -> String {
    colour("32", text)
}
pub fn red(text: &str) -> String {
    colour("31", text)
}
pub fn yellow(text: &str) -> String {
    colour("33", text)
}
pub fn bold(text: &str) -> String {
    colour("1", text)
}

/// `[#####.....]`
pub fn bar(done: usize, total: usize, width: usize) -> String {
    let filled = (done * width).checked_div(total).unwrap_or(0);
    format!("[{}{}]", "#".repeat(filled), ".".repeat(width - filled))
}
