//! Logging: tracing to stderr, as text or JSON, filtered by `RUST_LOG`. With
//! `OTEL_EXPORTER_OTLP_ENDPOINT` set, the same spans (requests, runs, store calls) are also
//! exported as traces over OTLP/HTTP (protobuf, to `{endpoint}/v1/traces`, as the OpenTelemetry
//! exporter spec names it); the exporter reads the other `OTEL_EXPORTER_OTLP_*` settings
//! (headers, timeout) itself. Without it nothing is exported and nothing else changes.

use crate::config::LogFormat;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::span_processor_with_async_runtime::BatchSpanProcessor;
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::{runtime, Resource};
use std::time::Duration;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The OTLP endpoint setting of the OpenTelemetry specification.
pub const OTLP_ENDPOINT: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// How long shutting down waits for the last spans to be sent.
const FLUSH_AT_MOST: Duration = Duration::from_secs(5);

/// What `init` set up that must be shut down: the trace exporter, when there is one.
#[must_use = "shut telemetry down at exit, or the last spans are lost"]
pub struct Telemetry(Option<SdkTracerProvider>);

/// Logs go to stderr; `RUST_LOG` filters (default: info for TenantPilot, warn for the rest).
/// Call within the runtime: the trace exporter sends from a task of its own.
pub fn init(format: LogFormat) -> Telemetry {
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("warn,tenantpilot=info,tenantpilot_server=info,tenantpilot_app=info,tenantpilot_core=info,tower_http=info"));
    let logs = tracing_subscriber::fmt::layer().with_writer(std::io::stderr);
    let logs = match format {
        LogFormat::Text => logs.boxed(),
        LogFormat::Json => logs.json().flatten_event(true).boxed(),
    };
    let (provider, problem) = match std::env::var(OTLP_ENDPOINT) {
        Ok(endpoint) if !endpoint.trim().is_empty() => match tracer_provider() {
            Ok(provider) => (Some(provider), None),
            Err(error) => (None, Some(error)),
        },
        _ => (None, None),
    };
    let traces = provider
        .as_ref()
        .map(|provider| tracing_opentelemetry::layer().with_tracer(provider.tracer("tenantpilot")));
    tracing_subscriber::registry().with(filter).with(logs).with(traces).init();
    if let Some(error) = problem {
        tracing::warn!(%error, "{OTLP_ENDPOINT} is set but traces cannot be exported; going on without");
    }
    Telemetry(provider)
}

fn tracer_provider() -> Result<SdkTracerProvider, opentelemetry_otlp::ExporterBuildError> {
    let exporter = opentelemetry_otlp::SpanExporter::builder().with_http().build()?;
    Ok(SdkTracerProvider::builder()
        .with_span_processor(BatchSpanProcessor::builder(exporter, runtime::Tokio).build())
        .with_resource(Resource::builder().with_service_name("tenantpilot").build())
        .build())
}

impl Telemetry {
    /// Sends the spans still batched, waiting at most `FLUSH_AT_MOST` for the collector.
    pub async fn shutdown(self) {
        let Some(provider) = self.0 else { return };
        // The SDK's shutdown blocks its thread until the export task answers.
        let flushed = tokio::task::spawn_blocking(move || provider.shutdown());
        match tokio::time::timeout(FLUSH_AT_MOST, flushed).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(error))) => tracing::warn!(%error, "the last traces could not be exported"),
            Ok(Err(_)) | Err(_) => tracing::warn!("the trace collector did not answer in time"),
        }
    }
}
