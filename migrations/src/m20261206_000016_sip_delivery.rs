//! SIP MESSAGE delivery: the tenant's PBX as a SIP server (where requests go, its domain, the
//! transport, and the gateway's digest credentials, the password sealed like provider secrets),
//! each extension's SIP user on it, and the extension a delivery job is for.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const TENANT_COLUMNS: [(&str, u32); 5] =
    [("sip_server", 255), ("sip_domain", 255), ("sip_transport", 8), ("sip_username", 128), ("sip_password_enc", 1024)];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (name, len) in TENANT_COLUMNS {
            m.alter_table(Table::alter().table("tenant").add_column(string_len_null(name, len)).to_owned()).await?;
        }
        m.alter_table(Table::alter().table("extension").add_column(string_len_null("sip_user", 64)).to_owned()).await?;
        // No reference: a deleted extension leaves its pending deliveries with nothing to do.
        m.alter_table(Table::alter().table("job").add_column(uuid_null("extension_id")).to_owned()).await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(Table::alter().table("job").drop_column("extension_id").to_owned()).await?;
        m.alter_table(Table::alter().table("extension").drop_column("sip_user").to_owned()).await?;
        for (name, _) in TENANT_COLUMNS.iter().rev() {
            m.alter_table(Table::alter().table("tenant").drop_column(*name).to_owned()).await?;
        }
        Ok(())
    }
}
