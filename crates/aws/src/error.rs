//! The one error path of the AWS SDK sinks: a failed call becomes a classified
//! [`SendError`](cwlogs_pipeline::SendError) whose message names the service, the operation,
//! the target, the service's error code and what to check.

#[cfg(any(feature = "s3", feature = "sns", feature = "dynamodb"))]
pub(crate) use sdk::send_error;

#[cfg(any(feature = "s3", feature = "sns", feature = "dynamodb"))]
mod sdk {
    use super::error_chain;
    use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
    use aws_smithy_runtime_api::client::result::SdkError;
    use aws_smithy_types::error::metadata::ProvideErrorMetadata;
    use cwlogs_pipeline::sink::classify::{self, AwsResponse, Service};
    use cwlogs_pipeline::{Class, SendError};

    /// Turns a failed SDK call into a classified [`SendError`] whose message reads
    /// `{service} {operation} {target}: {code} (HTTP {status}): {message} -- {hint}`, as
    /// [`classify::classify`] and [`classify::hint`] decide for `service`.
    pub(crate) fn send_error<E>(
        service: Service,
        operation: &str,
        target: &str,
        err: &SdkError<E, HttpResponse>,
    ) -> SendError
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        let status = err.raw_response().map(|r| r.status().as_u16());
        let code = err.code();
        let class = match err {
            // Our request could not be built: sending it again builds it the same way.
            SdkError::ConstructionFailure(_) => Class::Reject,
            _ => match classify::classify(service, AwsResponse { status, code }) {
                // A 2xx whose body the SDK could not read (a proxy's page, a garbled listing):
                // whether it took effect is unknown, and every request sent through here is
                // safe to repeat (S3 writes overwrite, SNS FIFO topics deduplicate, the state
                // store recognizes its own write). An error is never "done".
                Class::Done => Class::Retry,
                class => class,
            },
        };
        let mut message = format!("{} {operation} {target}: ", service.name());
        match (code, status) {
            (Some(c), Some(s)) => message.push_str(&format!("{c} (HTTP {s})")),
            (Some(c), None) => message.push_str(c),
            (None, Some(s)) if matches!(err, SdkError::ResponseError(_)) => {
                message.push_str(&format!("HTTP {s} with an unreadable answer: "));
                message.push_str(&error_chain(err));
            }
            (None, Some(s)) => message.push_str(&format!("HTTP {s}")),
            (None, None) => message.push_str(&error_chain(err)),
        }
        if let Some(m) = err.message().filter(|m| !m.is_empty()) {
            message.push_str(": ");
            message.push_str(m);
        }
        if let Some(h) = code.and_then(|c| classify::hint(service, c)) {
            message.push_str(" -- ");
            message.push_str(h);
        }
        SendError { class, message }
    }
}

/// The error and its sources on one line, for messages that say what actually failed (refused
/// connection, DNS, TLS, timeout: the SDK's top-level text alone says only "dispatch
/// failure"). A source whose text the line already holds is not repeated.
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(s) = source {
        let t = s.to_string();
        if !text.contains(&t) {
            text.push_str(": ");
            text.push_str(&t);
        }
        source = s.source();
    }
    text
}
