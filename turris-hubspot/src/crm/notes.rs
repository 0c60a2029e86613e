//! Notes (`/crm/v3/objects/notes`), created associated to contacts and companies.
