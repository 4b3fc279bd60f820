//! Why a storage call failed, as a type the caller can act on: whether a write's outcome is
//! known, whether trying again may help, and whether the deployment itself is at fault. Never
//! decided by reading an error's text.

/// Why a storage call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// No answer in time, the connection failed, the response could not be read, or DynamoDB
    /// had an internal error: for a write, whether it was applied is unknown.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// DynamoDB throttled the request past the SDK's own retries: not applied.
    #[error("storage throttled: {0}")]
    Throttled(String),
    /// A conditional check failed or a transaction conflicted (a lost race that a retry may
    /// win): not applied.
    #[error("write conflict: {0}")]
    Conflict(String),
    /// The credentials or the IAM policy do not allow the call: a deployment problem.
    #[error("storage access denied: {0}")]
    Denied(String),
    /// The table or index does not exist: a deployment problem.
    #[error("storage table or index not found: {0}")]
    NotFound(String),
    /// A stored item cannot be decoded into what it should be.
    #[error("stored item is corrupt: {0}")]
    Corrupt(String),
    /// DynamoDB rejected the request as malformed, or it could not be built: a bug.
    #[error("invalid storage request: {0}")]
    Invalid(String),
}

impl StoreError {
    /// Whether a failed write is known not to have been applied (everything but
    /// [`StoreError::Unavailable`], where the write may have landed before the answer was lost).
    pub fn outcome_known(&self) -> bool {
        !matches!(self, StoreError::Unavailable(_))
    }

    /// The kind, as metrics and logs name it.
    pub fn kind(&self) -> &'static str {
        match self {
            StoreError::Unavailable(_) => "unavailable",
            StoreError::Throttled(_) => "throttled",
            StoreError::Conflict(_) => "conflict",
            StoreError::Denied(_) => "denied",
            StoreError::NotFound(_) => "not_found",
            StoreError::Corrupt(_) => "corrupt",
            StoreError::Invalid(_) => "invalid",
        }
    }

    /// Whether the same call may succeed later (unavailable, throttled, conflict); the others
    /// need a person to fix something first.
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            StoreError::Unavailable(_) | StoreError::Throttled(_) | StoreError::Conflict(_)
        )
    }
}

/// Result of a storage call.
pub type StoreResult<T> = Result<T, StoreError>;

#[cfg(test)]
mod tests {
    use super::StoreError::*;

    #[test]
    fn only_an_unavailable_store_leaves_a_writes_outcome_unknown() {
        let all = [
            Unavailable(String::new()),
            Throttled(String::new()),
            Conflict(String::new()),
            Denied(String::new()),
            NotFound(String::new()),
            Corrupt(String::new()),
            Invalid(String::new()),
        ];
        let unknown: Vec<_> = all.iter().filter(|e| !e.outcome_known()).collect();
        assert_eq!(unknown, [&Unavailable(String::new())]);
        let transient: Vec<_> = all.iter().filter(|e| e.is_transient()).collect();
        assert_eq!(
            transient,
            [
                &Unavailable(String::new()),
                &Throttled(String::new()),
                &Conflict(String::new())
            ]
        );
    }
}
