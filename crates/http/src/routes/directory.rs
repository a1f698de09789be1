//! `/api/v1/tenants/{tenant}/companies` and `…/contacts`: who texts the tenant.

use uuid::Uuid;

use super::resource::{Docs, Resource};
use crate::api::directory::{Company, CompanyInput, Contact, ContactPatch, NewContact};

/// The `companies` resource.
pub struct Companies;

/// The `contacts` resource.
pub struct Contacts;

impl Resource for Companies {
    const COLLECTION: &'static str = "companies";
    const KEY: (&'static str, Option<&'static str>) = ("id", None);
    const DOCS: Docs = Docs {
        create: "Adds a company.",
        list: "Lists the tenant's companies.",
        get: "Reads a company.",
        update: "Renames a company.",
        delete: "Deletes a company that no contact or provider names.",
    };
    const ROUTES: bool = false;

    type Key = Uuid;
    type New = CompanyInput;
    type Patch = CompanyInput;
    type Item = Company;

    super::resource::store_calls!(create_company, list_companies, get_company, update_company, delete_company);
}

impl Resource for Contacts {
    const COLLECTION: &'static str = "contacts";
    const KEY: (&'static str, Option<&'static str>) = ("id", None);
    const DOCS: Docs = Docs {
        create: "Adds a contact: a phone number, a name and optionally a company.",
        list: "Lists the tenant's contacts.",
        get: "Reads a contact.",
        update: "Changes a contact.",
        delete: "Deletes a contact; messages keep their history.",
    };
    const ROUTES: bool = false;

    type Key = Uuid;
    type New = NewContact;
    type Patch = ContactPatch;
    type Item = Contact;

    super::resource::store_calls!(create_contact, list_contacts, get_contact, update_contact, delete_contact);
}
