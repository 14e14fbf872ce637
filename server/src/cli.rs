//! Commands other than `serve`: scripted set-up. Each prints what it did; errors go to stderr
//! with a non-zero exit.

use crate::config::{
    ImportCommand, MemberCommand, ScheduleCommand, TenantCommand, TokenCommand, UserCommand,
};
use std::io::Read;
use tenantpilot_core::egress::EgressPolicy;
use tenantpilot_core::ids::PipelineId;
use tenantpilot_core::keyring::{self, Keyring};
use tenantpilot_core::model::AccountKind;
use tenantpilot_core::model::Caller;
use tenantpilot_core::model::User;
use tenantpilot_core::operations::Initiator;
use tenantpilot_core::pipelines::PipelineInput;
use tenantpilot_core::provider::{self, NewConnection, NewCredential};
use tenantpilot_core::schedules::{self, Missed, ScheduleId, ScheduleInput};
use tenantpilot_core::store::Reseal;
use tenantpilot_core::store::{Ensured, MembershipChange, Store};
use tenantpilot_core::tenancy::{self, NewTenant};
use tenantpilot_core::{accounts, pipelines, tokens, tools, validate, CoreError};

pub async fn user(store: &Store, command: UserCommand) -> Result<(), CoreError> {
    match command {
        UserCommand::Create { email, name, password_stdin: _, platform_admin } => {
            let password = read_secret("password")?;
            let user = accounts::create_user(
                store,
                &email,
                name.as_deref(),
                &password,
                account_kind(platform_admin),
            )
            .await?;
            println!(
                "created user {} (id {}){}",
                user.email,
                user.id,
                if platform_admin { ", platform admin" } else { "" }
            );
        }
        UserCommand::Role { email, role } => {
            let user = user_by_email(store, &email).await?;
            store.set_account_role(user.id, role).await?;
            println!("{} is now {}", user.email, role.label());
        }
        UserCommand::List => {
            for user in store.list_users().await? {
                let admin = if user.is_platform_admin { "platform-admin" } else { "" };
                println!("{}\t{}\t{}\t{admin}", user.id, user.email, user.display_name);
            }
        }
    }
    Ok(())
}

async fn user_by_email(store: &Store, email: &str) -> Result<User, CoreError> {
    let email = validate::email(email)?;
    store.user_by_email(&email).await?.ok_or_else(|| {
        CoreError::invalid("email", format!("No account uses {email}. Create the user first."))
    })
}

/// Prints the new token alone on standard output (for scripts to capture), and what it is on
/// standard error.
pub async fn token(store: &Store, command: TokenCommand) -> Result<(), CoreError> {
    let TokenCommand::Create { email, name, scopes, expires_days } = command;
    let user = user_by_email(store, &email).await?;
    let scopes = tokens::parse_scopes("scopes", &scopes)?;
    let (token, plain) = tokens::create(store, &user, &name, &scopes, expires_days).await?;
    println!("{plain}");
    eprintln!(
        "created token {} ({}…) for {}, expiring {}; it is shown only now",
        token.id,
        token.prefix,
        user.email,
        token.expires_at.format("%Y-%m-%d")
    );
    Ok(())
}

/// The objects of an import file: one object or an array of them.
fn import_objects(
    command: ImportCommand,
) -> Result<Vec<serde_json::Map<String, serde_json::Value>>, CoreError> {
    let ImportCommand::Import { file } = command;
    let text = if file == "-" {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map(|_| text)
    } else {
        std::fs::read_to_string(&file)
    }
    .map_err(|error| CoreError::invalid("file", format!("Cannot read {file}: {error}")))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .map_err(|error| CoreError::invalid("file", format!("{file} is not JSON: {error}")))?;
    let items = match value {
        serde_json::Value::Array(items) => items,
        object => vec![object],
    };
    items
        .into_iter()
        .enumerate()
        .map(|(n, item)| match item {
            serde_json::Value::Object(fields) => Ok(fields),
            _ => Err(CoreError::invalid(&format!("[{n}]"), "Each item is a JSON object")),
        })
        .collect()
}

/// Names the item an error is about when the file holds several.
fn in_item(n: usize, of: usize) -> impl Fn(CoreError) -> CoreError {
    move |error| match error {
        CoreError::Invalid { field, message } if of > 1 => {
            CoreError::invalid(&format!("[{n}].{field}"), message)
        }
        other => other,
    }
}

/// Prints each new pipeline's id on standard output.
pub async fn import_pipelines(store: &Store, command: ImportCommand) -> Result<(), CoreError> {
    let objects = import_objects(command)?;
    let of = objects.len();
    for (n, object) in objects.into_iter().enumerate() {
        let input: PipelineInput = serde_json::from_value(serde_json::Value::Object(object))
            .map_err(|error| CoreError::invalid("pipeline", error.to_string()))
            .map_err(in_item(n, of))?;
        let pipeline = pipelines::create(store, None, &input).await.map_err(in_item(n, of))?;
        println!("{}", pipeline.id);
        eprintln!("created pipeline {} ({}) in {}", pipeline.id, pipeline.name, pipeline.account);
    }
    Ok(())
}

/// Prints each new tool's id on standard output.
pub async fn import_tools(
    store: &Store,
    egress: &EgressPolicy,
    command: ImportCommand,
) -> Result<(), CoreError> {
    let objects = import_objects(command)?;
    let of = objects.len();
    for (n, object) in objects.into_iter().enumerate() {
        let tool = tools::create(store, egress, None, &object).await.map_err(in_item(n, of))?;
        println!("{}", tool.id);
        eprintln!("created tool {} ({}) in {}", tool.id, tool.name, tool.account);
    }
    Ok(())
}

/// A secret from standard input. A trailing newline from `echo` or a here-string is not part of it.
fn read_secret(field: &str) -> Result<String, CoreError> {
    let mut secret = String::new();
    std::io::stdin()
        .read_to_string(&mut secret)
        .map_err(|_| CoreError::invalid(field, "Could not read it from standard input"))?;
    let secret = secret.strip_suffix('\n').unwrap_or(&secret);
    Ok(secret.strip_suffix('\r').unwrap_or(secret).to_string())
}

pub async fn tenant(store: &Store, egress: &EgressPolicy, command: TenantCommand) -> Result<(), CoreError> {
    let (slug, name, workspace, external_id) = match command {
        TenantCommand::Create { slug, name, workspace, external_id } => (slug, name, workspace, external_id),
        TenantCommand::Connect {
            tenant,
            base_url,
            token_url,
            client_id,
            scope,
            client_secret_stdin: _,
            client_certificate_file,
        } => {
            let material = match &client_certificate_file {
                Some(path) => std::fs::read_to_string(path).map_err(|error| {
                    CoreError::invalid(
                        "client_certificate_file",
                        format!("Cannot read {}: {error}", path.display()),
                    )
                })?,
                None => read_secret("client_secret")?,
            };
            let found = store.tenant_by_slug(&tenant).await?;
            let found = found
                .ok_or_else(|| CoreError::invalid("tenant", format!("No tenant has the slug {tenant}")))?;
            let credential = match client_certificate_file {
                Some(_) => NewCredential::Certificate(&material),
                None => NewCredential::Secret(&material),
            };
            let new = NewConnection {
                base_url: &base_url,
                token_url: &token_url,
                client_id: &client_id,
                scope: scope.as_deref().unwrap_or_default(),
                credential,
            };
            let info = provider::connect(store, egress, &Initiator::System, &found, new).await?;
            let certificate = info
                .certificate_thumbprint
                .map(|thumbprint| format!(", certificate {thumbprint}"))
                .unwrap_or_default();
            println!(
                "connected {tenant} to {} as {} (scope {}{certificate})",
                info.base_url, info.client_id, info.effective_scope
            );
            return Ok(());
        }
    };
    let new = NewTenant {
        workspace_slug: &workspace,
        slug: &slug,
        name: &name,
        external_tenant_id: external_id.as_deref(),
    };
    let (tenant, ensured) = tenancy::create_tenant(store, &Initiator::System, new).await?;
    match ensured {
        Ensured::Created => println!("created tenant {} in workspace {workspace}", tenant.slug),
        Ensured::Existing => println!("tenant {} exists already", tenant.slug),
    }
    Ok(())
}

pub async fn member(store: &Store, command: MemberCommand) -> Result<(), CoreError> {
    let MemberCommand::Add { tenant, email, role } = command;
    let change =
        tenancy::set_member(store, &Initiator::System, &tenant, &email, role).await.map_err(|error| {
            match error {
                CoreError::NotFound => {
                    CoreError::invalid("tenant", format!("No tenant has the slug {tenant}"))
                }
                other => other,
            }
        })?;
    match change {
        MembershipChange::Added => println!("added {email} to {tenant} as {role}"),
        MembershipChange::RoleChanged { from } => {
            println!("changed {email} in {tenant} from {from} to {role}")
        }
        MembershipChange::Unchanged => println!("{email} is already {role} in {tenant}"),
    }
    Ok(())
}

/// `secrets rotate-key`: seals every stored secret under a new key (see `SecretsCommand`).
pub async fn rotate_key(
    store: Store,
    from_env: Option<&str>,
    key_file: &std::path::Path,
) -> Result<(), CoreError> {
    let refuse = |message: String| CoreError::invalid("secret_key", message);
    if let Some(keys) = from_env.filter(|keys| !keys.trim().is_empty()) {
        let keyring =
            Keyring::parse(keys).map_err(|error| refuse(format!("TENANTPILOT_SECRET_KEY: {error}")))?;
        let current = keyring.current_id().to_string();
        let sealed = store.with_keyring(keyring).reseal_secrets(Reseal::All).await?;
        println!(
            "sealed {sealed} secrets under key {current}; TENANTPILOT_SECRET_KEY may now hold that key alone"
        );
        return Ok(());
    }
    let old = Keyring::load(None, key_file).map_err(refuse)?;
    let new_key = keyring::generate_key();
    // The old keys stay in the file, readable, until every secret is sealed under the new one.
    let both: Vec<String> = std::iter::once(new_key.clone()).chain(old.encoded()).collect();
    keyring::write_key_file(key_file, &both).map_err(refuse)?;
    let keyring = Keyring::parse(&both.join("\n")).map_err(refuse)?;
    let current = keyring.current_id().to_string();
    let sealed = store.with_keyring(keyring).reseal_secrets(Reseal::All).await?;
    keyring::write_key_file(key_file, &[new_key]).map_err(refuse)?;
    println!("sealed {sealed} secrets under the new key {current} in {}", key_file.display());
    Ok(())
}

/// `--platform-admin` as the kind of account it makes.
fn account_kind(platform_admin: bool) -> AccountKind {
    if platform_admin {
        AccountKind::PlatformAdmin
    } else {
        AccountKind::Member
    }
}

pub async fn schedule(store: &Store, command: ScheduleCommand) -> Result<(), CoreError> {
    match command {
        ScheduleCommand::Create {
            name,
            cron,
            time_zone,
            tenant,
            workspace,
            pipeline,
            jitter_minutes,
            skip_missed,
            owner,
        } => {
            let owner = user_by_email(store, &owner).await?;
            let input = ScheduleInput {
                name,
                cron,
                time_zone,
                tenant,
                workspace,
                pipeline: pipeline.map(PipelineId),
                jitter_minutes: Some(jitter_minutes),
                missed: Some(if skip_missed { Missed::Skip } else { Missed::CatchUp }),
            };
            let created = schedules::create(store, &Caller::person(&owner), &input).await?;
            println!("created schedule {} for {}", created.name, owner.email);
            println!("{}", created.id);
        }
        ScheduleCommand::List => {
            for view in schedules::list_all(store, chrono::Utc::now()).await? {
                let schedule = &view.schedule;
                let next =
                    view.next_fire_times.first().map(|time| time.to_rfc3339()).unwrap_or_else(|| "-".into());
                let state = if schedule.paused { "paused" } else { "active" };
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{state}\t{next}",
                    schedule.id, schedule.name, schedule.cron, schedule.time_zone, view.target_label
                );
            }
        }
        ScheduleCommand::Pause { id } => {
            let schedule = schedules::set_paused(store, &Initiator::System, ScheduleId(id), true).await?;
            println!("paused schedule {} ({})", schedule.id, schedule.name);
        }
        ScheduleCommand::Resume { id } => {
            let schedule = schedules::set_paused(store, &Initiator::System, ScheduleId(id), false).await?;
            println!("resumed schedule {} ({})", schedule.id, schedule.name);
        }
        ScheduleCommand::Delete { id } => {
            let schedule = schedules::remove(store, &Initiator::System, ScheduleId(id)).await?;
            println!("deleted schedule {} ({})", schedule.id, schedule.name);
        }
    }
    Ok(())
}
