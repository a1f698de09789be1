//! Accounts and their sessions: the people who sign in (operators, tenant admins, extension users)
//! and each browser or client they signed in from.
//!
//! - `account.email` is unique across Switchboard (stored in lower case): one person, one sign-in.
//!   An operator has no tenant; a tenant admin has one; an extension user has one and names one of
//!   its extensions (a plain reference: an extension with a user is not deleted under it).
//!   `password_hash` is an argon2id PHC string, empty until an invited user chooses a password
//!   with the invitation's one-time token, kept as its SHA-256 (`invite_hash`) until it is used or
//!   `invite_expires_at` passes.
//! - `account_session.secret_hash` is the SHA-256 of the session's secret (the cookie), so the
//!   table alone opens nothing. A session ends when it expires, is revoked, or its account is
//!   disabled; every request checks, so an end is effective at once on every instance.
//! - An account's second factor: its TOTP secret sealed like provider secrets (`totp_secret_enc`;
//!   `totp_pending_enc` while it is being set up), the last time step accepted (a code is good
//!   once), and the SHA-256 of each unused recovery code. `tenant.require_totp` makes it a rule for
//!   the tenant's people.
//! - `api_key` holds a tenant's keys for machines: the SHA-256 of the key (unique), the first
//!   characters to recognise it by, its scopes (comma-separated), its last use; a revoked key keeps
//!   its row, so the list still shows what it was.
//! - `audit_entry` records every write made with a credential: who (account, key or CLI token), with
//!   which credential, from where, the route and its answer, and the body with secrets redacted. It
//!   has no reference to `tenant`, so a deleted tenant's history stays for operators.
//! - `sign_in_failure` counts refused sign-ins per account (the SHA-256 of the email as typed,
//!   lower case, so a password typed into the email field is not kept) and per source address, in
//!   the database, so the throttle holds across instances. Rows older than the window are deleted
//!   as new ones are written, so the table holds one window's failures at most.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("tenant").add_column(boolean("require_totp").default(false)).to_owned())
            .await?;
        m.create_table(
            Table::create()
                .table("account")
                .col(pk_uuid("id"))
                .col(uuid_null("tenant_id"))
                .col(string_len("email", 254))
                .col(string_len("name", 100))
                .col(string_len("role", 16))
                .col(uuid_null("extension_id"))
                .col(string_len_null("password_hash", 255))
                .col(timestamp_with_time_zone_null("password_changed_at"))
                .col(timestamp_with_time_zone_null("disabled_at"))
                .col(string_len_null("invite_hash", 64))
                .col(timestamp_with_time_zone_null("invite_expires_at"))
                .col(text_null("totp_secret_enc"))
                .col(text_null("totp_pending_enc"))
                .col(big_integer_null("totp_last_step"))
                .col(json_binary_null("recovery_codes"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_account_tenant_id")
                        .from("account", "tenant_id")
                        .to("tenant", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_account_extension_id")
                        .from("account", "extension_id")
                        .to("extension", "id")
                        .on_delete(ForeignKeyAction::NoAction),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("ux_account_email").table("account").col("email").unique().to_owned())
            .await?;
        m.create_index(
            Index::create().name("ux_account_invite").table("account").col("invite_hash").unique().to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("ix_account_tenant").table("account").col("tenant_id").to_owned()).await?;
        m.create_index(Index::create().name("ix_account_extension").table("account").col("extension_id").to_owned())
            .await?;

        m.create_table(
            Table::create()
                .table("account_session")
                .col(pk_uuid("id"))
                .col(uuid("account_id"))
                .col(string_len("secret_hash", 64))
                .col(string_len_null("user_agent", 200))
                .col(string_len_null("address", 64))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("last_seen_at"))
                .col(timestamp_with_time_zone("expires_at"))
                .col(timestamp_with_time_zone_null("revoked_at"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_account_session_account_id")
                        .from("account_session", "account_id")
                        .to("account", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ux_account_session_secret")
                .table("account_session")
                .col("secret_hash")
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("ix_account_session_account").table("account_session").col("account_id").to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("api_key")
                .col(pk_uuid("id"))
                .col(uuid("tenant_id"))
                .col(string_len("name", 100))
                .col(string_len("prefix", 16))
                .col(string_len("secret_hash", 64))
                .col(string_len("scopes", 64))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .col(timestamp_with_time_zone_null("last_used_at"))
                .col(timestamp_with_time_zone_null("revoked_at"))
                .foreign_key(
                    ForeignKey::create()
                        .name("fk_api_key_tenant_id")
                        .from("api_key", "tenant_id")
                        .to("tenant", "id")
                        .on_delete(ForeignKeyAction::Cascade),
                )
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("ux_api_key_secret").table("api_key").col("secret_hash").unique().to_owned(),
        )
        .await?;
        m.create_index(Index::create().name("ix_api_key_tenant").table("api_key").col("tenant_id").to_owned()).await?;

        m.create_table(
            Table::create()
                .table("audit_entry")
                .col(pk_uuid("id"))
                .col(uuid_null("tenant_id"))
                .col(string_len_null("tenant_slug", 63))
                .col(timestamp_with_time_zone("at"))
                .col(string_len("actor", 100))
                .col(string_len_null("credential", 60))
                .col(string_len_null("address", 64))
                .col(string_len("method", 8))
                .col(string_len("route", 200))
                .col(string_len("path", 500))
                .col(integer("status"))
                .col(json_binary_null("changes"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create().name("ix_audit_entry_tenant").table("audit_entry").col("tenant_id").col("id").to_owned(),
        )
        .await?;

        m.create_table(
            Table::create()
                .table("sign_in_failure")
                .col(pk_uuid("id"))
                .col(string_len("kind", 8))
                .col(string_len("key", 64))
                .col(timestamp_with_time_zone("at"))
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("ix_sign_in_failure_key")
                .table("sign_in_failure")
                .col("kind")
                .col("key")
                .col("at")
                .to_owned(),
        )
        .await?;
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_table(Table::drop().table("sign_in_failure").to_owned()).await?;
        m.drop_table(Table::drop().table("api_key").to_owned()).await?;
        m.drop_table(Table::drop().table("audit_entry").to_owned()).await?;
        m.drop_table(Table::drop().table("account_session").to_owned()).await?;
        m.drop_table(Table::drop().table("account").to_owned()).await?;
        m.alter_table(Table::alter().table("tenant").drop_column("require_totp").to_owned()).await?;
        Ok(())
    }
}
