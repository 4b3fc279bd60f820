//! Loading accounts (who the team already knows), audited under the loader's name.

use crate::domain::access::Actor;
use crate::domain::account::Account;
use crate::store::{AccountLoad, AuditAction, AuditEntry, StoreError, StoreResult};

use super::state::App;

impl App {
    /// Stores accounts idempotently, then records who loaded what. The load is batch writes,
    /// so its audit entry follows it; if that entry cannot be written, the answer says the
    /// outcome is not fully known (repeating the load is safe and records it).
    pub async fn load_accounts(
        &self,
        accounts: &[Account],
        actor: &Actor,
    ) -> StoreResult<AccountLoad> {
        let load = self.store.put_accounts(accounts).await?;
        let entry = AuditEntry::new(
            actor,
            self.now(),
            AuditAction::AccountsLoaded,
            None,
            format!(
                "loaded {} accounts: {} written, {} unchanged, {} domains removed",
                load.accounts, load.written, load.unchanged, load.domains_removed
            ),
        );
        if let Err(error) = self.store.record_audit(&entry).await {
            tracing::error!(%error, "accounts loaded, but their audit entry was not written");
            return Err(StoreError::Unavailable(format!(
                "the accounts were stored but the audit entry was not ({error}); repeating the load is safe"
            )));
        }
        Ok(load)
    }
}
