//! A small Dockerfile and `.dockerignore` reader for the static rules: enough of the real
//! grammar (parser directives, `\` continuations, comments inside continuations, heredocs,
//! case-insensitive instructions, `--flags`, exec form, `ARG` defaults) that a correct file is
//! read the way BuildKit reads it, and every finding can name its line.

use std::collections::HashMap;

/// One instruction; `line` is where it starts (1-based).
#[derive(Debug, Clone)]
pub struct Instruction {
    pub line: usize,
    /// Upper case: `FROM`, `RUN`, `COPY`, ...
    pub keyword: String,
    /// Everything after the keyword, continuations joined.
    pub args: String,
}

impl Instruction {
    /// The leading `--name[=value]` flags and what follows them.
    pub fn flags(&self) -> (Vec<(String, String)>, &str) {
        let mut rest = self.args.trim_start();
        let mut flags = Vec::new();
        while let Some(flag) = rest.strip_prefix("--") {
            let end = flag.find(char::is_whitespace).unwrap_or(flag.len());
            let (name, value) = flag[..end].split_once('=').unwrap_or((&flag[..end], ""));
            flags.push((name.to_ascii_lowercase(), value.to_string()));
            rest = flag[end..].trim_start();
        }
        (flags, rest)
    }

    pub fn flag(&self, name: &str) -> Option<String> {
        self.flags()
            .0
            .into_iter()
            .find_map(|(n, v)| (n == name).then_some(v))
    }
}

/// `(name, tag)` of an image reference, without a registry prefix for Docker Hub's official
/// images and without a digest, lowercased.
pub fn name_and_tag(reference: &str) -> (String, String) {
    let reference = reference.to_ascii_lowercase();
    let reference = reference.split('@').next().unwrap_or_default();
    let reference = [
        "docker.io/library/",
        "index.docker.io/library/",
        "docker.io/",
        "library/",
    ]
    .iter()
    .find_map(|prefix| reference.strip_prefix(prefix))
    .unwrap_or(reference);
    let (name, tag) = reference.split_once(':').unwrap_or((reference, ""));
    (name.to_string(), tag.to_string())
}

/// `["a", "b"]` (exec form) as its words; `None` for shell form.
pub fn exec_form(text: &str) -> Option<Vec<String>> {
    let text = text.trim();
    if !text.starts_with('[') {
        return None;
    }
    serde_json::from_str(text).ok()
}

#[derive(Debug)]
pub struct Stage {
    pub index: usize,
    pub name: Option<String>,
    /// The image or earlier stage it starts `FROM`, global `ARG` defaults substituted.
    pub base: String,
    pub line: usize,
    pub instructions: Vec<Instruction>,
    /// `ARG`s declared in the stage, with their defaults (a bare re-declaration of a global
    /// `ARG` takes the global default).
    pub args: HashMap<String, String>,
}

impl Stage {
    pub fn all(&self, keyword: &str) -> impl Iterator<Item = &Instruction> {
        self.instructions
            .iter()
            .filter(move |i| i.keyword == keyword)
    }

    pub fn last(&self, keyword: &str) -> Option<&Instruction> {
        self.all(keyword).last()
    }

    pub fn label(&self) -> String {
        match &self.name {
            Some(name) => format!("`{name}`, line {}", self.line),
            None => format!("stage {}, line {}", self.index, self.line),
        }
    }
}

#[derive(Debug)]
pub struct Dockerfile {
    pub global_args: HashMap<String, String>,
    pub stages: Vec<Stage>,
}

impl Dockerfile {
    pub fn parse(text: &str) -> Dockerfile {
        let mut global_args = HashMap::new();
        let mut stages: Vec<Stage> = Vec::new();
        for instruction in instructions(text) {
            if instruction.keyword == "FROM" {
                let (_, rest) = instruction.flags();
                let words: Vec<&str> = rest.split_whitespace().collect();
                let name = match words[..] {
                    [_, r#as, name] if r#as.eq_ignore_ascii_case("as") => {
                        Some(name.to_ascii_lowercase())
                    }
                    _ => None,
                };
                stages.push(Stage {
                    index: stages.len(),
                    name,
                    base: substitute(words.first().copied().unwrap_or(""), &global_args),
                    line: instruction.line,
                    instructions: Vec::new(),
                    args: HashMap::new(),
                });
                continue;
            }
            let Some(stage) = stages.last_mut() else {
                if instruction.keyword == "ARG" {
                    let (name, value) = arg(&instruction.args, &HashMap::new());
                    global_args.insert(name, value.unwrap_or_default());
                }
                continue;
            };
            if instruction.keyword == "ARG" {
                let (name, value) = arg(&instruction.args, &global_args);
                let value = value.or_else(|| global_args.get(&name).cloned());
                stage.args.insert(name, value.unwrap_or_default());
            }
            stage.instructions.push(instruction);
        }
        Dockerfile {
            global_args,
            stages,
        }
    }

    /// The stage `--from=` or `FROM` refers to by name or index, if it is a stage before `before`.
    pub fn stage_ref(&self, reference: &str, before: usize) -> Option<&Stage> {
        let reference = reference.to_ascii_lowercase();
        self.stages[..before].iter().find(|s| {
            s.name.as_deref() == Some(reference.as_str()) || s.index.to_string() == reference
        })
    }

    /// The image a stage really starts from, following `FROM <earlier stage>`.
    pub fn root_image(&self, stage: &Stage) -> String {
        match self.stage_ref(&stage.base, stage.index) {
            Some(parent) => self.root_image(parent),
            None => stage.base.clone(),
        }
    }

    /// Every name any `ARG` declares, global or in a stage.
    pub fn declares_arg(&self, name: &str) -> bool {
        self.global_args.contains_key(name) || self.stages.iter().any(|s| s.args.contains_key(name))
    }
}

/// `NAME=default` or `NAME` -> (NAME, default with known variables substituted).
fn arg(text: &str, known: &HashMap<String, String>) -> (String, Option<String>) {
    let text = text.trim();
    match text.split_once('=') {
        Some((name, value)) => (
            name.trim().to_string(),
            Some(substitute(value.trim().trim_matches('"'), known)),
        ),
        None => (text.to_string(), None),
    }
}

/// Replaces `$NAME`, `${NAME}` and `${NAME:-default}` with known values; unknown ones stay.
pub fn substitute(text: &str, known: &HashMap<String, String>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        let (inner, consumed) = if let Some(braced) = after.strip_prefix('{') {
            match braced.find('}') {
                Some(end) => (&braced[..end], end + 2),
                None => (braced, braced.len() + 1),
            }
        } else {
            let end = after
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(after.len());
            (&after[..end], end)
        };
        let (name, default) = match inner.split_once(":-") {
            Some((name, default)) => (name, Some(default)),
            None => (inner, None),
        };
        match known
            .get(name)
            .filter(|v| !v.is_empty())
            .map(String::as_str)
            .or(default)
        {
            Some(value) if !name.is_empty() => out.push_str(value),
            _ => out.push_str(&rest[at..at + 1 + consumed]),
        }
        rest = &after[consumed..];
    }
    out.push_str(rest);
    out
}

/// Splits a Dockerfile into instructions the way BuildKit does.
pub fn instructions(text: &str) -> Vec<Instruction> {
    let lines: Vec<&str> = text.lines().collect();
    let mut escape = '\\';
    let mut i = 0;
    // Parser directives (`# escape=`` ` ``, `# syntax=...`): only at the very top.
    while let Some(directive) = lines.get(i).and_then(|l| l.trim().strip_prefix('#')) {
        let Some((key, value)) = directive.split_once('=') else {
            break;
        };
        let key = key.trim().to_ascii_lowercase();
        if key.contains(char::is_whitespace) || key.is_empty() {
            break;
        }
        if key == "escape" && value.trim() == "`" {
            escape = '`';
        }
        i += 1;
    }
    let skip = |line: &str| line.trim().is_empty() || line.trim_start().starts_with('#');
    let mut out = Vec::new();
    while i < lines.len() {
        if skip(lines[i]) {
            i += 1;
            continue;
        }
        let start = i;
        let mut text = String::new();
        let mut line = lines[i];
        loop {
            let trimmed = line.trim_end();
            match trimmed.strip_suffix(escape) {
                Some(joined) => {
                    text.push_str(joined);
                    i += 1;
                    // Comment and blank lines inside a continuation are dropped.
                    while i < lines.len() && skip(lines[i]) {
                        i += 1;
                    }
                    match lines.get(i) {
                        Some(next) => line = next,
                        None => break,
                    }
                }
                None => {
                    text.push_str(line);
                    i += 1;
                    break;
                }
            }
        }
        let text = text.trim();
        let (keyword, args) = text.split_once(char::is_whitespace).unwrap_or((text, ""));
        let mut args = args.trim().to_string();
        // Heredocs (`RUN <<EOF` ... `EOF`): the body belongs to the instruction.
        if let Some(word) = heredoc_word(&args) {
            while i < lines.len() {
                let body = lines[i];
                i += 1;
                if body.trim() == word {
                    break;
                }
                args.push('\n');
                args.push_str(body);
            }
        }
        out.push(Instruction {
            line: start + 1,
            keyword: keyword.to_ascii_uppercase(),
            args,
        });
    }
    out
}

fn heredoc_word(args: &str) -> Option<String> {
    let at = args.find("<<")?;
    let word = args[at + 2..].trim_start_matches('-');
    let word = word.trim_start_matches(['"', '\'']);
    let end = word
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(word.len());
    (end > 0).then(|| word[..end].to_string())
}

/// The commands of a shell-form `RUN` as words (quotes removed), split at `&&`, `||`, `;`,
/// `|` and newlines. Exec form is one command.
pub fn shell_commands(text: &str) -> Vec<Vec<String>> {
    if let Some(words) = exec_form(text) {
        return vec![words];
    }
    let mut commands = vec![Vec::new()];
    let mut word = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), c) => word.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() || matches!(c, ';' | '&' | '|') => {
                if in_word {
                    commands
                        .last_mut()
                        .expect("one command")
                        .push(std::mem::take(&mut word));
                    in_word = false;
                }
                if c == '\n' || matches!(c, ';' | '&' | '|') {
                    if matches!(c, '&' | '|') && chars.peek() == Some(&c) {
                        chars.next();
                    }
                    commands.push(Vec::new());
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        commands.last_mut().expect("one command").push(word);
    }
    commands.retain(|c| !c.is_empty());
    commands
}

/// A `.dockerignore`: later patterns win, `!` re-includes, a pattern that matches a directory
/// excludes everything under it; `*` and `?` stay within one path component, `**` spans any.
pub struct DockerIgnore {
    patterns: Vec<(bool, Vec<String>)>,
}

impl DockerIgnore {
    pub fn parse(text: &str) -> DockerIgnore {
        let patterns = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| {
                let (negated, pattern) = match l.strip_prefix('!') {
                    Some(p) => (true, p.trim()),
                    None => (false, l),
                };
                let parts = pattern
                    .split('/')
                    .filter(|p| !p.is_empty() && *p != ".")
                    .map(str::to_string)
                    .collect();
                (negated, parts)
            })
            .collect();
        DockerIgnore { patterns }
    }

    /// Is `path` (relative to the build context) left out of the context?
    pub fn excludes(&self, path: &str) -> bool {
        let parts: Vec<&str> = path.split('/').collect();
        let mut excluded = false;
        for (negated, pattern) in &self.patterns {
            let pattern: Vec<&str> = pattern.iter().map(String::as_str).collect();
            if (1..=parts.len()).any(|n| components_match(&pattern, &parts[..n])) {
                excluded = !negated;
            }
        }
        excluded
    }
}

fn components_match(pattern: &[&str], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((&"**", rest)) => (0..=path.len()).any(|i| components_match(rest, &path[i..])),
        Some((first, rest)) => {
            !path.is_empty() && glob(first, path[0]) && components_match(rest, &path[1..])
        }
    }
}

fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    fn go(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('*', rest)) => (0..=t.len()).any(|i| go(rest, &t[i..])),
            Some(('?', rest)) => !t.is_empty() && go(rest, &t[1..]),
            Some((c, rest)) => t.first() == Some(c) && go(rest, &t[1..]),
        }
    }
    go(&p, &t)
}
