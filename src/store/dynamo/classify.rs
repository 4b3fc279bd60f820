//! Turns an SDK error into a [`StoreError`] by its type: the SDK's own failure kinds first
//! (timeout, dispatch, response, construction), then DynamoDB's modelled exceptions, then, for
//! an exception this operation does not model, its machine error code. Never by message text:
//! messages only travel along, for the log.

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::CancellationReason;
use aws_sdk_dynamodb::Error as DynamoError;

use super::attr::Item;
use crate::store::{StoreError, StoreResult};

/// What a DynamoDB failure means to the caller.
pub(crate) fn classify<E>(err: SdkError<E, HttpResponse>) -> StoreError
where
    E: std::error::Error + Send + Sync + 'static,
    DynamoError: From<SdkError<E, HttpResponse>>,
{
    if let SdkError::ServiceError(context) = &err {
        let server_fault = context.raw().status().is_server_error();
        return service_error(DynamoError::from(err), server_fault);
    }
    let described = DisplayErrorContext(&err).to_string();
    match err {
        // The request could not be built: a bug on our side; nothing was sent.
        SdkError::ConstructionFailure(_) => StoreError::Invalid(described),
        // No answer in time, no connection, or an answer that could not be read: a write may
        // or may not have landed.
        _ => StoreError::Unavailable(described),
    }
}

/// A service error, by its modelled type or, if unmodelled, its error code; `server_fault`
/// says whether the HTTP status was a 5xx (an unknown code is then DynamoDB's fault).
fn service_error(err: DynamoError, server_fault: bool) -> StoreError {
    let described = match (err.code(), err.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_string(),
        _ => DisplayErrorContext(&err).to_string(),
    };
    match &err {
        DynamoError::ConditionalCheckFailedException(_)
        | DynamoError::TransactionConflictException(_)
        | DynamoError::TransactionInProgressException(_)
        | DynamoError::ReplicatedWriteConflictException(_)
        | DynamoError::ResourceInUseException(_) => StoreError::Conflict(described),
        DynamoError::TransactionCanceledException(e) => {
            cancelled(e.cancellation_reasons(), described)
        }
        DynamoError::ProvisionedThroughputExceededException(_)
        | DynamoError::RequestLimitExceeded(_)
        | DynamoError::ThrottlingException(_)
        | DynamoError::LimitExceededException(_) => StoreError::Throttled(described),
        DynamoError::InternalServerError(_) => StoreError::Unavailable(described),
        DynamoError::ResourceNotFoundException(_)
        | DynamoError::TableNotFoundException(_)
        | DynamoError::IndexNotFoundException(_) => StoreError::NotFound(described),
        // Unmodelled here (and the exceptions of backup, export, import and global-table
        // calls, which the store never makes): by the error code.
        _ => by_code(err.code(), server_fault, described),
    }
}

/// An exception the operation does not model, by its machine error code.
fn by_code(code: Option<&str>, server_fault: bool, described: String) -> StoreError {
    match code {
        Some(
            "ThrottlingException"
            | "Throttling"
            | "ProvisionedThroughputExceededException"
            | "RequestLimitExceeded"
            | "TooManyRequestsException",
        ) => StoreError::Throttled(described),
        Some("InternalServerError" | "InternalFailure" | "ServiceUnavailable") => {
            StoreError::Unavailable(described)
        }
        Some(
            "AccessDeniedException"
            | "AccessDenied"
            | "UnrecognizedClientException"
            | "MissingAuthenticationToken"
            | "MissingAuthenticationTokenException"
            | "InvalidSignatureException"
            | "IncompleteSignature"
            | "IncompleteSignatureException"
            | "ExpiredToken"
            | "ExpiredTokenException"
            | "InvalidClientTokenId"
            | "SignatureDoesNotMatch"
            | "NotAuthorized",
        ) => StoreError::Denied(described),
        Some("ResourceNotFoundException") => StoreError::NotFound(described),
        Some("ConditionalCheckFailedException" | "TransactionConflictException") => {
            StoreError::Conflict(described)
        }
        // An unknown error from a server that failed is DynamoDB's fault: try again later.
        _ if server_fault => StoreError::Unavailable(described),
        // ValidationException, SerializationException and anything else DynamoDB refused.
        _ => StoreError::Invalid(described),
    }
}

/// A cancelled transaction, by its per-item reason codes: a refused request is not retried,
/// a failed condition or a conflicting transaction may be won by trying again, throttling
/// waits.
fn cancelled(reasons: &[CancellationReason], described: String) -> StoreError {
    let any = |codes: &[&str]| {
        reasons
            .iter()
            .any(|r| r.code().is_some_and(|c| codes.contains(&c)))
    };
    if any(&["ValidationError", "ItemCollectionSizeLimitExceeded"]) {
        StoreError::Invalid(described)
    } else if any(&["ConditionalCheckFailed", "TransactionConflict"]) {
        StoreError::Conflict(described)
    } else if any(&[
        "ThrottlingError",
        "ProvisionedThroughputExceeded",
        "RequestLimitExceeded",
    ]) {
        StoreError::Throttled(described)
    } else {
        // Cancelled for no reason DynamoDB named: treat it like a conflict, which a retry
        // may win and which is known not to have been applied.
        StoreError::Conflict(described)
    }
}

/// Errors of a write whose failed condition can carry the item it saw (asked for with
/// `ReturnValuesOnConditionCheckFailure::AllOld`).
pub(crate) trait FailedCondition {
    /// Whether the write's condition did not hold.
    fn failed_condition(&self) -> bool;
    /// The item the failed condition saw, if DynamoDB returned it.
    fn seen(self) -> Option<Item>;
}

macro_rules! failed_condition {
    ($($error:ident),+) => {$(
        impl FailedCondition for $error {
            fn failed_condition(&self) -> bool {
                self.is_conditional_check_failed_exception()
            }

            fn seen(self) -> Option<Item> {
                match self {
                    $error::ConditionalCheckFailedException(e) => e.item,
                    _ => None,
                }
            }
        }
    )+};
}

failed_condition!(PutItemError, UpdateItemError, DeleteItemError);

/// A conditional write's result: `Ok(Ok(output))` when it was applied, `Ok(Err(item))` when its
/// condition did not hold (with the item it saw, if returned), or the error.
pub(crate) fn condition<O, E>(
    result: Result<O, SdkError<E, HttpResponse>>,
) -> StoreResult<Result<O, Option<Item>>>
where
    E: FailedCondition + std::error::Error + Send + Sync + 'static,
    DynamoError: From<SdkError<E, HttpResponse>>,
{
    match result {
        Ok(output) => Ok(Ok(output)),
        Err(SdkError::ServiceError(service)) if service.err().failed_condition() => {
            Ok(Err(service.into_err().seen()))
        }
        Err(other) => Err(classify(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_dynamodb::error::{ConnectorError, ErrorMetadata};
    use aws_sdk_dynamodb::operation::get_item::GetItemError;
    use aws_sdk_dynamodb::operation::put_item::PutItemError;
    use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
    use aws_sdk_dynamodb::types::error::{
        ConditionalCheckFailedException, InternalServerError,
        ProvisionedThroughputExceededException, ResourceNotFoundException,
        TransactionCanceledException,
    };

    fn response(status: u16) -> HttpResponse {
        HttpResponse::new(status.try_into().expect("a status code"), "{}".into())
    }

    /// A GetItem that DynamoDB answered with an error this operation does not model.
    fn unmodelled(code: &str, status: u16) -> StoreError {
        let meta = ErrorMetadata::builder()
            .code(code)
            .message("text that must not matter")
            .build();
        classify(SdkError::service_error(
            GetItemError::generic(meta),
            response(status),
        ))
    }

    fn cancelled_with(codes: &[&str]) -> StoreError {
        let mut e = TransactionCanceledException::builder().message("Transaction cancelled");
        for code in codes {
            e = e.cancellation_reasons(CancellationReason::builder().code(*code).build());
        }
        classify(SdkError::service_error(
            TransactWriteItemsError::TransactionCanceledException(e.build()),
            response(400),
        ))
    }

    #[test]
    fn failures_before_an_answer_leave_the_outcome_unknown() {
        let timeout: SdkError<GetItemError, HttpResponse> =
            SdkError::timeout_error("attempt timeout");
        assert!(matches!(classify(timeout), StoreError::Unavailable(_)));
        let refused: SdkError<GetItemError, HttpResponse> = SdkError::dispatch_failure(
            ConnectorError::io(std::io::Error::from(std::io::ErrorKind::ConnectionRefused).into()),
        );
        assert!(matches!(classify(refused), StoreError::Unavailable(_)));
        let unreadable: SdkError<GetItemError, HttpResponse> =
            SdkError::response_error("truncated body", response(200));
        let unreadable = classify(unreadable);
        assert!(matches!(unreadable, StoreError::Unavailable(_)));
        assert!(!unreadable.outcome_known());
        let unbuilt: SdkError<GetItemError, HttpResponse> =
            SdkError::construction_failure("missing key");
        assert!(matches!(classify(unbuilt), StoreError::Invalid(_)));
    }

    #[test]
    fn modelled_exceptions_are_classified_by_type() {
        let throttled = GetItemError::ProvisionedThroughputExceededException(
            ProvisionedThroughputExceededException::builder().build(),
        );
        let throttled = classify(SdkError::service_error(throttled, response(400)));
        assert!(matches!(throttled, StoreError::Throttled(_)));
        assert!(throttled.outcome_known() && throttled.is_transient());

        let missing =
            GetItemError::ResourceNotFoundException(ResourceNotFoundException::builder().build());
        let missing = classify(SdkError::service_error(missing, response(400)));
        assert!(matches!(missing, StoreError::NotFound(_)));
        assert!(!missing.is_transient());

        let internal = GetItemError::InternalServerError(InternalServerError::builder().build());
        let internal = classify(SdkError::service_error(internal, response(500)));
        assert!(matches!(internal, StoreError::Unavailable(_)));

        let lost = PutItemError::ConditionalCheckFailedException(
            ConditionalCheckFailedException::builder().build(),
        );
        let lost = classify(SdkError::service_error(lost, response(400)));
        assert!(matches!(lost, StoreError::Conflict(_)));
        assert!(lost.outcome_known() && lost.is_transient());
    }

    #[test]
    fn unmodelled_exceptions_are_classified_by_their_code() {
        use std::mem::discriminant;
        use StoreError::{Denied, Invalid, Throttled, Unavailable};
        type Variant = fn(String) -> StoreError;
        let cases: [(&str, u16, Variant); 13] = [
            ("AccessDeniedException", 400, Denied),
            ("UnrecognizedClientException", 400, Denied),
            ("MissingAuthenticationToken", 403, Denied),
            ("InvalidSignatureException", 400, Denied),
            ("ExpiredTokenException", 400, Denied),
            ("ExpiredToken", 400, Denied),
            ("IncompleteSignature", 400, Denied),
            ("ValidationException", 400, Invalid),
            ("SerializationException", 400, Invalid),
            ("ServiceUnavailable", 503, Unavailable),
            ("ThrottlingException", 400, Throttled),
            ("SomethingNew", 502, Unavailable),
            ("SomethingNew", 400, Invalid),
        ];
        for (code, status, expected) in cases {
            let e = unmodelled(code, status);
            let expected = expected(String::new());
            assert_eq!(
                discriminant(&e),
                discriminant(&expected),
                "{code} {status}: {e:?}"
            );
        }
        let e = unmodelled("AccessDeniedException", 400);
        assert!(e.outcome_known() && !e.is_transient(), "a person must act");
    }

    #[test]
    fn the_message_is_kept_for_the_log_but_never_decides() {
        let meta = ErrorMetadata::builder()
            .code("AccessDeniedException")
            .message("ConditionalCheckFailed TransactionConflict ThrottlingException")
            .build();
        let e = classify(SdkError::service_error(
            GetItemError::generic(meta),
            response(400),
        ));
        assert_eq!(
            e,
            StoreError::Denied(
                "AccessDeniedException: ConditionalCheckFailed TransactionConflict ThrottlingException"
                    .into()
            )
        );
    }

    #[test]
    fn a_cancelled_transaction_is_classified_by_its_reason_codes() {
        let conflict = ["None", "TransactionConflict"];
        assert!(matches!(cancelled_with(&conflict), StoreError::Conflict(_)));
        let failed = ["ConditionalCheckFailed", "None"];
        assert!(matches!(cancelled_with(&failed), StoreError::Conflict(_)));
        let throttled = ["None", "ThrottlingError"];
        assert!(matches!(
            cancelled_with(&throttled),
            StoreError::Throttled(_)
        ));
        let invalid = ["ValidationError", "TransactionConflict"];
        assert!(matches!(cancelled_with(&invalid), StoreError::Invalid(_)));
    }
}
