//! The `tenantpilot` command line, run as a process: scripted set-up is idempotent, input
//! errors are clear and exit non-zero, and the password never shows.

use std::io::Write;
use std::process::{Command, Output, Stdio};

struct Cli {
    database_url: String,
    _dir: TempDir,
}

struct TempDir(std::path::PathBuf);
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl Cli {
    fn new() -> Cli {
        let dir = std::env::temp_dir().join(format!("tenantpilot-cli-{}", uuid::Uuid::new_v4()));
        // The database directory is created by the binary itself.
        let database_url = format!("sqlite://{}/nested/cli.db", dir.display());
        Cli { database_url, _dir: TempDir(dir) }
    }

    fn database_file(&self) -> std::path::PathBuf {
        std::path::PathBuf::from(self.database_url.trim_start_matches("sqlite://"))
    }

    fn run(&self, args: &[&str], stdin: &str) -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_tenantpilot"))
            .args(args)
            .env("DATABASE_URL", &self.database_url)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run tenantpilot");
        child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str], stdin: &str) -> String {
        let output = self.run(args, stdin);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "{args:?} failed: {stderr}");
        String::from_utf8(output.stdout).unwrap()
    }

    fn fails(&self, args: &[&str], stdin: &str) -> String {
        let output = self.run(args, stdin);
        assert!(!output.status.success(), "{args:?} should fail");
        String::from_utf8(output.stderr).unwrap()
    }
}

#[test]
fn scripted_set_up() {
    let cli = Cli::new();
    assert_eq!(cli.ok(&["migrate"], ""), "database is up to date\n");

    let password = "correct horse battery staple";
    let created = cli.ok(
        &["user", "create", "--email", "Ann@Example.com", "--password-stdin", "--platform-admin"],
        &format!("{password}\n"),
    );
    assert!(created.starts_with("created user ann@example.com"), "{created}");
    assert!(created.contains("platform admin"));
    let again = cli.fails(&["user", "create", "--email", "ann@example.com", "--password-stdin"], password);
    assert!(again.contains("already exists"), "{again}");
    let short = cli.fails(&["user", "create", "--email", "bob@example.com", "--password-stdin"], "short\n");
    assert!(short.contains("password: Use at least 12 characters"), "{short}");
    let no_stdin_flag = cli.fails(&["user", "create", "--email", "bob@example.com"], "");
    assert!(no_stdin_flag.contains("--password-stdin"), "{no_stdin_flag}");

    let list = cli.ok(&["user", "list"], "");
    assert!(list.contains("ann@example.com") && list.contains("platform-admin"), "{list}");
    assert!(!list.contains(password));

    assert_eq!(
        cli.ok(&["tenant", "create", "--slug", "contoso", "--name", "Contoso"], ""),
        "created tenant contoso in workspace default\n"
    );
    assert_eq!(
        cli.ok(&["tenant", "create", "--slug", "contoso", "--name", "Contoso"], ""),
        "tenant contoso exists already\n"
    );
    let bad_slug = cli.fails(&["tenant", "create", "--slug", "Not OK", "--name", "X"], "");
    assert!(bad_slug.contains("slug: Use 1–63 lower-case letters"), "{bad_slug}");

    let add = ["member", "add", "--tenant", "contoso", "--email", "ann@example.com", "--role", "owner"];
    assert_eq!(cli.ok(&add, ""), "added ann@example.com to contoso as owner\n");
    assert_eq!(cli.ok(&add, ""), "ann@example.com is already owner in contoso\n");
    let bad_role = cli.fails(
        &["member", "add", "--tenant", "contoso", "--email", "ann@example.com", "--role", "emperor"],
        "",
    );
    assert!(bad_role.contains("unknown role `emperor`"), "{bad_role}");
    let unknown_tenant = cli
        .fails(&["member", "add", "--tenant", "nope", "--email", "ann@example.com", "--role", "owner"], "");
    assert!(unknown_tenant.contains("tenant: No tenant has the slug nope"), "{unknown_tenant}");

    // Schedules: made for an owner (whose rights decide), listed, paused, resumed, deleted.
    let nightly = [
        "schedule",
        "create",
        "--name",
        "Nightly capture",
        "--cron",
        "0 2 * * *",
        "--tz",
        "Europe/Berlin",
        "--tenant",
        "contoso",
        "--owner",
        "ann@example.com",
    ];
    let created = cli.ok(&nightly, "");
    assert!(created.starts_with("created schedule Nightly capture for ann@example.com\n"), "{created}");
    let id = created.lines().last().unwrap().to_string();
    assert!(id.parse::<i64>().is_ok(), "the id comes last: {created}");
    let bad_cron = cli.fails(
        &[
            "schedule",
            "create",
            "--name",
            "X",
            "--cron",
            "0 2 * *",
            "--tz",
            "UTC",
            "--tenant",
            "contoso",
            "--owner",
            "ann@example.com",
        ],
        "",
    );
    assert!(bad_cron.contains("cron: Use five fields"), "{bad_cron}");
    let listed = cli.ok(&["schedule", "list"], "");
    assert!(
        listed.starts_with(&format!(
            "{id}\tNightly capture\t0 2 * * *\tEurope/Berlin\tCapture of Contoso\tactive\t"
        )),
        "{listed}"
    );
    assert_eq!(cli.ok(&["schedule", "pause", &id], ""), format!("paused schedule {id} (Nightly capture)\n"));
    assert!(cli.ok(&["schedule", "list"], "").contains("\tpaused\t-"));
    assert_eq!(
        cli.ok(&["schedule", "resume", &id], ""),
        format!("resumed schedule {id} (Nightly capture)\n")
    );
    assert_eq!(
        cli.ok(&["schedule", "delete", &id], ""),
        format!("deleted schedule {id} (Nightly capture)\n")
    );
    assert_eq!(cli.ok(&["schedule", "list"], ""), "");
    assert!(cli.fails(&["schedule", "pause", &id], "").contains("Not found"));

    let connect = [
        "tenant",
        "connect",
        "--tenant",
        "contoso",
        "--base-url",
        "https://graph.microsoft.us/beta",
        "--token-url",
        "https://login.microsoftonline.us/t/oauth2/v2.0/token",
        "--client-id",
        "app-1",
        "--client-secret-stdin",
    ];
    let secret = "very-secret-value";
    let connected = cli.ok(&connect, &format!("{secret}\n"));
    assert_eq!(
        connected,
        "connected contoso to https://graph.microsoft.us/beta as app-1 (scope https://graph.microsoft.us/.default)\n",
        "a national cloud by its URL alone"
    );
    // Sealed on disk, under the key file made beside the database (owner-only).
    let on_disk = |needle: &str| {
        ["", "-wal"].iter().any(|suffix| {
            let bytes =
                std::fs::read(format!("{}{suffix}", cli.database_file().display())).unwrap_or_default();
            String::from_utf8_lossy(&bytes).contains(needle)
        })
    };
    assert!(!on_disk(secret), "the client secret is not in the database file in the clear");
    let key_file = cli.database_file().with_file_name("secret.key");
    let key_before = std::fs::read_to_string(&key_file).expect("a key file beside the database");
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&key_file).unwrap().permissions().mode() & 0o777, 0o600);
    }
    let rotated = cli.ok(&["secrets", "rotate-key"], "");
    assert!(rotated.starts_with("sealed 1 secrets under the new key"), "{rotated}");
    let key_after = std::fs::read_to_string(&key_file).unwrap();
    assert_ne!(key_before, key_after);
    assert_eq!(
        key_after.lines().filter(|line| !line.starts_with('#') && !line.is_empty()).count(),
        1,
        "the old key is gone"
    );
    let mut bad = connect;
    bad[5] = "graph.example.com";
    let refused = cli.fails(&bad, secret);
    assert!(refused.contains("base_url: Enter an http:// or https:// URL"), "{refused}");
    assert!(!refused.contains(secret));
    bad[5] = "https://graph.microsoft.com/v1.0";
    assert!(cli.fails(&bad, secret).contains("base_url: Settings-catalog policies"));
    // Without --base-url: Graph's beta; --scope overrides the rule's scope.
    let defaults = [
        "tenant",
        "connect",
        "--tenant",
        "contoso",
        "--token-url",
        "https://login.microsoftonline.com/t/oauth2/v2.0/token",
        "--client-id",
        "app-1",
        "--client-secret-stdin",
        "--scope",
        "00000003-0000-0000-c000-000000000000/.default",
    ];
    assert_eq!(
        cli.ok(&defaults, secret),
        "connected contoso to https://graph.microsoft.com/beta as app-1 (scope 00000003-0000-0000-c000-000000000000/.default)\n"
    );
    // A certificate with its key from a file; no credential at all is refused by the parser.
    let certificate = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/it/fixtures/app-certificate.pem");
    let with_certificate = [
        "tenant",
        "connect",
        "--tenant",
        "contoso",
        "--token-url",
        "https://login.microsoftonline.com/t/oauth2/v2.0/token",
        "--client-id",
        "app-1",
        "--client-certificate-file",
        certificate,
    ];
    let connected = cli.ok(&with_certificate, "");
    let thumbprint = connected.split(", certificate ").nth(1).unwrap_or_default().trim_end_matches(")\n");
    assert!(thumbprint.len() == 40 && thumbprint.chars().all(|c| c.is_ascii_hexdigit()), "{connected}");
    assert!(
        cli.fails(&with_certificate[..8], "").contains("--client-secret-stdin"),
        "one credential is required"
    );
    let mut nowhere = connect;
    nowhere[3] = "nope";
    assert!(cli.fails(&nowhere, secret).contains("tenant: No tenant has the slug nope"));

    assert_eq!(
        cli.ok(&["user", "role", "--email", "ann@example.com", "--role", "power-user"], ""),
        "ann@example.com is now Power User\n"
    );
    let bad_account_role = cli.fails(&["user", "role", "--email", "ann@example.com", "--role", "king"], "");
    assert!(bad_account_role.contains("unknown account role `king`"), "{bad_account_role}");

    let create_token =
        ["token", "create", "--email", "ann@example.com", "--name", "ci", "--scopes", "api,operations"];
    let output = cli.run(&create_token, "");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let token = String::from_utf8(output.stdout).unwrap();
    assert!(token.starts_with("tpat_") && token.trim().len() == 45, "only the token on stdout: {token}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("shown only now"));
    let bad_scope = cli
        .fails(&["token", "create", "--email", "ann@example.com", "--name", "x", "--scopes", "api,root"], "");
    assert!(bad_scope.contains("scopes: unknown scope `root`"), "{bad_scope}");
    let too_long = cli.fails(&[&create_token[..], &["--expires-days", "400"]].concat(), "");
    assert!(too_long.contains("expires_days: A token lives 1–365 days"), "{too_long}");

    // Imports: tools and pipelines from JSON shaped like the API's summaries, one or several.
    let tool = r#"{"name": "CI", "tool_identifier": "http", "owner": "ann@example.com", "account": "default",
        "configuration": {"baseUrl": "https://ci.example.com"}, "secrets": {"apiToken": "tool-secret-xyz"}}"#;
    let tool_id = cli.ok(&["tool", "import", "-"], tool);
    assert!(tool_id.trim().parse::<i64>().is_ok(), "only the id on stdout: {tool_id}");
    let pipelines = format!(
        r#"[{{"_id": "77", "runCount": 9, "state": "paused", "name": "Nightly", "owner": "ann@example.com",
             "account": "default", "steps": [
               {{"name": "Capture", "kind": "backup_set.capture", "params": {{"tenant": "contoso"}}}},
               {{"name": "Deploy", "kind": "tool.http", "params": {{"toolId": "{}", "path": "/go"}}}}]}},
            {{"name": "Empty", "owner": "ann@example.com"}}]"#,
        tool_id.trim()
    );
    let file = cli._dir.0.join("pipelines.json");
    std::fs::write(&file, pipelines).unwrap();
    let ids = cli.ok(&["pipeline", "import", file.to_str().unwrap()], "");
    let ids: Vec<i64> = ids.lines().map(|id| id.parse().unwrap()).collect();
    assert!(ids.len() == 2 && ids[0] != 77, "new ids, the summary's ignored: {ids:?}");
    let bad_step = cli.fails(
        &["pipeline", "import", "-"],
        r#"{"name": "Bad", "owner": "ann@example.com", "steps": [{"name": "x", "kind": "wait", "params": {"seconds": -1}}]}"#,
    );
    assert!(bad_step.contains("steps[0].params"), "{bad_step}");
    let nowhere = cli.fails(
        &["pipeline", "import", "-"],
        r#"{"name": "X", "owner": "ann@example.com", "account": "nope"}"#,
    );
    assert!(nowhere.contains("account: ann@example.com belongs to no workspace `nope`"), "{nowhere}");
    let no_owner = cli.fails(&["tool", "import", "-"], r#"[{"name": "Y", "tool_identifier": "x"}, 5]"#);
    assert!(no_owner.contains("[1]: Each item is a JSON object"), "{no_owner}");
    assert!(cli.fails(&["tool", "import", "/no/such/file"], "").contains("file: Cannot read /no/such/file"));
    assert!(!cli.ok(&["user", "list"], "").contains("tool-secret-xyz"));

    let bad_url = Command::new(env!("CARGO_BIN_EXE_tenantpilot"))
        .args(["--database-url", "mysql://x", "migrate"])
        .output()
        .unwrap();
    assert!(!bad_url.status.success());
    assert!(String::from_utf8_lossy(&bad_url.stderr).contains("must start with sqlite: or postgres:"));
}
