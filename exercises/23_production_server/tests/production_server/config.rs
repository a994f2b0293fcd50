//! Configuration from a map of variables: values, defaults, every problem at once, and the
//! message an operator reads when the configuration is refused.

use std::time::Duration;

use production_server::Config;

use super::support::env;

#[test]
fn a_complete_environment_is_read_into_the_config() {
    let vars = env(&[
        ("DATABASE_URL", "postgres://app:secret@db:5432/app"),
        ("REDIS_URL", "redis://cache:6379"),
        ("PORT", "3000"),
        ("REQUEST_TIMEOUT_MS", "1500"),
        ("BODY_LIMIT_BYTES", "65536"),
        ("TRUSTED_PROXIES", "10.0.0.1, 10.0.0.2,::1"),
        ("PATH", "/usr/bin:/bin"),
    ]);

    let config = Config::from_env(vars);

    let expected = Config {
        port: 3000,
        database_url: "postgres://app:secret@db:5432/app".into(),
        redis_url: "redis://cache:6379".into(),
        request_timeout: Duration::from_millis(1500),
        body_limit_bytes: 65536,
        trusted_proxies: ["10.0.0.1", "10.0.0.2", "::1"]
            .map(|ip| ip.parse().unwrap())
            .into(),
    };
    assert_eq!(
        config,
        Ok(expected),
        "the config read from a valid environment"
    );
}

#[test]
fn unset_and_empty_optional_settings_take_their_defaults() {
    let vars = env(&[
        ("DATABASE_URL", "postgresql://db/app"),
        ("REDIS_URL", "redis+unix:///run/redis.sock"),
        ("PORT", ""),
    ]);

    let config = Config::from_env(vars);

    let expected = Config {
        port: 8080,
        database_url: "postgresql://db/app".into(),
        redis_url: "redis+unix:///run/redis.sock".into(),
        request_timeout: Duration::from_secs(30),
        body_limit_bytes: 1_048_576,
        trusted_proxies: Vec::new(),
    };
    assert_eq!(
        config,
        Ok(expected),
        "the defaults (an empty PORT counts as unset)"
    );
}

#[test]
fn every_config_problem_is_reported_at_once() {
    let vars = env(&[
        ("REDIS_URL", "http://cache:6379"),
        ("PORT", "eighty"),
        ("REQUEST_TIMEOUT_MS", "0"),
        ("BODY_LIMIT_BYTES", "-5"),
        ("TRUSTED_PROXIES", "10.0.0.1, proxy.local"),
    ]);

    let errors = match Config::from_env(vars) {
        Ok(config) => panic!("expected six problems, got a config: {config:?}"),
        Err(errors) => errors.0,
    };

    let vars: Vec<&str> = errors.iter().map(|e| e.var).collect();
    let expected = [
        "DATABASE_URL",
        "REDIS_URL",
        "PORT",
        "REQUEST_TIMEOUT_MS",
        "BODY_LIMIT_BYTES",
        "TRUSTED_PROXIES",
    ];
    assert_eq!(
        vars, expected,
        "one error per bad variable, all of them, in README order"
    );
    let quoted = ["http://cache:6379", "eighty", "0", "-5", "proxy.local"];
    for (error, value) in errors[1..].iter().zip(quoted) {
        assert!(
            error.problem.contains(value),
            "the problem with {} must quote its value {value:?}, got {:?}",
            error.var,
            error.problem
        );
    }
    let single = [
        ("PORT", "0"),
        ("PORT", "65536"),
        ("PORT", "80.5"),
        ("BODY_LIMIT_BYTES", "0"),
    ];
    for (var, value) in single {
        let base = [
            ("DATABASE_URL", "postgres://db"),
            ("REDIS_URL", "redis://r"),
        ];
        let result = Config::from_env(env(&[base[0], base[1], (var, value)]));
        let errors = result
            .as_ref()
            .err()
            .map(|e| e.0.as_slice())
            .unwrap_or_default();
        let bad: Vec<&str> = errors.iter().map(|e| e.var).collect();
        assert_eq!(
            bad,
            [var],
            "{var}={value} must be the only problem, got {result:?}"
        );
    }
}

#[test]
fn every_listed_url_scheme_and_port_bound_is_accepted_and_look_alikes_are_not() {
    let accepted = [
        ("postgres://db/app", "redis://cache", "1"),
        ("postgresql://db/app", "rediss://cache:6380", "65535"),
        ("postgres://db/app", "redis+unix:///run/redis.sock", "8080"),
    ];
    for (database_url, redis_url, port) in accepted {
        let vars = [
            ("DATABASE_URL", database_url),
            ("REDIS_URL", redis_url),
            ("PORT", port),
        ];

        let config = Config::from_env(env(&vars));

        assert!(
            config.as_ref().is_ok_and(|c| c.port.to_string() == port
                && c.database_url == database_url
                && c.redis_url == redis_url),
            "expected {vars:?} to be valid (every scheme in the table, ports 1 to 65535), got \
             {config:?}"
        );
    }
    // Schemes that merely contain a listed one do not start with it.
    let vars = [
        ("DATABASE_URL", "jdbc:postgresql://db/app"),
        ("REDIS_URL", "http://rediss://cache"),
    ];
    let result = Config::from_env(env(&vars));
    let errors = result
        .as_ref()
        .err()
        .map(|e| e.0.as_slice())
        .unwrap_or_default();
    let bad: Vec<&str> = errors.iter().map(|e| e.var).collect();
    assert_eq!(
        bad,
        ["DATABASE_URL", "REDIS_URL"],
        "expected URLs that only contain a listed scheme to be refused: {vars:?} gave {result:?}"
    );
}

#[test]
fn the_config_errors_message_names_every_variable_and_its_problem() {
    let vars = env(&[
        ("DATABASE_URL", "mysql://db/app"),
        ("REDIS_URL", "redis://cache"),
        ("PORT", "eighty"),
    ]);

    let errors = match Config::from_env(vars) {
        Ok(config) => panic!("expected two problems, got a config: {config:?}"),
        Err(errors) => errors,
    };

    let message = errors.to_string();
    assert_eq!(
        errors.0.len(),
        2,
        "expected one error for DATABASE_URL and one for PORT, got {errors:?}"
    );
    for error in &errors.0 {
        let line = format!("{}: {}", error.var, error.problem);
        assert!(
            message.lines().any(|l| l.ends_with(&line)),
            "the message an operator reads (ConfigErrors' Display, given in the stub) must have \
             a line ending in {line:?}, got:\n{message}"
        );
    }
}
