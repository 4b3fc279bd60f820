//! Accounts ([`AccountStore`]): accounts by id and by each of their domains (a copy per
//! domain, so matching a lead is one batch read).

use std::collections::HashMap;

use async_trait::async_trait;

use super::attr::{applied, s};
use super::classify::classify;
use super::client::DynamoStore;
use super::items::{self, AccountItem, ContactItem, DomainItem};
use super::keys::{self, Key};
use crate::domain::account::Account;
use crate::store::{AccountLoad, AccountStore, Contact, StoreResult};

#[async_trait]
impl AccountStore for DynamoStore {
    async fn put_accounts(&self, accounts: &[Account]) -> StoreResult<AccountLoad> {
        let keys = accounts.iter().map(|a| Key::account(&a.id)).collect();
        let stored: HashMap<String, Account> = self
            .batch_get(keys, true)
            .await?
            .into_iter()
            // An account that cannot be read is written again.
            .filter_map(|item| items::decode::<AccountItem>(item).ok())
            .map(|item| (item.account.id.clone(), item.account))
            .collect();
        let mut report = AccountLoad {
            accounts: accounts.len(),
            ..AccountLoad::default()
        };
        let mut writes = Vec::new();
        for account in accounts {
            let before = stored.get(&account.id);
            if before == Some(account) {
                report.unchanged += 1;
                continue;
            }
            // Domains the account no longer lists stop matching it (unless another took them).
            for old in before.map(|b| b.domains.as_slice()).unwrap_or_default() {
                if account.domains.contains(old) {
                    continue;
                }
                let removed = self
                    .delete(&Key::domain(old))
                    .condition_expression("account_id = :id")
                    .expression_attribute_values(":id", s(&account.id))
                    .send()
                    .await;
                if applied(removed.map_err(classify))? {
                    report.domains_removed += 1;
                }
            }
            let item = AccountItem {
                account: account.clone(),
            };
            writes.push(items::encode(&Key::account(&account.id), &item)?);
            let owner = DomainItem {
                account_id: account.id.clone(),
                account: account.clone(),
            };
            for domain in &account.domains {
                writes.push(items::encode(&Key::domain(domain), &owner)?);
            }
            report.written += 1;
        }
        self.batch_put(writes).await?;
        Ok(report)
    }

    async fn accounts_and_contact(
        &self,
        domains: &[String],
        contact_key: Option<&str>,
    ) -> StoreResult<(HashMap<String, Account>, Option<Contact>)> {
        let mut keys: Vec<Key> = domains.iter().map(|d| Key::domain(d)).collect();
        keys.extend(contact_key.map(Key::contact));
        let (mut accounts, mut contact) = (HashMap::new(), None);
        if keys.is_empty() {
            return Ok((accounts, contact));
        }
        for item in self.batch_get(keys, false).await? {
            let domain =
                Key::of(&item).and_then(|key| keys::domain_of(&key.pk).map(str::to_string));
            match domain {
                Some(domain) => {
                    accounts.insert(domain, items::decode::<DomainItem>(item)?.account);
                }
                None => contact = Some(items::decode::<ContactItem>(item)?.contact()),
            }
        }
        Ok((accounts, contact))
    }

    async fn account(&self, id: &str) -> StoreResult<Option<Account>> {
        let item: Option<AccountItem> = self.read(&Key::account(id)).await?;
        Ok(item.map(|i| i.account))
    }
}
